"""REFI-QDA codebooks (.qdc): read and write, validated against Codebook.xsd when it is found.

The code elements of a .qdc (namespace urn:QDA-XML:codebook:1.0) and of the CodeBook inside a
.qdpx project (urn:QDA-XML:project:1.0) have the same shape, so both go through the helpers here.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from models.exchange.errors import QdaError
from models.exchange.qda import QdaCode
from models.exchange.schema import Validation, element_path, parse_xml, validate

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
CODEBOOK_XSD_URL = "http://schema.qdasoftware.org/versions/Codebook/v1.0/Codebook.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> str:
    """The text without the control characters XML 1.0 cannot hold."""
    return _NOT_XML.sub("", value)


def local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if local(c) == name]


def child(el: etree._Element, name: str) -> etree._Element | None:
    found = children(el, name)
    return found[0] if found else None


def required(el: etree._Element, attr: str) -> str:
    value = el.get(attr)
    if value is None or not value.strip():
        raise QdaError(f"{element_path(el)}: the required attribute {attr!r} is missing")
    return value.strip()


def text_of(el: etree._Element | None) -> str:
    return "".join(el.itertext()) if el is not None else ""


def read_codes(codes_el: etree._Element) -> list[QdaCode]:
    """The Code elements under a Codes element, nested."""
    seen: set[str] = set()

    def read(el: etree._Element) -> QdaCode:
        guid = required(el, "guid").strip("{}").lower()
        if guid in seen:
            raise QdaError(f"{element_path(el)}: code GUID {guid} appears twice")
        seen.add(guid)
        codable = (el.get("isCodable") or "true").strip().lower() in ("true", "1")
        return QdaCode(
            guid=guid, name=required(el, "name"), description=text_of(child(el, "Description")).strip(),
            color=el.get("color"), codable=codable, children=[read(c) for c in children(el, "Code")],
            notes=[(n.get("targetGUID") or "").strip("{}").lower() for n in children(el, "NoteRef")],
        )

    return [read(c) for c in children(codes_el, "Code")]


def write_codes(parent: etree._Element, codes: list[QdaCode], ns: str, *, notes: bool = False) -> None:
    """Code elements (Description, then NoteRefs where the schema has them (projects), then nested codes)."""
    for code in codes:
        attrs = {"guid": code.guid, "name": xml_text(code.name), "isCodable": "true" if code.codable else "false"}
        if code.color:
            attrs["color"] = code.color
        el = etree.SubElement(parent, f"{{{ns}}}Code", attrs)
        if code.description:
            etree.SubElement(el, f"{{{ns}}}Description").text = xml_text(code.description)
        for note in code.notes if notes else []:
            etree.SubElement(el, f"{{{ns}}}NoteRef", {"targetGUID": note})
        write_codes(el, code.children, ns, notes=notes)


def read_qdc(data: bytes, *, schema_dir: str | Path | None = None, what: str = "the .qdc file") -> tuple[list[QdaCode], Validation]:
    """The codes of a .qdc codebook. Raises QdaError (bad XML, schema errors with element paths)."""
    root = parse_xml(data, what)
    if local(root) != "CodeBook" or etree.QName(root).namespace != CODEBOOK_NS:
        raise QdaError(f"{what}: the root element is {root.tag!r}, not CodeBook in namespace {CODEBOOK_NS}")
    check = validate(root, "codebook", schema_dir)
    if check.errors:
        raise QdaError(f"{what} does not follow Codebook.xsd:\n  " + "\n  ".join(check.errors))
    codes_el = child(root, "Codes")
    if codes_el is None:
        raise QdaError(f"{what}: CodeBook has no Codes element")
    codes = read_codes(codes_el)
    if not codes:
        raise QdaError(f"{what} holds no codes")
    return codes, check


def write_qdc(codes: list[QdaCode], *, origin: str = "Loupe", schema_dir: str | Path | None = None) -> tuple[bytes, Validation]:
    """A .qdc document for the codes, validated (QdaError if the result breaks the schema)."""
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", {"origin": origin}, nsmap={None: CODEBOOK_NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{CODEBOOK_NS} {CODEBOOK_XSD_URL}")
    write_codes(etree.SubElement(root, f"{{{CODEBOOK_NS}}}Codes"), codes, CODEBOOK_NS)
    check = validate(root, "codebook", schema_dir)
    if check.errors:
        raise QdaError("the exported codebook breaks Codebook.xsd (a bug in Loupe):\n  " + "\n  ".join(check.errors))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True), check
