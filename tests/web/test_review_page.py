"""The review page in a real headless Chromium (Debian's, driven by Playwright) against a real
server: sign in, review 10 suggestions with the keyboard only, undo one, and check through the
API that the ledger holds exactly that; then blind mode with two coders; then the page at a
narrow width and its accessible names."""

from __future__ import annotations

import json

from tests.api.conftest import TRANSCRIPTS, Api, new_project, wait_for_job

# The README's screenshot is taken by the whole-study test (tests/web/test_whole_study.py).


def _project(server_url: str, **options) -> tuple[int, Api]:  # type: ignore[no-untyped-def]
    pid, owner = new_project(server_url, retrain_every=0, threshold=0.3, **options)
    for path in TRANSCRIPTS[:2]:
        with open(path, "rb") as f:
            owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (path.name, f)})
    job = wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})["id"])
    assert job["status"] == "done", job["error"]
    return pid, owner


def _sign_in(page, url: str, token: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/")
    page.get_by_label("Your coder token").fill(token)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Accept (A)").wait_for()


def _item(page) -> str:  # type: ignore[no-untyped-def]
    return page.locator("#card .hint").first.inner_text()


def test_review_ten_suggestions_with_the_keyboard_and_undo_one(browser, make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "page").start()
    pid, owner = _project(server.url)
    expected_queue = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 12})["items"]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _sign_in(page, server.url, owner.headers["Authorization"].split()[1])

    keys = ["a", "a", "r", "a", "c", "a", "r", "a", "a", "a"]  # c: another code, chosen in the picker
    for k, key in enumerate(keys):
        assert _item(page).startswith(f"Item {k + 1} of")
        if key == "c":
            page.keyboard.press("c")
            page.locator("#picker-search").wait_for()
            page.keyboard.type("organisational")
            page.keyboard.press("Enter")
        else:
            page.keyboard.press(key)
        page.get_by_text(f"Item {k + 2} of").first.wait_for()
    page.keyboard.press("u")  # undo the tenth
    page.get_by_text("Undone: decision").wait_for()
    assert _item(page).startswith("Item 10 of")
    page.get_by_text("9 reviewed").wait_for()
    page.keyboard.press("p")  # back to the ninth, which shows the decision made
    page.get_by_text("Your decision: accept").wait_for()
    shot = tmp_path / "review-page.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000

    ledger = owner.ok("GET", f"/projects/{pid}/decisions", params={"limit": 100})
    assert len(ledger) == 11  # ten decisions and one undo, nothing else
    made, undo = ledger[:10], ledger[10]
    verdicts = {"a": "accept", "r": "reject", "c": "replace"}
    for entry, key, item in zip(made, keys, expected_queue, strict=False):
        suggestion = item["suggestion"]
        if key == "c" and suggestion["code"] == "trust/organisational":
            assert entry["verdict"] == "accept"
        else:
            assert entry["verdict"] == verdicts[key]
        assert entry["suggestion_id"] == suggestion["id"] and entry["suggested_score"] == suggestion["score"]
        if entry["verdict"] == "replace":
            assert entry["new_code"] == "trust/organisational"
    assert undo["verdict"] == "undo" and undo["undoes_id"] == made[9]["id"]
    coded = [json.loads(line) for line in owner.ok("GET", f"/projects/{pid}/export/codings", params={"format": "jsonl"}).splitlines()]
    applied = {(c["segment_id"], c["code"]) for c in coded if c.get("value", 1) == 1}  # value 0: decided "no" (or undone)
    undone = (made[9]["segment_id"], made[9]["code"])
    assert (undone in applied) == any((e["segment_id"], e["code"]) == undone and e["verdict"] == "accept" for e in made[:9])
    assert all(((e["segment_id"], e["code"]) in applied) for e in made[:9] if e["verdict"] == "accept")

    # the document view shows the codings as coloured spans, filterable by code
    page.get_by_role("button", name="Documents").click()
    page.locator("#doc-text .coded").first.wait_for()
    assert page.locator("#doc-text").inner_text().startswith(open(TRANSCRIPTS[0], encoding="utf-8").read()[:40])
    page.select_option("#doc-code", "power")
    page.get_by_role("button", name="Dashboard").click()
    page.get_by_text("Code frequencies").wait_for()
    page.locator("#dash-codes img.chart").wait_for()  # the frequency chart (its table folded under it)
    assert page.locator("#dash-codes details table").count() == 1
    page.locator("#dash-agreement table").wait_for()
    page.get_by_text("No clustering run yet").wait_for()
    assert errors == []
    page.close()


