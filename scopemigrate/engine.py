"""The engine: applies a planned chain of revisions to devices in one pass.

Every step of a run is folded into one change per device: each device is
visited once, all steps are applied to it in memory, and the store writes the
result once. Cost grows with the store, not with the length of the chain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from scopemigrate.devices import ChangeSet, DevicePlan, DeviceState, PendingRequest, ScopeList
from scopemigrate.devices import net_plan as net_plan  # re-exported: moved to devices.py
from scopemigrate.ledger import AppliedRevision, DeviceProvenance, RemovedPending
from scopemigrate.migration import Migration
from scopemigrate.operations import Operation, undo_edit
from scopemigrate.progress import NO_PROGRESS, Progress


@dataclass
class Outcome:
    """What a run computed: the change to write and the ledger entries it implies."""

    changes: ChangeSet = field(default_factory=ChangeSet)
    applied: dict[str, AppliedRevision] = field(default_factory=dict)
    devices: list[DevicePlan] = field(default_factory=list)


def _holds(device_scopes: Iterable[str], request: PendingRequest) -> bool:
    return set(request.scopes) <= set(device_scopes)


def _changed_fields(device: DeviceState, before: dict[str, ScopeList]) -> dict[str, ScopeList]:
    return {name: value for name, value in device.fields.items() if value != before.get(name)}


# A device's kind: what an operation's filter can decide without its scopes.
_Kind = tuple[frozenset[str], str | None, str | None]


class _OperationIndex:
    """Per kind of device, the operations of each step that can apply to it.

    A store holds few kinds of device (roles, client id, client mode) and a
    long chain holds many operations meant for other kinds; looking them up
    once per kind keeps a run's cost growing with the store, not the chain.
    """

    def __init__(self, steps: Sequence[Migration]):
        self.steps = steps
        self._by_kind: dict[_Kind, list[tuple[Migration, list[Operation]]]] = {}

    def for_device(self, device: DeviceState) -> list[tuple[Migration, list[Operation]]]:
        kind = (device.roles, device.client_id, device.client_mode)
        found = self._by_kind.get(kind)
        if found is None:
            found = [(m, [op for op in m.operations if op.could_match(*kind)]) for m in self.steps]
            self._by_kind[kind] = found
        return found


# Devices between two progress reports: rare enough to cost nothing.
_REPORT_EVERY = 4096


def upgrade(
    steps: Sequence[Migration],
    devices: Sequence[DeviceState],
    pending: Sequence[PendingRequest],
    applied_at: str,
    progress: Progress = NO_PROGRESS,
) -> Outcome:
    """Apply ``steps`` in order to every device, recording provenance per step."""
    outcome = Outcome()
    provenance: dict[str, DeviceProvenance] = {m.revision: {} for m in steps}
    removed_pending: dict[str, list[RemovedPending]] = defaultdict(list)
    repairs: dict[str, list[tuple[int, PendingRequest]]] = defaultdict(list)
    for index, request in enumerate(pending):
        if request.is_repair:
            repairs[request.device_id].append((index, request))

    by_kind = _OperationIndex(steps)
    progress.start("Upgrading", len(devices))
    for count, device in enumerate(devices, 1):
        if count % _REPORT_EVERY == 0:
            progress.advance(_REPORT_EVERY)
        before = dict(device.fields)
        device_repairs = [
            (i, r) for i, r in repairs.get(device.device_id, ()) if r.roles <= device.roles
        ]
        for migration, operations in by_kind.for_device(device):
            if not operations and not device_repairs:
                continue
            # Decided per step, as a run of this step alone would, so that a
            # composed run and the same steps run one by one agree.
            open_repairs = [(i, r) for i, r in device_repairs if not _holds(device.scopes(), r)]
            for operation in operations:
                if not operation.matches(device):
                    continue
                for name in list(operation.target_fields(device)):
                    value, edit = operation.edit(name, device.fields.get(name))
                    if edit is None:
                        continue
                    device.fields[name] = value
                    per_device = provenance[migration.revision].setdefault(device.device_id, {})
                    per_device.setdefault(name, []).append(edit)
            if open_repairs:
                held = device.scopes()
                satisfied = [(i, r) for i, r in open_repairs if _holds(held, r)]
                for i, request in satisfied:
                    removed_pending[migration.revision].append(
                        RemovedPending(index=i, record=request.raw, request_id=request.request_id)
                    )
                    outcome.changes.pending_removed.append(request.request_id)
                device_repairs = [item for item in device_repairs if item not in satisfied]
        plan = net_plan(device, before)
        if plan is not None:
            outcome.devices.append(plan)
            outcome.changes.devices[device.device_id] = _changed_fields(device, before)
    progress.finish()

    for migration in steps:
        outcome.applied[migration.revision] = AppliedRevision(
            migration=migration,
            applied_at=applied_at,
            provenance=provenance[migration.revision],
            removed_pending=removed_pending.get(migration.revision, []),
        )
    return outcome


def downgrade(
    steps: Sequence[AppliedRevision],
    devices: Iterable[DeviceState],
    pending: Sequence[PendingRequest],
    progress: Progress = NO_PROGRESS,
) -> Outcome:
    """Undo ``steps`` (children first) using their recorded provenance only.

    A scope a device held before the upgrade, or was granted since by a person
    or the product, is not in the provenance and so is never removed.
    """
    outcome = Outcome()
    by_id = {device.device_id: device for device in devices}
    before = {device_id: dict(device.fields) for device_id, device in by_id.items()}
    touched: set[str] = set()
    present = {request.request_id for request in pending}
    progress.start("Downgrading", sum(len(entry.provenance) for entry in steps))
    for entry in steps:
        for count, (device_id, fields) in enumerate(entry.provenance.items(), 1):
            if count % _REPORT_EVERY == 0:
                progress.advance(_REPORT_EVERY)
            device = by_id.get(device_id)
            if device is None:
                continue  # unpaired since: nothing left to undo
            for name, edits in fields.items():
                if name not in device.fields:
                    continue  # the token was removed since
                for edit in reversed(edits):
                    device.fields[name] = undo_edit(device.fields[name], edit)
            touched.add(device_id)
        for removed in entry.removed_pending:
            request_id = removed.key()
            if request_id and request_id not in present:
                outcome.changes.pending_restored.append((removed.index, removed.record))
                present.add(request_id)
    progress.finish()
    for device_id, device in by_id.items():
        if device_id not in touched:
            continue
        plan = net_plan(device, before[device_id])
        if plan is not None:
            outcome.devices.append(plan)
            outcome.changes.devices[device_id] = _changed_fields(device, before[device_id])
    return outcome
