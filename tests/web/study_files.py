"""The files of the whole-study browser test, written by the test: a .txt interview, a .docx report
with a table, a two-page .pdf with a text layer and a .vtt transcript with speakers."""

from __future__ import annotations

import io

from tests.conftest import SAMPLE
from tests.unit.test_readers_formats import make_pdf


def interview_txt() -> bytes:
    return (SAMPLE / "p01_commissioner.txt").read_bytes()


def report_docx() -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("Partnership review, spring 2024", level=1)
    d.add_paragraph("The partnership board met monthly. Trust between the council and the charities grew slowly, "
                    "built on small pieces of work that went well before larger contracts were agreed.")
    d.add_paragraph("Funding decided who sat at the table: the organisations that held contracts set the agenda, "
                    "and the smaller community groups felt they had little say over priorities.")
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([("Area", "Contracts", "Concerns"), ("North", "12", "Short funding cycles"), ("South", "4", "No seat on the board")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.add_paragraph("After the table: leaders of the voluntary sector asked for longer grants and a shared budget.")
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def notes_pdf() -> bytes:
    """A minimal PDF with a text layer: two pages, one text line per string (Helvetica)."""
    pages = [["Meeting notes, page one.", "The hospital trust and the charity agreed a shared plan.",
              "Volunteers said they trusted the coordinator more than the board."],
             ["Page two.", "The council controls the money, so it controls the plan.",
              "Small groups want a say in how the budget is spent."]]
    return make_pdf(pages)


def focus_group_vtt() -> bytes:
    cues = [
        ("00:00:01.000", "00:00:06.000", "Facilitator", "What changed in how the groups work with the hospital?"),
        ("00:00:06.500", "00:00:15.000", "Rosa", "We trust the discharge team now. It took two years of meeting every week before they listened to us."),
        ("00:00:15.500", "00:00:24.000", "Sam", "The money still comes from the top. Whoever holds the budget decides what counts as success."),
        ("00:00:24.500", "00:00:33.000", "Rosa", "Our coordinator is the one who holds it together. People follow her because she shows up."),
    ]
    body = "\n\n".join(f"{a} --> {b}\n<v {who}>{text}" for a, b, who, text in cues)
    return f"WEBVTT\n\n{body}\n".encode()


def all_files() -> dict[str, bytes]:
    return {"interview-01.txt": interview_txt(), "partnership-review.docx": report_docx(),
            "meeting-notes.pdf": notes_pdf(), "focus-group.vtt": focus_group_vtt()}
