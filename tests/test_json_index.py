"""The indexed reader and splicing writer equal today's reader and writer.

Today's way: parse the whole file (``parse_object_file``), build each device
from its record, edit the tree and render it (``render_paired``). The indexed
way must give the same devices, the same bytes and the same one-line errors,
on the fixtures and on generated stores.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine import chains

from scopemigrate import engine
from scopemigrate.devices import ChangeSet, DeviceState, ScopeList
from scopemigrate.errors import BadStoreError
from scopemigrate.migration import Migration
from scopemigrate.stores.openclaw_json import index as json_index
from scopemigrate.stores.openclaw_json.gateway import scope_base
from scopemigrate.stores.openclaw_json.records import (
    _set_scope_list,
    device_from_record,
    parse_object_file,
    render_paired,
)
from scopemigrate.stores.openclaw_json.records import (
    get_scope_list as _get_scope_list,
)

FIXTURES = Path(__file__).parent / "fixtures" / "openclaw"
PAIRED_FILES = sorted(FIXTURES.glob("**/paired.json"))
PATH = Path("/state/devices/paired.json")


def today(path: Path, data: bytes) -> tuple[dict[str, Any], list[DeviceState]]:
    tree = parse_object_file(path, data, "device id")
    return tree, [device_from_record(path, key, record) for key, record in tree.items()]


def outcome(read: Any) -> Any:
    """A reader's devices, or the message it refused with."""
    try:
        return read()
    except BadStoreError as exc:
        return f"refused: {exc}"


def today_render(data: bytes, edited: dict[str, dict[str, ScopeList]]) -> bytes:
    tree, _ = today(PATH, data)
    before: dict[str, dict[str, ScopeList]] = {}
    for device_id, fields in edited.items():
        for name, value in fields.items():
            before.setdefault(device_id, {})[name] = _get_scope_list(tree[device_id], name)
            _set_scope_list(tree[device_id], name, value)
    return render_paired(data, tree, before)


def test_the_fixtures_read_as_today() -> None:
    assert len(PAIRED_FILES) >= 8
    for path in PAIRED_FILES:
        data = path.read_bytes()
        expected = outcome(lambda: today(path, data)[1])  # noqa: B023
        found = outcome(lambda: json_index.read_paired(path, data).devices)  # noqa: B023
        assert found == expected, path


def test_valid_fixtures_are_indexed_and_broken_ones_refused_with_todays_message() -> None:
    refused = 0
    for path in PAIRED_FILES:
        data = path.read_bytes()
        if "broken" in path.parts:
            with pytest.raises(BadStoreError) as caught:
                json_index.read_paired(path, data)
            with pytest.raises(BadStoreError) as expected:
                today(path, data)
            assert str(caught.value) == str(expected.value)
            refused += 1
        else:
            assert json_index.read_paired(path, data).spans is not None, path
    assert refused == 5


# Strings that JSON escapes or that are not ASCII, in keys and values.
tricky = st.sampled_from(
    ["operator.read", "é.ü", 'q"uote', "back\\slash", "tab\tnew\nline", "\u2028", "☎", "\x01"]
)
scope_lists = st.lists(st.one_of(tricky, st.sampled_from(["operator.admin", "node.exec"])))
ROLES = ["operator", "node"]


