"""Open311 documents as XML (the required format) or JSON, and the spec's error bodies.

A document is plain Python data: dicts keep their key order (the spec's element order),
lists become repeated child elements whose name depends on the list (``services`` holds
``service`` elements, ``service_requests`` holds ``request`` …). XML is written by
``xml.etree.ElementTree``, never by string formatting, so no text can break the markup;
characters XML 1.0 cannot carry at all are dropped from text on the way out.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree as ET

from django.http import HttpResponse

XML = "xml"
JSON = "json"
FORMATS = (XML, JSON)
CONTENT_TYPES = {XML: "text/xml; charset=utf-8", JSON: "application/json; charset=utf-8"}
MEDIA_TYPES = ("text/xml", "application/json")  # as named in the discovery document

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

# Children of a list, by the list's own element name.
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}

# Everything outside the XML 1.0 Char production (C0 controls but tab/LF/CR, surrogates,
# U+FFFE and U+FFFF).
INVALID_XML_CHARS = re.compile(
    "[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def xml_safe(text: str) -> str:
    return INVALID_XML_CHARS.sub("", text)


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return xml_safe(str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list):
        tag = ITEM_TAGS[element.tag]
        for item in value:
            _fill(ET.SubElement(element, tag), item)
    else:
        element.text = _scalar(value) or None


def xml_bytes(root: str, value: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, value)
    # The declaration is written out so it reads exactly as the specification's examples.
    return XML_DECLARATION + ET.tostring(element, encoding="unicode").encode("utf-8")


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def document(fmt: str, root: str, value: Any, *, status: int = 200) -> HttpResponse:
    """``root`` names the XML root element; JSON has no root, only ``value``."""
    body = json_bytes(value) if fmt == JSON else xml_bytes(root, value)
    response = HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])
    response["Vary"] = "Accept-Language"
    # Browser apps may call from anywhere: no cookie is ever used here (api_key only).
    response["Access-Control-Allow-Origin"] = "*"
    return response


def error_document(
    fmt: str, status: int, description: str, *, retry_after: int | None = None
) -> HttpResponse:
    """``[{"code": 400, "description": "…"}]`` or ``<errors><error><code>400</code>…``."""
    response = document(
        fmt, "errors", [{"code": status, "description": description}], status=status
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response
