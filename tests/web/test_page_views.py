"""The page's set-up views in real Chromium, through the page only: a server with an admin token
(the page asks for it), per-file upload results (a malformed CSV refused with its line), a
document renamed and deleted (the owner confirms), a failed job's message, and the codebook
edited, extended, moved, merged, split and replaced by an uploaded file, each a new version."""

from __future__ import annotations

import base64

DROP = """(files) => {
  const dt = new DataTransfer();
  for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
  return dt;
}"""
BOOK = """name: Uploaded codebook
codes:
  - id: care
    name: Care
    definition: Looking after people, paid or unpaid.
    children:
      - id: informal
        name: Informal care
        definition: Care by family, friends and neighbours.
"""


def _drop(page, files: dict[str, bytes]) -> None:
    dt = page.evaluate_handle(DROP, [{"name": n, "type": "text/plain", "b64": base64.b64encode(b).decode()} for n, b in files.items()])
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": dt})


def _version(page, n: int) -> None:
    page.locator("#book-title", has_text=f"version {n}").wait_for()


def test_admin_token_uploads_documents_and_codebook(browser, make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "data", LOUPE_ADMIN_TOKEN="s3cret-admin-token").start()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")

    # the server has an admin token: the page asks for it, refuses a wrong one, takes the right one
    page.get_by_label("Project name", exact=True).fill("Guarded study")
    page.locator("#new-owner").fill("nadia")
    page.get_by_role("button", name="Create the project").click()
    page.get_by_text("asks for its admin token").wait_for()
    page.get_by_label("Server admin token").fill("wrong")
    page.get_by_role("button", name="Create the project").click()
    page.get_by_text("That admin token is not valid").wait_for()
    page.get_by_label("Server admin token").fill("s3cret-admin-token")
    page.get_by_role("button", name="Create the project").click()
    page.get_by_text("Your token for “Guarded study”").wait_for()

    # several files at once: each reports its own result; a malformed CSV is refused with its line
    text = "Interviewer: How did it start?\nP1: We trusted the board at first, then the money decided everything.\n"
    bad_csv = 'id,text\n1,"fine row"\n2,"this quote never ends\n3,another\n'
    survey = "respondent,sector,answer\nr1,NHS,We trusted the board.\nr2,charity,The money decided everything.\n"
    _drop(page, {"first.txt": text.encode(), "answers.csv": bad_csv.encode(), "survey.csv": survey.encode()})
    page.get_by_label("Text column").wait_for()  # a table's columns are picked first, from the server's guesses
    assert page.get_by_label("Text column").input_value() == "answer"
    assert page.get_by_label("Id column (names each row)").input_value() == "respondent"
    page.get_by_role("button", name="Upload with these columns").click()
    page.locator(".upload-row", has_text="first.txt").locator(".upload-state", has_text="stored").wait_for()
    page.locator(".upload-row", has_text="survey.csv").locator(".upload-state", has_text="stored: 2 documents").wait_for()
    refused = page.locator(".upload-row", has_text="answers.csv").locator(".upload-state", has_text="refused")
    refused.wait_for()
    assert "line" in refused.inner_text(), refused.inner_text()
    page.locator("#doc-list", has_text="r2").wait_for()

    # rename (a prompt) and delete (the owner confirms)
    page.once("dialog", lambda d: d.accept("interview-1.txt"))
    page.get_by_role("button", name="Rename first.txt").click()
    page.locator("#doc-list", has_text="interview-1.txt").wait_for()
    page.get_by_role("button", name="Delete interview-1.txt").click()
    page.get_by_text("Delete “interview-1.txt”?").wait_for()
    page.get_by_role("button", name="Cancel").click()
    assert page.locator("#doc-list", has_text="interview-1.txt").count() == 1
    page.get_by_role("button", name="Delete interview-1.txt").click()
    page.get_by_role("button", name="Delete the document").click()
    page.get_by_text("Deleted “interview-1.txt”").wait_for()
    page.locator("#doc-list", has_text="2 documents").wait_for()
    assert page.locator("#doc-list", has_text="interview-1.txt").count() == 0

    # a job that fails says why, in words (two segments are too few to cluster)
    page.get_by_role("button", name="Project", exact=True).click()
    page.get_by_role("button", name="Find clusters").click()
    failed = page.locator("#job-list li.failed [role=alert]")
    failed.wait_for(timeout=60_000)
    assert "clustering needs at least 3 segments" in failed.inner_text(), failed.inner_text()

    # the dashboard's frequency chart splits by a document attribute (the CSV's other column)
    page.get_by_role("button", name="Dashboard").click()
    page.get_by_label("Split each bar by").select_option(label="sector")
    page.locator("#dash-codes img.chart[alt$='by document:sector'], #dash-codes p").first.wait_for()

    # the codebook: edit, add, move, merge, split, upload: each a new version
    page.get_by_role("button", name="Codebook", exact=True).click()
    _version(page, 1)
    page.locator("#book-tree").get_by_role("button", name="Trust trust", exact=True).click()
    page.get_by_label("Definition").first.fill("Confidence that another party will act in good faith.")
    page.get_by_role("button", name="Save as a new version").click()
    _version(page, 2)
    assert "good faith" in page.locator("#book-detail").inner_text()
    page.locator("#add-name").fill("Reciprocity")
    page.locator("#add-definition").fill("Give and take between partners.")
    page.select_option("#add-parent", "trust")
    page.get_by_role("button", name="Add", exact=True).click()
    _version(page, 3)
    page.locator("#book-tree", has_text="trust/reciprocity").wait_for()
    page.select_option("#move-parent", "power")
    page.get_by_role("button", name="Move", exact=True).click()
    _version(page, 4)
    page.locator("#book-tree", has_text="power/reciprocity").wait_for()
    page.select_option("#merge-codes", ["power/balance", "power/reciprocity"])
    page.locator("#merge-name").fill("Balance and exchange")
    page.get_by_role("button", name="Merge", exact=True).click()
    _version(page, 5)
    page.locator("#book-tree", has_text="Balance and exchange").wait_for()
    page.locator("#book-tree").get_by_role("button", name="Control control", exact=True).click()
    page.locator("#split-names").fill("Formal control\nInformal control")
    page.get_by_role("button", name="Split", exact=True).click()
    _version(page, 6)
    page.locator("#book-tree", has_text="Informal control").wait_for()
    book = tmp_path / "book.yaml"
    book.write_text(BOOK, encoding="utf-8")
    page.set_input_files("#book-file", str(book))
    page.get_by_role("button", name="Upload", exact=True).click()
    _version(page, 7)
    assert "Uploaded codebook" in page.locator("#book-title").inner_text()
    tree = page.locator("#book-tree").inner_text()
    assert "care/informal" in tree and "Trust" not in tree, tree
    assert errors == []
    page.close()
