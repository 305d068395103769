"""Which text is data: a document's header and closing lines, and who is speaking.

A researcher codes what participants said. A transcript also holds text that is not data: a
title and metadata lines at the top ("Interview P08 - ward manager, 12 March 2021",
"Date: 3 May 2022", "Duration: 47 min", "Transcribed by ..."), closing lines ("[End of
interview]"), and the interviewer's turns. The segmenter keeps all of it, with exact offsets, so it
can be shown in context, but marks each segment with a role (models.base.Segment.role):

- "metadata": a header line at the top of the document or a closing line at its end;
- "interviewer": a turn of a speaker whose label is an interviewer's (DEFAULT_INTERVIEWER_LABELS);
- "data": everything else. Only data gets proposals and is clustered (Segment.codable).

Detection is conservative: a line is metadata only when it is short, does not read as a sentence,
and sits in an unbroken run of such lines from the top of the document that holds at least one
line of a clearly recognised kind (a title such as "Interview 3, May 2024", a known key such as
"Date:" or "Duration:", a bare date or duration, "Anonymised", "Transcribed by ..."). The run
stops at the first line that is not metadata, so a participant's answer below it is never taken.
Tabular rows (.csv, .jsonl) are responses, never headers: the reader handles header rows.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from functools import cache

from models.base import Span

# Speaker labels whose turns are the interviewer's. Matching ignores case, a trailing full stop and
# a trailing number, so "Interviewer 2", "INT." and "int" all match.
DEFAULT_INTERVIEWER_LABELS: tuple[str, ...] = (
    "Interviewer", "Int", "I", "IV", "Q", "Facilitator", "Moderator", "Researcher",
)

# Labels of participants: "P08", "P 3", "R", "R1", "A", "Participant 4", "Respondent", "Interviewee".
_PARTICIPANT_RE = re.compile(
    r"^(?:p|r|a|resp|participant|respondent|interviewee|patient|client|member)[ \t._\-]*\d*$", re.IGNORECASE
)

# "Key: value" at the start of a line (1-4 words of key).
_KEY_VALUE_RE = re.compile(
    r"^(?:\*\*|__)?(?P<key>[A-Za-z][A-Za-z'&/()\-.]*(?:[ \t]+[A-Za-z0-9][A-Za-z0-9'&/()\-.]*){0,3})"
    r"[ \t]*(?:\*\*|__)?:(?:\*\*|__)?(?:[ \t]+(?P<value>.*))?$"
)

# Keys that name the interview's metadata. Speaker keys are listed apart: "Interviewer: JS" is
# metadata, "Interviewer: How did it start?" is a turn.
_SPEAKER_KEYS = {
    "interviewer", "interviewers", "participant", "participants", "respondent", "interviewee", "facilitator",
    "facilitators", "moderator", "researcher", "researchers",
}
_METADATA_KEYS = {
    "date", "dates", "time", "day", "duration", "length", "location", "place", "venue", "site", "setting", "mode",
    "format", "medium", "platform", "method", "transcribed by", "transcriber", "transcription", "transcript",
    "transcript id", "recorded by", "recording", "recording id", "audio", "audio file", "file", "filename",
    "file name", "project", "study", "title", "interview", "interview id", "interview no", "interview number",
    "interview date", "interview type", "case", "case id", "id", "participant id", "participant code",
    "respondent id", "code", "pseudonym", "role", "job title", "position", "organisation", "organization",
    "sector", "department", "team", "service", "gender", "sex", "age", "age group", "ethnicity", "consent",
    "language", "session", "group", "wave", "round", "phase", "status", "version", "anonymised", "anonymized",
    "anonymisation", "anonymization", "attendees", "present", "speakers", "subject", "topic", "reference", "ref",
    "start time", "end time", "location of interview",
}
# Label-like words that never name a speaker (used when deciding whether a file is a transcript).
_NOT_SPEAKERS = (_METADATA_KEYS - {"interview"}) | {"note", "notes", "nb", "comment", "comments", "e.g", "i.e", "eg", "ie"}

_TITLE_START_RE = re.compile(
    r"^(?:interviews?|transcripts?|transcription|focus[ \t]+groups?|group[ \t]+interview|participant|respondent|"
    r"interviewee|session|workshop|meeting|case(?:[ \t]+study)?)\b",
    re.IGNORECASE,
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAY = r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?"
_DATE = (
    rf"(?:(?:{_WEEKDAY}[ \t]+)?(?:\d{{1,2}}(?:st|nd|rd|th)?[ \t]+{_MONTH},?[ \t]+\d{{2,4}}"
    rf"|{_MONTH}[ \t]+\d{{1,2}}(?:st|nd|rd|th)?,?[ \t]+\d{{4}}|{_MONTH}[ \t]+\d{{4}}"
    r"|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\d{4}-\d{2}-\d{2}))"
)
_DATE_RE = re.compile(rf"\b{_DATE}\b", re.IGNORECASE)
_TIME = r"(?:\d{1,2}[:.]\d{2}(?::\d{2})?(?:[ \t]*[ap]\.?m\.?)?|\d{1,2}[ \t]*[ap]\.?m\.?)"
_DURATION = (
    r"(?:\d+(?:\.\d+)?[ \t]*(?:h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?)\b\.?"
    r"(?:[ \t,]*(?:and[ \t]+)?\d+(?:\.\d+)?[ \t]*(?:h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?)\b\.?)*)"
)
# A line that is only a date, a time, a duration, or a mix of them ("3 May 2022, 10:30-11:17").
_WHEN_LINE_RE = re.compile(
    rf"^[\[(]?(?:{_DATE}|{_TIME}|{_DURATION})(?:[ \t]*(?:,|-|–|—|to|at|;|\(|\))?[ \t]*(?:{_DATE}|{_TIME}|{_DURATION}))*[\])]?\.?$",
    re.IGNORECASE,
)
_FLAG_RE = re.compile(
    r"^[\[(]?(?:anonymi[sz]ed(?:[ \t]+(?:transcript|version|copy))?|confidential|draft|transcript|verbatim[ \t]+transcript|"
    r"interview[ \t]+transcript|not[ \t]+for[ \t]+circulation)[\])]?\.?$",
    re.IGNORECASE,
)
_CREDIT_RE = re.compile(
    r"^[\[(]?(?:transcribed|transcription|recorded|anonymi[sz]ed|checked|interviewed|translated)\b(?:[ \t]+(?:by|on|via|with|using|at))?\b",
    re.IGNORECASE,
)
_END_RE = re.compile(
    r"^[\[(]?[ \t]*(?:end[ \t]+of[ \t]+(?:the[ \t]+)?(?:interview|transcript|transcription|recording|session|focus[ \t]+group|file)"
    r"|(?:interview|recording|transcript|session|focus[ \t]+group)[ \t]+(?:ends|ended|stops|stopped|finished|closes|closed)"
    rf"|recording[ \t]+(?:off|stopped|ends|ended)|end)[ \t]*[\])]?[.!]?[ \t]*(?:[\[(]?[ \t]*{_TIME}[ \t]*[\])]?)?$",
    re.IGNORECASE,
)
_MD_HEADING_RE = re.compile(r"^#{1,6}[ \t]+\S")
_RULE_RE = re.compile(r"^(?:[-=*_~][ \t]*){3,}$")
_DIGIT_RE = re.compile(r"\d")
_INITIALS_RE = re.compile(r"^[A-Z]{2,4}$")
_FUNCTION_WORDS = {
    "i", "i'm", "im", "we", "you", "he", "she", "they", "it", "it's", "is", "was", "are", "were", "be", "been",
    "the", "a", "an", "to", "and", "but", "so", "that", "this", "yes", "yeah", "no", "well", "um", "erm", "uh",
    "think", "know", "just", "really", "of", "in", "on", "for", "my", "our", "me", "us", "do", "did", "not",
    "have", "had", "can", "would", "could", "there", "what", "how", "why", "okay", "ok",
}

_NONE, _WEAK, _STRONG = 0, 1, 2
_MAX_HEADER_LINES = 25


def normalise_label(label: str) -> str:
    """'Interviewer 2' -> 'interviewer', 'INT.' -> 'int', '**P3**' -> 'p3'."""
    s = label.strip().strip("*_").strip().rstrip(".").lower()
    s = re.sub(r"[ \t._\-]*\d+$", "", s)
    return s or label.strip().lower()


def is_interviewer_label(label: str | None, labels: Collection[str] = DEFAULT_INTERVIEWER_LABELS) -> bool:
    """True when `label` is one of `labels`, ignoring case, a trailing full stop and a trailing number."""
    if not label:
        return False
    return normalise_label(label) in {normalise_label(x) for x in labels}


def is_participant_label(label: str | None) -> bool:
    """True for the usual participant labels: P08, P 3, R, R1, A, Participant 4, Respondent, Interviewee."""
    if not label:
        return False
    return bool(_PARTICIPANT_RE.match(label.strip().strip("*_").rstrip(".")))


def is_speaker_key(label: str) -> bool:
    """False for label-like words that never name a speaker ("Date", "Location", "Note")."""
    return label.strip().strip("*_").rstrip(".").lower() not in _NOT_SPEAKERS


def _trimmed(text: str, s: int, e: int) -> Span | None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return Span(s, e) if s < e else None


def _lines(text: str, start: int, end: int) -> Iterator[Span]:
    """Non-blank lines of text[start:end], first to last, read lazily."""
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        span = _trimmed(text, pos, stop)
        if span:
            yield span
        pos = stop + 1


def _lines_backwards(text: str, start: int, end: int) -> Iterator[Span]:
    """Non-blank lines of text[start:end], last to first, read lazily."""
    stop = end
    while stop > start:
        nl = text.rfind("\n", start, stop)
        begin = start if nl < 0 else nl + 1
        span = _trimmed(text, begin, stop)
        if span:
            yield span
        stop = begin - 1 if nl >= 0 else start


def line_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """The non-blank lines of text[start:end], whitespace-trimmed, as document offsets."""
    return list(_lines(text, start, len(text) if end is None else end))


def _reads_as_sentence(value: str) -> bool:
    """A value that a person said rather than a field: has function words, or ends like a sentence."""
    words = [w.strip(".,;:!?()[]\"'").lower() for w in value.split()]
    if any(w in _FUNCTION_WORDS for w in words):
        return True
    return value.rstrip().endswith(("?", "!", "…", "..."))


def _ends_like_sentence(value: str) -> bool:
    """Ends with a full stop that is not an initial ("J.") or an abbreviation of one letter."""
    v = value.rstrip()
    if v.endswith(("?", "!", "…")):
        return True
    if not v.endswith("."):
        return False
    last = v.split()[-1] if v.split() else v
    return not re.fullmatch(r"[A-Za-z]\.|(?:[A-Za-z]\.){2,}|\d+\.?", last)


def _id_like(value: str) -> bool:
    """A name or id, not speech: 'JS', 'P08', 'Jane Smith', 'P08 (ward manager, NHS trust)'."""
    words = value.split()
    if not words or len(words) > 8 or _reads_as_sentence(value) or _ends_like_sentence(value):
        return False
    if _DIGIT_RE.search(value) or any(_INITIALS_RE.match(w.strip("(),")) for w in words):
        return True
    return sum(w[:1].isupper() for w in words) >= 2


def _line_kind(line: str, recurring: Callable[[], Collection[str]]) -> int:
    """How surely one trimmed line is a header line: _STRONG, _WEAK (only beside a strong one) or _NONE."""
    if _RULE_RE.match(line):
        return _WEAK  # "---"
    heading = bool(_MD_HEADING_RE.match(line))
    bare = line.lstrip("#").strip().strip("*_").strip()
    if not bare:
        return _NONE
    words = bare.split()
    if _WHEN_LINE_RE.match(bare) or _FLAG_RE.match(bare):
        return _STRONG  # "3 May 2022", "47 min", "Anonymised"
    if _CREDIT_RE.match(bare) and len(words) <= 12 and not bare.endswith(("?", "!")):
        return _STRONG  # "Transcribed by Otter, checked by JS"
    kv = _KEY_VALUE_RE.match(bare)
    if kv:
        key = kv.group("key").strip().rstrip(".")
        lkey = key.lower()
        value = (kv.group("value") or "").strip().strip("*_").strip()
        if lkey in _SPEAKER_KEYS:  # "Interviewer: JS" is a field, "Interviewer: How did it start?" a turn
            if _id_like(value):
                return _STRONG
            ws = value.split()
            if len(ws) == 1 and ws[0][:1].isupper() and not _reads_as_sentence(value) and not _ends_like_sentence(value):
                return _WEAK  # "Participant: Sarah"
            return _NONE
        if lkey in _METADATA_KEYS:
            n = len(value.split())
            if n <= 12 and "?" not in value and (n <= 6 or not _ends_like_sentence(value)):
                return _STRONG  # "Date: 12 May.", "Location: the participant's office"
            return _NONE
        if _reads_as_sentence(value) or _ends_like_sentence(value):
            return _NONE
        if (
            key not in recurring()
            and not is_interviewer_label(key)
            and not is_participant_label(key)
            and 0 < len(value.split()) <= 8
            and not _TITLE_START_RE.match(key)
        ):
            return _WEAK  # "Site code: N3": an unknown field with a short value
    if len(words) <= 20 and not _ends_like_sentence(bare):
        if heading:
            return _STRONG  # "# Interview with P08"
        if _TITLE_START_RE.match(bare) and (
            _DIGIT_RE.search(bare) or re.search(r"[-–—:|,]", bare) or len(words) <= 6 or re.match(r"transcript(?:ion)?[ \t]+of\b", bare, re.I)
        ):
            return _STRONG  # "Interview P08 - Voluntary sector partnership lead, 12 March 2021"
        letters = [c for c in bare if c.isalpha()]
        if len(letters) >= 3 and all(c.isupper() for c in letters) and len(words) <= 10 and not _reads_as_sentence(bare):
            return _STRONG  # "INTERVIEW TRANSCRIPT"
    return _NONE


def _recurring_keys(text: str) -> set[str]:
    """Keys used at the start of two lines or more: speaker labels, not one-off fields."""
    from collections import Counter

    counts: Counter[str] = Counter()
    for span in line_spans(text):
        m = _KEY_VALUE_RE.match(text[span.start:span.end])
        if m:
            counts[m.group("key").strip().rstrip(".")] += 1
    return {k for k, n in counts.items() if n >= 2}


def header_lines(text: str) -> list[Span]:
    """The title and metadata lines at the top of a document (document offsets; empty when none).

    The header is the longest run of leading non-blank lines that are each header-like; it counts
    only when one of them is surely a header line (see the module docstring). Blank lines inside
    the run are allowed.
    """
    recurring = cache(lambda: _recurring_keys(text))  # only needed for fields of unknown keys
    run: list[Span] = []
    strong = False
    for span in itertools.islice(_lines(text, 0, len(text)), _MAX_HEADER_LINES):
        kind = _line_kind(text[span.start:span.end], recurring)
        if kind == _NONE:
            break
        run.append(span)
        strong = strong or kind == _STRONG
    return run if strong else []


def closing_lines(text: str, start: int = 0) -> list[Span]:
    """Closing lines at the end of a document ("[End of interview]", "Recording stopped 11:17")."""
    out: list[Span] = []
    for span in _lines_backwards(text, start, len(text)):
        if not _END_RE.match(text[span.start:span.end].strip("*_ \t")):
            break
        out.append(span)
    return out[::-1]


def body_range(text: str) -> tuple[int, int]:
    """[start, end) of a document's body: after its header lines, before its closing lines."""
    head = header_lines(text)
    start = head[-1].end if head else 0
    tail = closing_lines(text, start)
    end = tail[0].start if tail else len(text)
    return start, end


def two_turn_transcript(labels: Iterable[str], interviewer_labels: Collection[str] = DEFAULT_INTERVIEWER_LABELS) -> bool:
    """True when line-start labels show an exchange even in two turns: an interviewer's label and
    another speaker's ("Interviewer:" / "P1:", "Q:" / "A:", "Facilitator:" / "Sarah:"), or two
    distinct participant labels ("P1:" / "P2:"). Field names ("Date:", "Note:") are not speakers."""
    found = {x for x in labels if is_speaker_key(x)}
    interviewers = {x for x in found if is_interviewer_label(x, interviewer_labels)}
    others = found - interviewers
    if interviewers and others:
        return True
    return len({x for x in others if is_participant_label(x)}) >= 2
