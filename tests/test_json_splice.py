"""paired.json rewritten by splicing changed scope lists must equal a full rewrite.

The splice is a speed path: whatever it returns must be byte for byte what
serialising the whole edited tree gives, and where it cannot vouch for that
(a layout OpenClaw does not write, duplicate keys) it must decline.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_store_properties import SCOPES, records

from scopemigrate.stores.openclaw_json import dump_openclaw_json
from scopemigrate.stores.openclaw_json.splice import splice_records

FIELDS = ["scopes", "approvedScopes", "tokens.operator", "tokens.node"]
Edited = dict[str, dict[str, list[str] | None]]


Absent = object()


def _set(record: dict[str, Any], field: str, value: list[str] | None) -> Any:
    """Edit one scope list as the store adapter would; its old value, or Absent."""
    if field.startswith("tokens."):
        token = record.get("tokens", {}).get(field.removeprefix("tokens."))
        if token is None:
            return Absent
        record, field = token, "scopes"
    before = record.get(field)
    if value is None:
        record.pop(field, None)
    else:
        record[field] = value
    return before


@st.composite
def edited_stores(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], Edited]:
    paired = {}
    for index in range(draw(st.integers(1, 8))):
        record = draw(records(index))
        paired[record["deviceId"]] = record
    edited = copy.deepcopy(paired)
    changed: Edited = {}
    for device_id, record in edited.items():
        for field in draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=3)):
            value = draw(
                st.none() | st.lists(st.sampled_from([*SCOPES, "ünïcode.scope"]), max_size=4)
            )
            before = _set(record, field, value)
            if before is not Absent:
                changed.setdefault(device_id, {})[field] = before
    return paired, edited, changed


@settings(max_examples=300, deadline=None)
@given(edited_stores(), st.booleans())
def test_splice_equals_a_full_rewrite(
    case: tuple[dict[str, Any], dict[str, Any], Edited], newline: bool
) -> None:
    original, edited, changed = case
    data = dump_openclaw_json(original, newline)
    assert splice_records(data, edited, changed, newline) == dump_openclaw_json(edited, newline)


@settings(max_examples=100, deadline=None)
@given(edited_stores())
def test_other_layouts_are_declined_or_still_correct(
    case: tuple[dict[str, Any], dict[str, Any], Edited],
) -> None:
    original, edited, changed = case
    for data in (
        json.dumps(original).encode(),  # minified
        json.dumps(original, indent=4, ensure_ascii=False).encode(),
    ):
        spliced = splice_records(data, edited, changed, False)
        assert spliced is None or json.loads(spliced) == edited


def test_a_duplicate_key_is_declined() -> None:
    record = {"deviceId": "a", "scopes": ["operator.admin"]}
    text = dump_openclaw_json({"a": record})
    doubled = text[:-2] + b",\n  " + text[4:-2] + b"\n}"
    tree = json.loads(doubled)
    tree["a"]["scopes"] = ["operator.admin", "operator.read"]
    spliced = splice_records(doubled, tree, {"a": {"scopes": ["operator.admin"]}}, False)
    assert spliced is None or json.loads(spliced) == tree


def test_unchanged_records_keep_their_bytes_even_in_another_layout() -> None:
    """Only the changed record is rewritten; a hand-formatted neighbour stays as it was."""
    text = (
        b'{\n  "a": {\n    "deviceId": "a",\n    "scopes": [\n      "operator.admin"\n    ]\n  },'
        b'\n  "b": {"deviceId": "b", "scopes": ["operator.admin"]}\n}'
    )
    tree = json.loads(text)
    tree["a"]["scopes"].append("operator.read")
    spliced = splice_records(text, tree, {"a": {"scopes": ["operator.admin"]}}, False)
    assert spliced is not None
    assert spliced.endswith(b'\n  "b": {"deviceId": "b", "scopes": ["operator.admin"]}\n}')
    assert json.loads(spliced) == tree


@pytest.mark.parametrize(
    "text",
    [
        # one record on one line: its first closing line belongs to the next record
        b'{\n  "a": {"deviceId": "a", "scopes": ["operator.admin"]},'
        b'\n  "b": {\n    "deviceId": "b",\n    "scopes": [\n      "operator.admin"\n    ]\n  }\n}',
        # a key twice inside a record: the parser kept the second
        b'{\n  "a": {\n    "scopes": [\n      "operator.admin"\n    ],'
        b'\n    "scopes": [\n      "operator.admin"\n    ]\n  }\n}',
    ],
)
def test_layouts_that_could_mislead_the_splice_never_do(text: bytes) -> None:
    tree = json.loads(text)
    tree["a"]["scopes"] = ["operator.admin", "operator.read"]
    spliced = splice_records(text, tree, {"a": {"scopes": ["operator.admin"]}}, False)
    assert spliced is None or json.loads(spliced) == tree
