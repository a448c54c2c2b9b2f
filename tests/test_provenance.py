"""Compact provenance holds exactly what the per-device provenance of format 1 held."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from scopemigrate import engine
from scopemigrate.devices import DeviceState
from scopemigrate.ledger import AppliedRevision
from scopemigrate.migration import Migration
from scopemigrate.operations import FieldEdit, Grant, Revoke
from scopemigrate.provenance import (
    EditGroup,
    Provenance,
    ProvenanceBuilder,
    changed_devices,
    dump_groups,
    from_device_provenance,
    to_device_provenance,
)

PROVENANCE: TypeAdapter[list[EditGroup]] = TypeAdapter(Provenance)
SCOPES = ["operator.read", "operator.write", "operator.admin", "node.exec", "é.ü", 'a"b\\c']
FIELDS = ["scopes", "approvedScopes", "tokens.operator", "tokens.node"]

edits = st.builds(
    FieldEdit,
    added=st.lists(st.sampled_from(SCOPES), max_size=3).map(tuple),
    removed=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(SCOPES)), max_size=2).map(tuple),
    created=st.booleans(),
    dropped=st.booleans(),
)
# Few distinct edits, many devices: the shape of a real run.
changes = st.dictionaries(
    st.sampled_from(FIELDS),
    st.lists(st.sampled_from([FieldEdit(added=("x.y",)), FieldEdit()]), min_size=1, max_size=2)
    | st.lists(edits, min_size=1, max_size=2),
    min_size=1,
    max_size=3,
)
per_device = st.dictionaries(st.text(min_size=1, max_size=8), changes, max_size=12)


@given(per_device)
def test_conversion_from_format_1_loses_nothing(provenance: dict[str, Any]) -> None:
    groups = from_device_provenance(provenance)
    assert to_device_provenance(groups) == provenance
    assert changed_devices(groups) == len(provenance)
    # Field order within a device's change is kept, not only the values.
    back = to_device_provenance(groups)
    for device_id, change in provenance.items():
        assert list(back[device_id]) == list(change)
    # Equal changes are stored once.
    distinct = {
        json.dumps({k: [e.model_dump() for e in v] for k, v in c.items()})
        for c in provenance.values()
    }
    assert len(groups) == len(distinct)


@given(per_device)
def test_the_serialised_groups_read_back_equal(provenance: dict[str, Any]) -> None:
    groups = from_device_provenance(provenance)
    text = b"".join(dump_groups(groups))
    assert PROVENANCE.validate_json(text) == groups
    assert json.loads(text) == json.loads(PROVENANCE.dump_json(groups))


@given(per_device)
def test_a_format_1_ledger_value_is_migrated_on_read(provenance: dict[str, Any]) -> None:
    old = json.dumps(
        {
            d: {f: [e.model_dump(mode="json") for e in es] for f, es in c.items()}
            for d, c in provenance.items()
        }
    )
    migrated = PROVENANCE.validate_json(old)
    assert to_device_provenance(migrated) == provenance


def test_an_empty_revision_has_no_groups() -> None:
    assert from_device_provenance({}) == []
    assert b"".join(dump_groups([])) == b"[]"
    assert PROVENANCE.validate_json(b"[]") == []
    assert PROVENANCE.validate_json(b"{}") == []


def test_the_builder_groups_devices_with_equal_changes_in_first_seen_order() -> None:
    grant = FieldEdit(added=("operator.read",))
    builder = ProvenanceBuilder()
    builder.add("b", {"scopes": [grant], "tokens.operator": [grant]})
    builder.add("a", {"scopes": [grant]})
    builder.add("c", {"scopes": [FieldEdit(added=("operator.read",))], "tokens.operator": [grant]})
    builder.add("d", {})  # nothing changed: not recorded
    assert len(builder) == 3
    assert builder.build() == [
        EditGroup(fields={"scopes": [grant], "tokens.operator": [grant]}, devices=["b", "c"]),
        EditGroup(fields={"scopes": [grant]}, devices=["a"]),
    ]


def test_a_real_run_of_the_engine_converts_both_ways() -> None:
    """The engine's own provenance (grouped) of a grant then a revoke."""
    devices = [
        DeviceState(
            device_id=f"d{i}",
            label=f"d{i}",
            roles=frozenset({"operator"}),
            fields={"scopes": ["operator.admin"] if i % 3 else [], "tokens.operator": []},
        )
        for i in range(30)
    ]
    chain = [
        Migration(
            revision="r1",
            release="2026.3.1",
            operations=(
                Grant(role="operator", scopes=("operator.read",), if_any=("operator.admin",)),
            ),
        ),
        Migration(
            revision="r2",
            down_revision=("r1",),
            release="2026.3.2",
            operations=(Revoke(role="operator", scopes=("operator.admin",)),),
        ),
    ]
    outcome = engine.upgrade(chain, devices, [], "now")
    for entry in outcome.applied.values():
        groups = entry.provenance
        assert len(groups) == 1
        assert from_device_provenance(to_device_provenance(groups)) == groups
        stored = AppliedRevision.model_validate_json(entry.model_dump_json())
        assert PROVENANCE.validate_python(stored.model_dump()["provenance"]) == groups


class _Entry(BaseModel):
    provenance: Provenance


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ('{"d1": {"scopes": [{"added": 3}]}}', "added"),
        ('{"d1": ["scopes"]}', "device d1"),
    ],
)
def test_a_format_1_value_that_is_not_provenance_is_refused_in_one_line(
    bad: str, named: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _Entry.model_validate_json(f'{{"provenance": {bad}}}')
    message = caught.value.errors()[0]["msg"]
    assert "\n" not in message and named in message, message
