"""A REFI-QDA project written by hand to the standard (QDA-XML 1.0, Project.xsd), not by Loupe:
nested codes (one not codable), two users, overlapping codings across two turns, a note linked to
a coding, a case carrying a variable, an inline-text source, and a PDF source Loupe cannot hold."""

from __future__ import annotations

import io
import zipfile

ALICE = "A11CE000-0000-4000-8000-000000000001"
BOB = "B0B00000-0000-4000-8000-000000000002"
TRUST, PERSONAL, ORGANISATIONAL = ("C0DE0000-0000-4000-8000-00000000000" + str(i) for i in (1, 2, 3))
POWER, FUNDING = "C0DE0000-0000-4000-8000-000000000004", "C0DE0000-0000-4000-8000-000000000005"
INTERVIEW, NOTES, REPORT = "50000000-0000-4000-8000-000000000001", "50000000-0000-4000-8000-000000000002", "50000000-0000-4000-8000-000000000003"
SECTOR = "7A000000-0000-4000-8000-000000000001"
NOTE = "40000000-0000-4000-8000-000000000001"

INTERVIEW_TEXT = (
    "Interviewer: How would you describe working with the council?\n"
    "Respondent: I trust Sarah personally; she always calls back when she says she will.\n"
    "Respondent: But the funding comes with strings, and they know we need the money.\n"
)
NOTES_TEXT = "The trust board and the charity signed a memorandum. Staff said the hospital keeps its promises."


def span(text: str, phrase: str, until: str | None = None) -> tuple[int, int]:
    start = text.index(phrase)
    end = text.index(until) + len(until) if until else start + len(phrase)
    return start, end


ALICE_SPAN = span(INTERVIEW_TEXT, "I trust Sarah personally")
BOB_SPAN = span(INTERVIEW_TEXT, "she always calls back", until="comes with strings")
NOTES_SPAN = span(NOTES_TEXT, "the hospital keeps its promises")

PROJECT_QDE = f"""<?xml version="1.0" encoding="UTF-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="Hand-made study" origin="written by hand"
         creationDateTime="2024-03-01T10:00:00Z" creatingUserGUID="{ALICE}">
  <Users>
    <User guid="{ALICE}" name="Alice"/>
    <User guid="{{{BOB}}}" name="Bob"/>
  </Users>
  <CodeBook>
    <Codes>
      <Code guid="{TRUST}" name="Trust" isCodable="true" color="#2E86AB">
        <Description>Confidence that a partner acts in good faith.</Description>
        <Code guid="{PERSONAL}" name="Personal trust" isCodable="true"/>
        <Code guid="{ORGANISATIONAL}" name="Organisational trust" isCodable="true"/>
      </Code>
      <Code guid="{POWER}" name="Power" isCodable="false" color="#a33">
        <Code guid="{FUNDING}" name="Funding leverage" isCodable="true">
          <Description>Money used to steer a partner.</Description>
        </Code>
      </Code>
    </Codes>
  </CodeBook>
  <Variables>
    <Variable guid="{SECTOR}" name="Sector" typeOfVariable="Text"/>
  </Variables>
  <Cases>
    <Case guid="CA5E0000-0000-4000-8000-000000000001" name="Respondent 1">
      <VariableValue><VariableRef targetGUID="{SECTOR}"/><TextValue>Voluntary</TextValue></VariableValue>
      <SourceRef targetGUID="{INTERVIEW}"/>
    </Case>
  </Cases>
  <Sources>
    <TextSource guid="{INTERVIEW}" name="Interview 1" plainTextPath="internal://{INTERVIEW}.txt" creatingUser="{ALICE}">
      <PlainTextSelection guid="5E100000-0000-4000-8000-000000000001" startPosition="{ALICE_SPAN[0]}" endPosition="{ALICE_SPAN[1]}" creatingUser="{ALICE}">
        <Coding guid="C0D10000-0000-4000-8000-000000000001" creatingUser="{ALICE}" creationDateTime="2024-03-02T09:00:00Z">
          <CodeRef targetGUID="{PERSONAL}"/>
          <NoteRef targetGUID="{NOTE}"/>
        </Coding>
      </PlainTextSelection>
      <PlainTextSelection guid="5E100000-0000-4000-8000-000000000002" startPosition="{BOB_SPAN[0]}" endPosition="{BOB_SPAN[1]}" creatingUser="{BOB}">
        <Coding guid="C0D10000-0000-4000-8000-000000000002" creatingUser="{BOB}"><CodeRef targetGUID="{TRUST}"/></Coding>
        <Coding guid="C0D10000-0000-4000-8000-000000000003" creatingUser="{BOB}"><CodeRef targetGUID="{FUNDING}"/></Coding>
      </PlainTextSelection>
    </TextSource>
    <TextSource guid="{NOTES}" name="Field notes">
      <PlainTextContent>{NOTES_TEXT}</PlainTextContent>
      <PlainTextSelection guid="5E100000-0000-4000-8000-000000000003" startPosition="{NOTES_SPAN[0]}" endPosition="{NOTES_SPAN[1]}">
        <Coding guid="C0D10000-0000-4000-8000-000000000004"><CodeRef targetGUID="{ORGANISATIONAL}"/></Coding>
      </PlainTextSelection>
    </TextSource>
    <PDFSource guid="{REPORT}" name="Annual report.pdf" path="internal://{REPORT}.pdf">
      <Coding guid="C0D10000-0000-4000-8000-000000000005"><CodeRef targetGUID="{POWER}"/></Coding>
    </PDFSource>
  </Sources>
  <Notes>
    <Note guid="{NOTE}" name="Why personal" creatingUser="{ALICE}">
      <PlainTextContent>Named person, not the organisation.</PlainTextContent>
    </Note>
  </Notes>
</Project>
"""


def qdpx(qde: str = PROJECT_QDE, extra: dict[str, bytes] | None = None, drop_interview: bool = False, folder: str = "sources") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.qde", qde.encode())
        if not drop_interview:
            zf.writestr(f"{folder}/{INTERVIEW}.txt", INTERVIEW_TEXT.encode())
        zf.writestr(f"{folder}/{REPORT}.pdf", b"%PDF-1.4 not really")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()
