"""The HTML report renders in headless Chromium without console errors, from the API and from
`loupe report`, with every section filled from a coded project."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from scripts.cli import app
from tests.api.conftest import TRANSCRIPTS, new_project, wait_for_job

README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report.png"


def test_report_renders_without_console_errors(browser, make_server, tmp_path):
    data = tmp_path / "report"
    server = make_server(data_dir=data).start()
    pid, owner = new_project(server.url, retrain_every=0, threshold=0.3)
    for path in TRANSCRIPTS:
        with open(path, "rb") as f:
            owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (path.name, f)})
    owner.ok("POST", f"/projects/{pid}/attributes/csv", 200, data={"scope": "speaker"},
             files={"file": ("s.csv", "speaker,sector\nP01,NHS\nP05,voluntary\nP06,NHS\n")})
    wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})["id"])
    for k, item in enumerate(owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 20})["items"]):
        owner.ok("POST", f"/projects/{pid}/decisions", 201, json={"suggestion_id": item["suggestion"]["id"], "verdict": "reject" if k % 3 == 0 else "accept"})
    owner.ok("POST", f"/projects/{pid}/themes", 201, json={"name": "Relational trust", "definition": "Trust carried by people.", "codes": ["trust", "leadership"]})
    owner.ok("POST", f"/projects/{pid}/memos", 201, json={"target_kind": "project", "text": "First coding pass done."})

    html = owner.get(f"/projects/{pid}/report.html", params={"n_boot": 50})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    result = CliRunner().invoke(app, ["report", "--project", str(pid), "--out", str(tmp_path / "cli.html"), "--n-boot", "50", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    for page_file, text in ((tmp_path / "api.html", html.text), (tmp_path / "cli.html", None)):
        if text is not None:
            page_file.write_text(text, encoding="utf-8")
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m, problems=problems: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e, problems=problems: problems.append(str(e)))
        page.goto(page_file.as_uri())
        for heading in ("Codebook", "Themes", "Matrix queries", "Agreement", "Memos", "Method record"):
            assert page.get_by_role("heading", name=heading, exact=True).count() == 1
        assert page.get_by_text("Relational trust").count() >= 1 and page.get_by_text("First coding pass done.").count() == 1
        widths = page.locator("img[alt*='speaker:sector']").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
        assert len(widths) == 2 and min(widths) > 100  # the matrix heatmap and the frequency chart by that attribute
        assert problems == []
        if text is not None:
            shot = README_SCREENSHOT if os.environ.get("LOUPE_UPDATE_SCREENSHOT") else tmp_path / "report.png"
            page.get_by_role("heading", name="Matrix queries", exact=True).evaluate("h => h.scrollIntoView()")
            page.screenshot(path=str(shot), full_page=False)
        page.close()
