"""The engine: one pass per device over a whole chain, and its exact inverse.

Properties, for generated devices and chains of grant/revoke/rename steps:
composing a chain equals applying it step by step, and a downgrade through
the recorded provenance gives back every device exactly.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from scopemigrate import engine
from scopemigrate.devices import DeviceState, PendingRequest
from scopemigrate.migration import Migration
from scopemigrate.operations import Grant, Rename, Revoke

SCOPES = ["operator.read", "operator.write", "operator.admin", "operator.talk", "node.exec"]
ROLES = ["operator", "node"]
AT = "2026-11-25T00:00:00.000Z"

scope_list = st.lists(st.sampled_from(SCOPES), max_size=4, unique=True)
filters = st.fixed_dictionaries(
    {},
    optional={
        "if_any": st.lists(st.sampled_from(SCOPES), min_size=1, max_size=2).map(tuple),
        "if_none": st.lists(st.sampled_from(SCOPES), min_size=1, max_size=2).map(tuple),
        "client_modes": st.just(("cli",)),
    },
)


@st.composite
def operations(draw: st.DrawFn) -> Grant | Revoke | Rename:
    kind = draw(st.sampled_from(["grant", "revoke", "rename"]))
    common: dict[str, Any] = {"role": draw(st.sampled_from(ROLES)), **draw(filters)}
    if kind == "rename":
        old, new = draw(st.lists(st.sampled_from(SCOPES), min_size=2, max_size=2, unique=True))
        return Rename(old=old, new=new, **common)
    scopes = tuple(draw(st.lists(st.sampled_from(SCOPES), min_size=1, max_size=2)))
    return Grant(scopes=scopes, **common) if kind == "grant" else Revoke(scopes=scopes, **common)


@st.composite
def chains(draw: st.DrawFn) -> list[Migration]:
    steps = draw(st.lists(st.lists(operations(), min_size=1, max_size=3), min_size=1, max_size=5))
    chain: list[Migration] = []
    for index, ops in enumerate(steps):
        chain.append(
            Migration(
                revision=f"rev{index}",
                down_revision=(f"rev{index - 1}",) if index else (),
                release=f"2026.{index + 1}.1",
                operations=tuple(ops),
            )
        )
    return chain


@st.composite
def device_states(draw: st.DrawFn, index: int) -> DeviceState:
    roles = draw(st.sets(st.sampled_from(ROLES), min_size=1))
    fields: dict[str, list[str] | None] = {
        "scopes": draw(st.one_of(st.none(), scope_list)),
        "approvedScopes": draw(st.one_of(st.none(), scope_list)),
    }
    for role in sorted(roles):
        if draw(st.booleans()):
            fields[f"tokens.{role}"] = sorted(draw(scope_list))
    return DeviceState(
        device_id=f"{index:064x}",
        label=f"device {index}",
        roles=frozenset(roles),
        client_id="cli",
        client_mode=draw(st.sampled_from(["cli", "webchat"])),
        fields=fields,
    )


@st.composite
def stores(draw: st.DrawFn) -> tuple[list[DeviceState], list[PendingRequest]]:
    count = draw(st.integers(min_value=1, max_value=6))
    devices = [draw(device_states(i)) for i in range(count)]
    pending = [
        PendingRequest(
            request_id=f"req-{n}",
            device_id=devices[draw(st.integers(0, count - 1))].device_id,
            roles=frozenset({"operator"}),
            scopes=tuple(draw(st.lists(st.sampled_from(SCOPES), min_size=1, max_size=2))),
            is_repair=draw(st.booleans()),
            raw={"requestId": f"req-{n}"},
        )
        for n in range(draw(st.integers(0, 3)))
    ]
    return devices, pending


def fields_of(devices: list[DeviceState]) -> dict[str, dict[str, list[str] | None]]:
    return {d.device_id: dict(d.fields) for d in devices}


def apply_changes(devices: list[DeviceState], outcome: engine.Outcome) -> None:
    """What a store does with a ChangeSet, for the in-memory model."""
    for device in devices:
        device.fields.update(outcome.changes.devices.get(device.device_id, {}))


@settings(max_examples=300, deadline=None)
@given(store=stores(), chain=chains())
def test_composing_a_chain_equals_applying_it_step_by_step(
    store: tuple[list[DeviceState], list[PendingRequest]], chain: list[Migration]
) -> None:
    devices, pending = store
    composed_devices = copy.deepcopy(devices)
    composed = engine.upgrade(chain, composed_devices, pending, AT)

    stepwise_devices = copy.deepcopy(devices)
    remaining = list(pending)
    stepwise_applied = {}
    for migration in chain:
        outcome = engine.upgrade([migration], copy.deepcopy(stepwise_devices), remaining, AT)
        apply_changes(stepwise_devices, outcome)
        stepwise_applied.update(outcome.applied)
        gone = set(outcome.changes.pending_removed)
        remaining = [r for r in remaining if r.request_id not in gone]

    assert fields_of(composed_devices) == fields_of(stepwise_devices)
    for revision, entry in composed.applied.items():
        assert entry.provenance == stepwise_applied[revision].provenance
        # Indexes differ (each step sees the list left by the one before); the requests do not.
        assert [r.record for r in entry.removed_pending] == [
            r.record for r in stepwise_applied[revision].removed_pending
        ]
    # The ChangeSet holds only what changed, and exactly the final values.
    for device in composed_devices:
        original = next(d for d in devices if d.device_id == device.device_id)
        changed = composed.changes.devices.get(device.device_id, {})
        assert changed == {k: v for k, v in device.fields.items() if v != original.fields.get(k)}


@settings(max_examples=300, deadline=None)
@given(store=stores(), chain=chains())
def test_upgrade_then_downgrade_gives_back_every_device(
    store: tuple[list[DeviceState], list[PendingRequest]], chain: list[Migration]
) -> None:
    devices, pending = store
    working = copy.deepcopy(devices)
    up = engine.upgrade(chain, working, pending, AT)
    left = [r for r in pending if r.request_id not in set(up.changes.pending_removed)]
    steps = [up.applied[m.revision] for m in reversed(chain)]
    down = engine.downgrade(steps, copy.deepcopy(working), left)
    apply_changes(working, down)
    assert fields_of(working) == fields_of(devices)
    restored = sorted(record["requestId"] for _, record in down.changes.pending_restored)
    assert restored == sorted(up.changes.pending_removed)


def test_satisfied_repair_requests_are_removed_and_attributed_to_their_step() -> None:
    device = DeviceState(
        device_id="a" * 64,
        label="cli",
        roles=frozenset({"operator"}),
        fields={"scopes": ["operator.admin"], "tokens.operator": ["operator.admin"]},
    )
    repair = PendingRequest(
        request_id="r1",
        device_id=device.device_id,
        roles=frozenset({"operator"}),
        scopes=("operator.write",),
        is_repair=True,
        raw={"requestId": "r1"},
    )
    unrelated = PendingRequest("r2", "b" * 64, frozenset({"operator"}), ("x.y",), True, {})
    first = Migration(
        revision="one",
        release="2026.2.19",
        operations=(Grant(role="operator", scopes=("operator.read",)),),
    )
    second = Migration(
        revision="two",
        down_revision=("one",),
        release="2026.2.20",
        operations=(Grant(role="operator", scopes=("operator.write",)),),
    )
    outcome = engine.upgrade([first, second], [device], [repair, unrelated], AT)
    assert outcome.changes.pending_removed == ["r1"]
    assert outcome.applied["one"].removed_pending == []
    assert [r.index for r in outcome.applied["two"].removed_pending] == [0]
    assert outcome.devices[0].added == {
        "scopes": ["operator.read", "operator.write"],
        "tokens.operator": ["operator.read", "operator.write"],
    }


def test_downgrade_skips_devices_unpaired_since_and_tokens_removed_since() -> None:
    device = DeviceState(
        device_id="c" * 64,
        label="cli",
        roles=frozenset({"operator"}),
        fields={"scopes": ["operator.admin"], "tokens.operator": ["operator.admin"]},
    )
    grant = Migration(
        revision="one",
        release="2026.2.19",
        operations=(Grant(role="operator", scopes=("operator.read",)),),
    )
    up = engine.upgrade([grant], [device], [], AT)
    del device.fields["tokens.operator"]  # token revoked and removed by the gateway since
    down = engine.downgrade([up.applied["one"]], [device], [])
    assert down.changes.devices == {device.device_id: {"scopes": ["operator.admin"]}}
    assert engine.downgrade([up.applied["one"]], [], []).changes.is_empty()


def test_devices_of_one_kind_get_their_edit_computed_once(monkeypatch: Any) -> None:
    """Same roles, client and scope lists: one computed edit, applied to each device."""
    calls: list[str] = []
    original = Grant.edit

    def counted(self: Grant, name: str, current: Any) -> Any:
        calls.append(name)
        return original(self, name, current)

    monkeypatch.setattr(Grant, "edit", counted)
    devices = [
        DeviceState(
            device_id=f"d{i}",
            label=f"d{i}",
            roles=frozenset({"operator"}),
            fields={"scopes": ["operator.admin"], "tokens.operator": ["operator.admin"]},
        )
        for i in range(50)
    ]
    step = Migration(
        revision="r1",
        release="2026.3.1",
        operations=(Grant(role="operator", scopes=("operator.read",), if_any=("operator.admin",)),),
    )
    outcome = engine.upgrade([step], devices, [], "now")
    assert len(calls) == 2  # two lists of the first device; none for the other 49
    assert len(outcome.devices) == 50
    assert all(d.fields["scopes"] == ["operator.admin", "operator.read"] for d in devices)
    assert devices[0].fields["scopes"] is not devices[1].fields["scopes"]
    (group,) = outcome.applied["r1"].provenance
    assert group.devices == [f"d{i}" for i in range(50)]


def _operators(count: int, scopes: list[str]) -> list[DeviceState]:
    return [
        DeviceState(
            device_id=f"d{i}",
            label=f"d{i}",
            roles=frozenset({"operator"}),
            fields={"scopes": list(scopes), "tokens.operator": list(scopes)},
        )
        for i in range(count)
    ]


GRANT_READ = Migration(
    revision="r1",
    release="2026.3.1",
    operations=(Grant(role="operator", scopes=("operator.read",), if_any=("operator.admin",)),),
)


def test_without_a_report_changes_are_counted_not_listed() -> None:
    """``report=False`` (no ``-v``, no ``--json``): the same changes and provenance,
    and the changed devices counted instead of a plan built for each."""
    listed = engine.upgrade([GRANT_READ], _operators(5, ["operator.admin"]), [], AT)
    counted = engine.upgrade([GRANT_READ], _operators(5, ["operator.admin"]), [], AT, report=False)
    assert counted.devices == [] and counted.unreported == 5
    assert listed.unreported == 0 and len(listed.devices) == 5
    assert counted.changes == listed.changes
    assert counted.applied == listed.applied
    down = engine.downgrade(
        [counted.applied["r1"]],
        _operators(5, ["operator.admin", "operator.read"]),
        [],
        report=False,
    )
    assert down.devices == [] and down.unreported == 5


def test_devices_of_a_shape_no_step_changes_are_left_as_they_are() -> None:
    devices = _operators(3, ["operator.read"])  # no operator.admin: nothing to grant
    lists = [device.fields["scopes"] for device in devices]
    outcome = engine.upgrade([GRANT_READ], devices, [], AT)
    assert outcome.changes.is_empty() and outcome.devices == []
    assert [device.fields["scopes"] for device in devices] == lists
    assert all(d.fields["scopes"] is kept for d, kept in zip(devices, lists, strict=True))


def test_lists_holding_a_string_json_cannot_write_share_their_edit_too() -> None:
    """A scope that is no UTF-8 text (a lone surrogate, which a device built through
    the Python API may hold) has no JSON text to key a device's shape by: its
    lists as a tuple instead."""
    devices = _operators(3, ["operator.admin", "\ud800"])
    outcome = engine.upgrade([GRANT_READ], devices, [], AT)
    assert len(outcome.devices) == 3
    assert all(d.fields["scopes"] == ["operator.admin", "\ud800", "operator.read"] for d in devices)
    (group,) = outcome.applied["r1"].provenance
    assert group.devices == ["d0", "d1", "d2"]
