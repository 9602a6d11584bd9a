"""Open311 GeoReport v2 conformance checks shared by the serialiser and the live-server tests: the
JSON Schemas in ``schemas/`` (written from the spec, draft 2020-12) and the spec's XML element
structure (root name, which children each element must and may have, which elements are lists).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET  # the Element type only; parsing goes through defusedxml
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from defusedxml import ElementTree as SafeElementTree
from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).parent / "schemas"
DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
W3C = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"
NUMBER = r"-?\d+(\.\d+)?([eE][+-]?\d+)?"
BOOL = "true|false"
IDENTITY = ("first_name", "last_name", "email", "phone", "device_id", "account_id")
"""Reporter identity: never an element or key of GET output."""


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate_json(name: str, body: bytes | str) -> Any:
    """Parse a JSON body and check it against ``schemas/<name>.json``; returns the data."""
    data = json.loads(body)
    errors = sorted(_validator(name).iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, f"{name}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )
    return data


@dataclass(frozen=True)
class Shape:
    """An element with child elements: which are required, which optional. A child's shape is a
    ``Shape``, a ``ListOf`` or, for a leaf, a regular expression its text must match when it has
    text (``None``: any text)."""

    required: dict[str, Any] = field(default_factory=dict)
    optional: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ListOf:
    """A list element: only ``item`` children, each of ``shape``."""

    item: str
    shape: Any
    min_items: int = 0


NOTE = Shape(required={"datetime": W3C, "description": None, "type": None})
EXTENDED = Shape(
    required={"state": None, "kind": None, "channel": None},
    optional={"state_zh": None, "kind_zh": None, "channel_zh": None, "simulated": BOOL},
)
REQUEST = Shape(
    required={
        "service_request_id": r"\d+",
        "status": "open|closed",
        "service_code": None,
        "requested_datetime": W3C,
    },
    optional={
        "status_notes": None,
        "service_name": None,
        "description": None,
        "agency_responsible": None,
        "service_notice": None,
        "updated_datetime": W3C,
        "expected_datetime": W3C,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": NUMBER,
        "long": NUMBER,
        "media_url": r"https?://\S+",
        "extended_attributes": EXTENDED,
        "notes": ListOf("note", NOTE),
    },
)
ATTRIBUTE = Shape(
    required={
        "variable": BOOL,
        "code": None,
        "datatype": "string|number|datetime|text|singlevaluelist|multivaluelist",
        "required": BOOL,
        "order": r"[1-9]\d*",
        "description": None,
    },
    optional={
        "datatype_description": None,
        "values": ListOf("value", Shape(required={"key": None, "name": None}), min_items=1),
    },
)
DOCUMENTS: dict[str, tuple[str, Any]] = {
    # document name: (root element, its shape)
    "discovery": (
        "discovery",
        Shape(
            required={
                "changeset": r".+",
                "contact": r".+",
                "key_service": r".+",
                "endpoints": ListOf(
                    "endpoint",
                    Shape(
                        required={
                            "specification": r"http://wiki\.open311\.org/GeoReport_v2",
                            "url": r"https?://\S+",
                            "changeset": r".+",
                            "type": "production|test",
                            "formats": ListOf("format", r"[a-z]+/[a-z0-9.+-]+", min_items=1),
                        }
                    ),
                    min_items=1,
                ),
            },
            optional={"max_requests": r"\d+"},
        ),
    ),
    "services": (
        "services",
        ListOf(
            "service",
            Shape(
                required={
                    "service_code": r".+",
                    "service_name": r".+",
                    "metadata": BOOL,
                    "type": "realtime|batch|blackbox",
                },
                optional={"description": None, "keywords": None, "group": None},
            ),
        ),
    ),
    "service_definition": (
        "service_definition",
        Shape(required={"service_code": r".+", "attributes": ListOf("attribute", ATTRIBUTE)}),
    ),
    "requests": ("service_requests", ListOf("request", REQUEST)),
    "request_created": (
        "service_requests",
        ListOf(
            "request",
            Shape(
                required={"service_request_id": r"\d+"}, optional={"service_notice": None, "account_id": None}
            ),
            min_items=1,
        ),
    ),
    "token": (
        "service_requests",
        ListOf("request", Shape(required={"service_request_id": r"\d+", "token": r".+"}), min_items=1),
    ),
    "errors": (
        "errors",
        ListOf("error", Shape(required={"code": r"\d+", "description": r"(?s).+"}), min_items=1),
    ),
    "request_updates": (
        "service_requests_updates",
        ListOf(
            "request_update",
            Shape(
                required={
                    "update_id": r".+",
                    "service_request_id": r"\d+",
                    "status": "open|closed",
                    "updated_datetime": W3C,
                },
                optional={
                    "description": None,
                    "media_url": r"https?://\S+",
                    "external_status_code": r"[A-Z_]+",
                },
            ),
        ),
    ),
    "update_created": (
        "service_requests_updates",
        ListOf("request_update", Shape(required={"update_id": r".+"}), min_items=1),
    ),
}


def _check(element: ET.Element, shape: Any, where: str) -> None:
    children = list(element)
    if isinstance(shape, ListOf):
        assert len(children) >= shape.min_items, f"{where}: fewer than {shape.min_items} <{shape.item}>"
        for index, child in enumerate(children):
            assert child.tag == shape.item, f"{where}: <{child.tag}> where only <{shape.item}> may be"
            _check(child, shape.shape, f"{where}/{shape.item}[{index}]")
        assert not (element.text or "").strip(), f"{where}: a list holds text"
        return
    if isinstance(shape, Shape):
        tags = [child.tag for child in children]
        assert len(tags) == len(set(tags)), f"{where}: repeated elements {tags}"
        missing = set(shape.required) - set(tags)
        assert not missing, f"{where}: required elements missing: {sorted(missing)}"
        foreign = set(tags) - set(shape.required) - set(shape.optional)
        assert not foreign, f"{where}: elements the spec does not define: {sorted(foreign)}"
        for child in children:
            _check(child, {**shape.required, **shape.optional}[child.tag], f"{where}/{child.tag}")
        return
    assert not children, f"{where}: a leaf with child elements"
    if shape is not None and element.text:
        assert re.fullmatch(shape, element.text), f"{where}: {element.text[:60]!r} does not match {shape}"


def check_xml(name: str, body: bytes) -> ET.Element:
    """Check an XML body against the spec's structure of document ``name``; returns its root.

    The body starts with the spec's declaration, has no namespace, and every element is one the
    spec defines at that place."""
    assert body.startswith(DECLARATION), body[:60]
    root = SafeElementTree.fromstring(body)
    tag, shape = DOCUMENTS[name]
    assert root.tag == tag, f"root <{root.tag}>, expected <{tag}>"
    assert all("{" not in e.tag for e in root.iter()), "namespaced elements"
    _check(root, shape, tag)
    return root


def check(name: str, fmt: str, body: bytes) -> Any:
    """Check a body of either format; returns the parsed JSON or the XML root."""
    return validate_json(name, body) if fmt == "json" else check_xml(name, body)