def test_blind_mode_with_two_coders(browser, make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "blind").start()
    pid, owner = _project(server.url, blind=True)
    tokens = {who: owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": who})["token"] for who in ("ben", "cat")}
    for who, key in (("ben", "a"), ("cat", "r")):
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        _sign_in(page, server.url, tokens[who])
        assert "blind mode" in page.locator("#who").inner_text()
        for k in range(3):
            page.keyboard.press(key)
            page.get_by_text(f"Item {k + 2} of").first.wait_for()
        page.get_by_text("3 reviewed").wait_for()
        page.get_by_role("button", name="Dashboard").click()
        page.get_by_text("Hidden in blind mode: only the project owner sees agreement").wait_for()
        page.get_by_text("Hidden in blind mode: clusters count every coder's codings").wait_for()
        page.close()
    for who, verdict in (("ben", "accept"), ("cat", "reject")):
        mine = Api(server.url, tokens[who]).ok("GET", f"/projects/{pid}/decisions", params={"limit": 100})
        assert [e["verdict"] for e in mine] == [verdict] * 3
    everything = owner.ok("GET", f"/projects/{pid}/decisions", params={"limit": 100})
    assert len(everything) == 6
    # both saw the same top of the queue: the blind double-coding the agreement rests on
    by = {}
    for e in everything:
        by.setdefault(e["coder_id"], []).append(e["suggestion_id"])
    assert len({tuple(v) for v in by.values()}) == 1


def test_narrow_screen_and_accessible_names(browser, make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "narrow").start()
    pid, owner = _project(server.url)
    page = browser.new_page(viewport={"width": 390, "height": 800})
    _sign_in(page, server.url, owner.headers["Authorization"].split()[1])
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    unnamed = page.evaluate("""() => [...document.querySelectorAll('button, input, select, textarea')]
        .filter(e => e.offsetParent !== null)
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
        .map(e => e.outerHTML)""")
    assert unnamed == []
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent || document.activeElement.id")
    assert focused
    page.locator("body").click(position={"x": 5, "y": 300})

    # a memo goes with the next decision; bulk accept shows a preview before it stores anything
    page.keyboard.press("m")
    page.locator("#memo-text").wait_for()
    page.keyboard.type("Clear case: names a person.")
    page.keyboard.press("Control+Enter")
    page.get_by_text("Memo attached").wait_for()
    page.keyboard.press("a")
    page.get_by_text("Saved: accept").wait_for()
    first = owner.ok("GET", f"/projects/{pid}/decisions", params={"limit": 10})
    assert [(e["verdict"], e["memo"]) for e in first] == [("accept", "Clear case: names a person.")]
    page.keyboard.press("b")
    page.locator("#bulk-code").wait_for()
    code = page.locator("#bulk-code").input_value()
    assert page.get_by_role("button", name="Accept these").is_disabled()  # nothing to accept before a preview
    page.fill("#bulk-min", "0.3")
    page.get_by_role("button", name="Preview").click()
    page.get_by_text(f"suggestions of {code} scored 0.3 or more").wait_for()
    previewed = int(page.locator("#bulk-list p").inner_text().split()[0])
    assert previewed >= 1 and len(owner.ok("GET", f"/projects/{pid}/decisions", params={"limit": 500})) == 1  # nothing yet
    page.get_by_role("button", name="Accept these").click()
    page.get_by_text(f"Bulk accept: {previewed} stored, 0 refused.").wait_for()
    stored = owner.ok("GET", f"/projects/{pid}/decisions", params={"limit": 500})[1:]
    assert len(stored) == previewed and {e["verdict"] for e in stored} == {"accept"}
    assert all(owner.ok("GET", f"/projects/{pid}/suggestions/{e['suggestion_id']}")["code"] == code for e in stored)

    # a second project (its own token) is added, and the page switches between the two
    other = Api(server.url).ok("POST", "/projects", 201, json={"name": "second study", "owner": "ana"})
    page.select_option("#project-select", "new")
    page.get_by_label("Your coder token").fill(other["owner"]["token"])
    page.keyboard.press("Enter")
    page.get_by_text("Nothing to review yet").wait_for()
    assert "second study" in page.locator("#who").inner_text()
    assert page.locator("#project-select option").count() == 3  # the two projects and "New or other project…"
    page.select_option("#project-select", str(pid))
    page.get_by_role("button", name="Accept (A)").wait_for()
    assert "study" in page.locator("#who").inner_text() and "second" not in page.locator("#who").inner_text()
    page.close()