@st.composite
def records(draw: st.DrawFn, device_id: str) -> dict[str, Any]:
    items: list[tuple[str, Any]] = [("deviceId", device_id), ("publicKey", "pk")]
    if draw(st.booleans()):
        items.append(("displayName", draw(tricky)))
    items.append(("clientId", draw(st.sampled_from(["cli", "openclaw-control-ui", "é"]))))
    roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, unique=True))
    items += [("role", roles[0]), ("roles", roles)]
    if draw(st.booleans()):
        items.append(("scopes", draw(scope_lists)))
    if draw(st.booleans()):
        items.append(("approvedScopes", draw(scope_lists)))
    tokens = {}
    for role in draw(st.lists(st.sampled_from(roles), unique=True)):
        token: dict[str, Any] = {"token": "secret", "role": role}
        if draw(st.booleans()):
            token["scopes"] = sorted(draw(scope_lists))
        tokens[role] = token
    items.append(("tokens", tokens))
    # Fields scopemigrate does not know, of every JSON type.
    extra = st.dictionaries(
        tricky,
        st.one_of(
            st.integers(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.none(),
            st.booleans(),
            tricky,
        )
        | st.lists(st.integers(), max_size=2),
        max_size=2,
    )
    items += list(draw(extra).items())
    order = draw(st.permutations(range(len(items))))
    return dict(items[i] for i in order) if draw(st.booleans()) else dict(items)


@st.composite
def stores(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    ids = draw(
        st.lists(
            st.one_of(st.text("abcdef0123", min_size=1, max_size=6), tricky),
            unique=True,
            max_size=6,
        )
    )
    tree = {device_id: draw(records(device_id)) for device_id in ids}
    text = json.dumps(tree, indent=2, ensure_ascii=draw(st.booleans()))
    return (text + ("\n" if draw(st.booleans()) else "")).encode("utf-8"), tree


@st.composite
def edits(draw: st.DrawFn, tree: dict[str, Any]) -> dict[str, dict[str, ScopeList]]:
    edited: dict[str, dict[str, ScopeList]] = {}
    for device_id in draw(st.lists(st.sampled_from(sorted(tree)), unique=True)) if tree else []:
        record = tree[device_id]
        names = ["scopes", "approvedScopes", *(f"tokens.{r}" for r in record["tokens"])]
        for name in draw(st.lists(st.sampled_from(names), unique=True)):
            value = draw(st.one_of(st.none(), scope_lists))
            if name.startswith("tokens.") and value is not None:
                value = sorted(value)
            if value != _get_scope_list(record, name):
                edited.setdefault(device_id, {})[name] = value
    return edited


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.data())
def test_generated_stores_read_and_write_as_today(data: st.DataObject) -> None:
    raw, tree = data.draw(stores())
    index = json_index.read_paired(PATH, raw)
    assert index.devices == today(PATH, raw)[1]
    if tree and b"\\u" not in raw:  # keys as JSON.stringify writes them: indexed
        assert index.spans is not None
    edited = data.draw(edits(tree))
    assert json_index.render_paired(index, edited) == today_render(raw, edited)
    records = dict(json_index.iter_records(index, edited))
    assert records == {device_id: tree[device_id] for device_id in edited}


def _mutations(raw: bytes) -> st.SearchStrategy[bytes]:
    text = raw.decode("utf-8")
    cut = st.integers(0, max(len(raw) - 1, 0)).map(lambda at: raw[:at])
    byte = st.integers(0, max(len(raw) - 1, 0)).map(lambda at: raw[:at] + b"\xff" + raw[at:])
    replacements = st.sampled_from(
        [
            ('"scopes": [', '"scopes": 7, "x": ['),
            ('"roles": [', '"roles": {"a": ['),
            ('"deviceId": "', '"deviceId": "x'),
            ('"tokens": {', '"tokens": [{'),
            ('"tokens": {', '"tokens": "t", "y": {'),
            ('"publicKey": "pk"', '"publicKey": NaN'),
            ('"publicKey": "pk"', '"publicKey": 123456789012345678901234567890'),
            ('"role": "', '"role": 3, "z": "'),
            ('\n  "', '\n  "dup": {"deviceId": "dup"},\n  "'),
            ('\n  "', '\n  "dup": 5,\n  "'),
        ]
    )
    replaced = replacements.map(lambda pair: text.replace(*pair, 1).encode("utf-8"))
    return st.one_of(cut, byte, replaced)


@SETTINGS
@given(st.data())
def test_damaged_stores_are_refused_with_todays_message(data: st.DataObject) -> None:
    raw, _ = data.draw(stores())
    damaged = data.draw(_mutations(raw))
    expected = outcome(lambda: today(PATH, damaged)[1])
    assert outcome(lambda: json_index.read_paired(PATH, damaged).devices) == expected


def test_a_record_error_before_a_json_error_reports_the_json_error_as_today() -> None:
    tree = {
        "a": {"deviceId": "a", "scopes": 3},
        "b": {"deviceId": "b", "scopes": ["x"]},
    }
    damaged = json.dumps(tree, indent=2).encode()[:-10]
    message = outcome(lambda: json_index.read_paired(PATH, damaged))
    assert message == outcome(lambda: today(PATH, damaged))
    assert "not valid JSON" in message
    whole = json.dumps(tree, indent=2).encode()
    message = outcome(lambda: json_index.read_paired(PATH, whole))
    assert (
        message
        == f"refused: {PATH}: record a: field 'scopes': expected a list of strings, found a number"
    )


def test_another_layout_is_read_whole_and_written_as_today() -> None:
    tree = {"a": {"deviceId": "a", "role": "operator", "scopes": ["x"], "tokens": {}}}
    compact = json.dumps(tree).encode()
    index = json_index.read_paired(PATH, compact)
    assert index.spans is None and index.devices == today(PATH, compact)[1]
    edited: dict[str, dict[str, ScopeList]] = {"a": {"scopes": ["x", "y"]}}
    assert json_index.render_paired(index, edited) == today_render(compact, edited)


def test_values_orjson_reads_otherwise_are_written_as_today() -> None:
    """orjson reads an integer beyond 64 bits as a float; a record rewritten whole
    (its list removed) must keep it as the file has it. (NaN is refused by both
    readers: jsontext's bounds.)"""
    tree = {
        "a": {"deviceId": "a", "scopes": ["x"], "big": -9223372036854775809},
        "b": {"deviceId": "b", "scopes": ["y"]},
    }
    raw = json.dumps(tree, indent=2).encode()
    index = json_index.read_paired(PATH, raw)
    assert index.spans is not None and index.devices == today(PATH, raw)[1]
    edited: dict[str, dict[str, ScopeList]] = {"a": {"scopes": None}, "b": {"scopes": ["z"]}}
    rendered = json_index.render_paired(index, edited)
    assert rendered == today_render(raw, edited)
    assert b"-9223372036854775809" in rendered
    assert dict(json_index.iter_records(index, ["a"]))["a"]["big"] == -9223372036854775809


def test_a_file_written_whole_after_a_splice_began_holds_only_the_whole(tmp_path: Path) -> None:
    """The new file is written to the temp file as it is made: when a later record
    needs the whole file written again (its list as read holds a string no UTF-8
    text can: ``_plan``'s "file"), what was spliced so far is dropped, not left
    before it."""
    raw = (
        b'{\n  "a": {\n    "deviceId": "a",\n    "scopes": [\n      "x"\n    ]\n  },\n'
        b'  "b": {\n    "deviceId": "b",\n    "scopes": [\n      "w"\n    ]\n  }\n}\n'
    )
    index = json_index.read_paired(PATH, raw)
    assert index.spans is not None
    index.read["b"] = {"scopes": ("\ud800",)}  # the reader refuses such a file: set by hand
    edited: dict[str, dict[str, ScopeList]] = {"a": {"scopes": ["y"]}, "b": {"scopes": ["z"]}}
    target = tmp_path / "paired.json"
    with target.open("wb") as out:
        json_index.write_paired(index, edited, out)
    assert target.read_bytes() == today_render(raw, edited)
    assert target.read_bytes().count(b'"deviceId": "a"') == 1


class _Writes(io.BytesIO):
    """A temp file that records the size of each write."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, data: Any) -> int:
        self.sizes.append(len(data))
        return super().write(data)


def test_a_large_splice_is_written_a_part_at_a_time() -> None:
    """The splice gathers its pieces into parts of a bounded size (one write per
    part, not per piece), so the new file is never held whole in memory."""
    devices = 10_000  # two pieces per device: several parts
    tree = {
        f"d{n:05}": {"deviceId": f"d{n:05}", "role": "operator", "scopes": ["x"], "tokens": {}}
        for n in range(devices)
    }
    raw = json.dumps(tree, indent=2).encode()
    index = json_index.read_paired(PATH, raw)
    assert index.spans is not None
    edited: dict[str, dict[str, ScopeList]] = {key: {"scopes": ["x", "y"]} for key in tree}
    out = _Writes()
    json_index.write_paired(index, edited, out)
    assert out.getvalue() == today_render(raw, edited)
    assert 1 < len(out.sizes) < devices
    assert max(out.sizes) < len(out.getvalue()) / 2


def test_the_values_a_rebase_compares_are_shared_by_devices_of_one_kind() -> None:
    """``scope_base``: each changed field's value as read; one dict for devices
    holding the same lists and given the same change (the engine shares it)."""
    tree = {
        key: {"deviceId": key, "role": "operator", "scopes": scopes, "tokens": {}}
        for key, scopes in (("a", ["x"]), ("b", ["x"]), ("c", ["w"]))
    }
    index = json_index.read_paired(PATH, json.dumps(tree, indent=2).encode())
    change: dict[str, ScopeList] = {"scopes": ["x", "y"]}
    changes = ChangeSet(devices={"a": change, "b": change, "c": {"scopes": ["w", "y"]}})
    base = scope_base(json_index.records_of(index, changes.devices), changes)
    assert base == {"a": {"scopes": ["x"]}, "b": {"scopes": ["x"]}, "c": {"scopes": ["w"]}}
    assert base["a"] is base["b"]


GOOD = {
    "deviceId": "a",
    "displayName": "n",
    "clientId": "c",
    "role": "operator",
    "roles": ["a", "b"],
    "scopes": ["a", "b"],
    "approvedScopes": ["a", "b"],
    "tokens": {"operator": {"token": "t", "scopes": ["a", "b"]}},
}


@pytest.mark.parametrize(
    "change",
    [
        {"role": None},
        {"role": 1},
        {"clientMode": None},
        {"displayName": None},
        {"displayName": 7},
        {"roles": "ab"},
        {"roles": ["a", 1]},
        {"scopes": "ab"},
        {"scopes": {"a": 1, "b": 2}},
        {"scopes": [["a"], "b"]},
        {"approvedScopes": None},
        {"tokens": ["operator"]},
        {"tokens": {"operator": "ab"}},
        {"tokens": {"operator": {"token": "t", "scopes": "ab"}}},
        {"tokens": {"operator": {"token": "t", "scopes": None}}},
        {"deviceId": "x"},
        # Accepted, and built otherwise than the record before them:
        {"displayName": ""},
        {"clientMode": "cli"},
        {"tokens": {"operator": {"token": "t", "scopes": ["a", "b"], "revokedAtMs": 1}}},
        {"tokens": {"operator": {"token": "t"}}},
        {"scopes": []},
    ],
)
def test_a_record_shaped_like_an_accepted_one_but_for_one_field_reads_as_today(
    change: dict[str, Any],
) -> None:
    """Devices of one shape are checked and built once (``_FastDevices``): a record
    equal to an accepted one but for a null, a type or a value is told apart."""
    tree = {"a": GOOD, "b": {**GOOD, "deviceId": "b", **change}}
    raw = json.dumps(tree, indent=2).encode()
    found = outcome(lambda: json_index.read_paired(PATH, raw).devices)
    assert found == outcome(lambda: today(PATH, raw)[1])


@SETTINGS
@given(st.data(), chains())
def test_devices_share_the_lists_read_and_no_run_edits_a_list_in_place(
    data: st.DataObject, steps: list[Migration]
) -> None:
    """Devices of one shape share the lists read (``DeviceState``): an upgrade and
    a downgrade must replace a list, never edit it, and end as with lists of
    their own."""
    _, tree = data.draw(stores())
    # Each record twice, so that devices share their lists.
    tree |= {f"{key}-2": {**record, "deviceId": f"{key}-2"} for key, record in tree.items()}
    index = json_index.read_paired(PATH, json.dumps(tree, indent=2).encode())
    held = [value for device in index.devices for value in device.fields.values() if value]
    as_read = copy.deepcopy(held)
    alone = copy.deepcopy(index.devices)
    up = engine.upgrade(steps, index.devices, [], "now")
    assert up == engine.upgrade(steps, alone, [], "now")
    applied = list(reversed(up.applied.values()))
    assert engine.downgrade(applied, index.devices, []) == engine.downgrade(applied, alone, [])
    assert index.devices == alone
    assert held == as_read


@pytest.mark.parametrize(
    ("old", "new", "unspanned"),
    [
        # A value inside the record closes on a line at the records' depth.
        ('"tokens": {}\n  },', '"tokens": {},\n    "x": {\n  }\n  },', "a"),
        # The record's value does not start right after its key.
        ('"b": {', '"b":  {', "b"),
    ],
)
def test_a_record_not_opening_or_closing_where_the_layout_says_is_rewritten_as_today(
    old: str, new: str, unspanned: str
) -> None:
    """Such a record gets no span (as main's reader decided with ``_value_end``):
    editing it writes the whole file again."""
    tree = {
        "a": {"deviceId": "a", "scopes": ["x"], "tokens": {}},
        "b": {"deviceId": "b", "scopes": ["y"], "tokens": {}},
    }
    raw = json.dumps(tree, indent=2).replace(old, new, 1).encode()
    assert new.encode() in raw
    index = json_index.read_paired(PATH, raw)
    assert index.spans is not None and set(index.spans) == {"a", "b"} - {unspanned}
    assert index.devices == today(PATH, raw)[1]
    edited: dict[str, dict[str, ScopeList]] = {"a": {"scopes": ["z"]}, "b": {"scopes": ["w"]}}
    whole = json.loads(raw)
    for device_id, fields in edited.items():
        whole[device_id] |= fields
    assert json_index.render_paired(index, edited) == json.dumps(whole, indent=2).encode()
