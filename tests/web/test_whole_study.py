"""One new user's whole study in real Chromium, through the page only (the test makes no HTTP call
of its own): create a project; drop a .txt, a .docx with a table, a .pdf and a .vtt; run
suggestions and watch the job's progress; review 10 with the keyboard; code two spans by
selection (one overlapping a coding from review) and undo one; add a second coder, who reviews in
a second browser context; see agreement with n and intervals; export the .qdpx and import it as a
new project from the page, where both coders' spans are found again.

Screenshots of each step go to the test's tmp dir, or to LOUPE_SCREENSHOT_DIR (printed either way);
LOUPE_UPDATE_SCREENSHOT=1 also copies the review step to docs/review-page.png, the README's screenshot."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

from tests.web.study_files import all_files

README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "review-page.png"
MIME = {"txt": "text/plain", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "pdf": "application/pdf", "vtt": "text/vtt"}

DROP = """(files) => {
  const dt = new DataTransfer();
  for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
  return dt;
}"""
# Select [start, end) of the document's text in #doc-text, as a mouse drag would.
SELECT = """([start, end]) => {
  const w = document.createTreeWalker(document.getElementById("doc-text"), NodeFilter.SHOW_TEXT);
  let n = 0, a = null, b = null;
  for (let t = w.nextNode(); t; t = w.nextNode()) {
    if (!a && start < n + t.data.length) a = [t, start - n];
    if (!b && end <= n + t.data.length) b = [t, end - n];
    n += t.data.length;
  }
  const r = document.createRange(); r.setStart(...a); r.setEnd(...b);
  getSelection().removeAllRanges(); getSelection().addRange(r);
}"""
# The text offsets of the first coded span ([start, end]) and of the first long uncoded stretch.
LAYOUT = """() => {
  const w = document.createTreeWalker(document.getElementById("doc-text"), NodeFilter.SHOW_TEXT);
  let n = 0, coded = null, free = null;
  for (let t = w.nextNode(); t; t = w.nextNode()) {
    const inCoded = !!t.parentElement.closest(".coded");
    if (inCoded && !coded) coded = [n, n + t.data.length];
    if (!inCoded && !free && t.data.trim().length > 80 && n > 0) free = [n, n + t.data.length];
    n += t.data.length;
  }
  return { coded, free, length: n };
}"""


class Shots:
    def __init__(self, folder: Path) -> None:
        self.folder, self.n = folder, 0
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, page, name: str, full: bool = False) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full)
        assert path.stat().st_size > 5_000
        return path


def _review(page, keys: str) -> None:
    page.get_by_role("button", name="Accept (A)").wait_for()
    for k, key in enumerate(keys):
        page.locator("#card .hint").first.filter(has_text=f"Item {k + 1} of").wait_for()
        page.keyboard.press(key)
        page.locator("#card .hint").first.filter(has_text=f"Item {k + 2} of").wait_for()


def _open_document(page, name: str) -> None:
    value = page.locator("#doc-select option", has_text=name).first.get_attribute("value")
    page.select_option("#doc-select", value)
    page.locator(f'#doc-text[data-doc="{value}"]').wait_for()


def _code_selection(page, start: int, end: int, search: str, memo: str = "") -> None:
    if memo:
        page.fill("#selection-memo", memo)
    drawn = page.locator("#doc-text").get_attribute("data-drawn")
    page.focus("#doc-text")
    page.evaluate(SELECT, [start, end])
    page.get_by_text(f"{end - start} characters selected").wait_for()
    page.keyboard.press("c")
    page.locator("#picker-search").wait_for()
    page.keyboard.type(search)
    page.keyboard.press("Enter")
    page.get_by_text(f"Coded {end - start} characters as").wait_for()
    page.wait_for_function(f'document.getElementById("doc-text").dataset.drawn !== "{drawn}"')


def _span_dialog(page, at: int) -> str:
    """Click the coded piece that starts at `at` (or covers it) and read the dialog."""
    starts = sorted(int(s) for s in page.eval_on_selector_all("#doc-text .coded", "els => els.map(e => e.dataset.start)"))
    first = max(s for s in starts if s <= at)
    page.locator(f'#doc-text .coded[data-start="{first}"]').first.click()
    page.locator("#span-info").wait_for()
    return page.locator("#span-info").inner_text()


def test_a_whole_study_from_the_page(browser, make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "data").start()
    shots = Shots(Path(os.environ.get("LOUPE_SCREENSHOT_DIR") or tmp_path / "screenshots"))
    print(f"\nscreenshots: {shots.folder}")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((server.url, "data:", "blob:")) else outside.append(r.url))

    # 1. create a project: the owner is signed in, their token shown once
    page.goto(server.url + "/")
    assert not page.locator("#nav").is_visible()  # no nav before sign-in
    shots.take(page, "start")
    page.get_by_label("Project name", exact=True).fill("Cross-sector study")
    page.get_by_label("Description").fill("Interviews and notes on NHS and voluntary sector partnerships.")
    page.locator("#new-owner").fill("amira")
    page.get_by_role("button", name="Create the project").click()
    page.get_by_text("Your token for “Cross-sector study”").wait_for()
    assert len(page.locator("#fresh-token .secret").inner_text()) > 20
    assert page.locator("#nav").is_visible() and "amira (owner)" in page.locator("#who").inner_text()
    shots.take(page, "project-created")

    # 2. four files dropped at once, each with its own progress and result
    files = all_files()
    dt = page.evaluate_handle(DROP, [{"name": n, "type": MIME[n.rsplit(".", 1)[1]], "b64": base64.b64encode(b).decode()} for n, b in files.items()])
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": dt})
    for name in files:
        row = page.locator(".upload-row", has_text=name)
        row.locator(".upload-state", has_text="stored").wait_for(timeout=60_000)
    assert page.locator(".upload-row progress").count() == 4
    page.locator("#doc-list tr", has_text="meeting-notes.pdf").wait_for()
    _open_document(page, "partnership-review.docx")
    assert "North\t12\tShort funding cycles" in page.locator("#doc-text").inner_text() or "North | 12" in page.locator("#doc-text").inner_text()
    _open_document(page, "focus-group.vtt")
    assert page.locator("#doc-text .where").count() >= 3  # caption times shown on the segments
    _open_document(page, "meeting-notes.pdf")
    assert page.locator('#doc-text .where[data-where*="p. 2"]').count() >= 1  # page numbers kept
    shots.take(page, "documents-uploaded")

    # 3. run suggestions and watch the job's progress
    page.get_by_role("button", name="Project", exact=True).click()
    page.get_by_role("button", name="Run suggestions").click()
    seen = set()
    job = page.locator("#job-list li").first
    job.wait_for()
    for _ in range(600):
        text = job.inner_text()
        seen.add(text.split("·")[1].strip() if "·" in text else text)
        if "done" in text or "failed" in text:
            break
        page.wait_for_timeout(200)
    assert "done" in job.inner_text(), job.inner_text()
    assert "segments" in job.inner_text() or "suggestions" in job.inner_text()
    shots.take(page, "suggestions-done")
    page.get_by_role("button", name="Find clusters").click()
    clustering = page.locator("#job-list li", has_text="Clustering")
    clustering.filter(has_text="done").or_(clustering.filter(has_text="Failed")).first.wait_for(timeout=120_000)
    clustered = "done" in clustering.first.inner_text()

    # 4. review 10 with the keyboard
    page.get_by_role("button", name="Review").click()
    _review(page, "aaraaraaaa")
    page.get_by_text("10 reviewed").wait_for()
    page.keyboard.press("p")
    page.get_by_text("Your decision: accept").wait_for()
    shot = shots.take(page, "review-1280x800")
    if os.environ.get("LOUPE_UPDATE_SCREENSHOT"):
        shutil.copy(shot, README_SCREENSHOT)
    for width, height in ((1280, 800), (1440, 900)):  # the card and its buttons without scrolling
        page.set_viewport_size({"width": width, "height": height})
        for name in ("Accept (A)", "Reject (R)", "Next (N)"):
            box = page.get_by_role("button", name=name).bounding_box()
            assert box and box["y"] + box["height"] <= height, (width, name, box)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shots.take(page, "review-1440x900")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the card comes before the document
    accept = page.get_by_role("button", name="Accept (A)").bounding_box()
    assert accept and accept["y"] + accept["height"] <= 844
    assert page.locator("#card").bounding_box()["y"] < page.locator("#context").bounding_box()["y"]
    shots.take(page, "review-390x844")
    page.set_viewport_size({"width": 1280, "height": 800})

    # 5. code two spans by selection: one overlapping a coding from review, one elsewhere; undo one
    page.get_by_role("button", name="Documents").click()
    spans = None
    for name in files:
        _open_document(page, name)
        spans = page.evaluate(LAYOUT)
        if spans["coded"] and spans["free"]:
            break
    assert spans and spans["coded"] and spans["free"], "review coded no passage next to uncoded text"
    a0, a1 = spans["coded"]
    first = (a0 + (a1 - a0) // 2, min(a1 + 40, spans["length"]))  # starts inside the coded passage
    _code_selection(page, *first, search="Power through funding", memo="Money as leverage")
    text = _span_dialog(page, first[0])
    assert "power/funding" in text and "by amira" in text and "Memo: Money as leverage" in text and f"characters {first[0]}–{first[1]}" in text
    assert text.count(" by ") >= 2  # the review's coding and the selection, stacked
    shots.take(page, "span-details")
    page.get_by_role("button", name="Close").click()
    f0, f1 = page.evaluate(LAYOUT)["free"]  # uncoded text, after the first coding too
    second = (f0 + 5, min(f0 + 60, f1))
    _code_selection(page, *second, search="Personal trust")
    _span_dialog(page, second[0])
    drawn = page.locator("#doc-text").get_attribute("data-drawn")
    page.get_by_role("button", name="Undo my coding: trust/personal").click()  # undo your own
    page.get_by_text("Undone: trust/personal").wait_for()
    page.wait_for_function(f'document.getElementById("doc-text").dataset.drawn !== "{drawn}"')
    assert page.locator(f'#doc-text .coded[data-start="{second[0]}"]').count() == 0
    _code_selection(page, *second, search="Personal trust")
    assert page.locator("#doc-text .coded").count() >= 2
    shots.take(page, "coded-by-selection")
    page.set_viewport_size({"width": 390, "height": 844})  # the documents on a phone: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shots.take(page, "documents-390x844")
    page.set_viewport_size({"width": 1280, "height": 800})

    # 6. a second coder, who reviews in a second browser context
    page.get_by_role("button", name="Project", exact=True).click()
    page.get_by_label("Add a coder: name").fill("ben")
    page.get_by_role("button", name="Add the coder").click()
    token = page.locator("#coder-token .secret").inner_text().strip()
    page.locator("#coder-list td", has_text="ben").wait_for()
    assert len(token) > 20
    shots.take(page, "coder-added")
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    page2 = other.new_page()
    page2.on("pageerror", lambda e: errors.append(str(e)))
    page2.goto(server.url + "/")
    page2.get_by_label("Your coder token").fill(token)
    page2.keyboard.press("Enter")
    _review(page2, "araaaraaaa")
    page2.get_by_text("10 reviewed").wait_for()
    assert "ben (coder)" in page2.locator("#who").inner_text()
    shots.take(page2, "second-coder-review")
    other.close()

    # 7. agreement with n and intervals (a flag where n < 20)
    page.get_by_role("button", name="Dashboard").click()
    table = page.locator("#dash-agreement table")
    table.wait_for()
    cells = table.inner_text()
    assert "n=" in cells and "[" in cells and "small n" in cells, cells
    page.locator("#dash-codes img.chart").wait_for()  # the server's bar chart and heatmap
    page.locator("#dash-cooc img.chart").wait_for()
    if clustered:  # the map and the clusters under the API's ids
        page.locator("#dash-clusters img.map").wait_for()
        assert page.locator("#dash-clusters td", has_text="#").count() >= 1 or "found no clusters" in page.locator("#dash-clusters").inner_text()
    shots.take(page, "dashboard", full=True)

    # 8. exports and the report; then the .qdpx, imported as a new project, with both coders' spans
    page.get_by_role("button", name="Project", exact=True).click()
    page.select_option("#export-codings-format", "parquet")
    with page.expect_download() as download:
        page.get_by_role("button", name="Codings", exact=True).click()
    codings = tmp_path / download.value.suggested_filename
    download.value.save_as(codings)
    import pyarrow.parquet as pq

    table = pq.read_table(codings).to_pylist()
    assert codings.suffix == ".parquet" and {r["coder"] for r in table} == {"amira", "ben"}
    assert any((r["start"], r["end"]) == first and r["code"] == "power/funding" for r in table)
    with page.expect_download() as download:
        page.get_by_role("button", name="Decision ledger").click()
    ledger = tmp_path / "ledger.csv"
    download.value.save_as(ledger)
    assert len(ledger.read_text(encoding="utf-8").splitlines()) == 1 + 10 + 4 + 10  # header, amira's review, 3 codings and an undo, ben's review
    with context.expect_page() as popup:
        page.get_by_role("button", name="HTML report").click()
    report = popup.value
    report.wait_for_load_state()
    report.get_by_text("Agreement").first.wait_for()
    report.close()
    with page.expect_download() as download:
        page.get_by_role("button", name="Project (.qdpx)").click()
    archive = tmp_path / "study.qdpx"
    download.value.save_as(archive)
    assert archive.stat().st_size > 1000
    page.select_option("#project-select", "new")
    page.set_input_files("#import-file", str(archive))
    page.get_by_label("Project name (default: the file's)").fill("Study, re-imported")
    page.locator("#import-owner").fill("reader")
    page.get_by_role("button", name="Import as a new project").click()
    page.get_by_text("Your token for “Study, re-imported”").wait_for(timeout=60_000)
    assert page.locator("#project-select option").count() == 3  # two projects and "New or other project…"
    _open_document(page, name)
    text = _span_dialog(page, first[0])
    # the same selection, by the same coder, with its memo (a code's id is rebuilt from its name on import)
    assert f"funding by amira · characters {first[0]}–{first[1]}" in text and "Memo: Money as leverage" in text, text
    page.get_by_role("button", name="Close").click()
    coders = page.locator("#doc-coder").inner_text()
    assert "amira" in coders and "ben" in coders
    page.select_option("#doc-coder", "ben")
    page.wait_for_function('document.querySelectorAll("#doc-text .coded").length > 0 || true')
    found_ben = False
    for doc_name in files:
        _open_document(page, doc_name)
        if page.locator("#doc-text .coded").count():
            found_ben = True
            break
    assert found_ben, "none of ben's codings came back from the .qdpx"
    shots.take(page, "reimported")

    assert errors == [] and outside == [], (errors, outside)
    context.close()
