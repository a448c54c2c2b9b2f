"""The engine: applies a planned chain of revisions to devices in one pass.

Every step of a run is folded into one change per device: each device is
visited once, all steps are applied to it in memory, and the store writes the
result once. Cost grows with the store, not with the length of the chain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson

from scopemigrate.devices import (
    TOKEN_PREFIX,
    ChangeSet,
    DevicePlan,
    DeviceState,
    PendingRequest,
    ScopeList,
)
from scopemigrate.devices import net_plan as net_plan  # re-exported: moved to devices.py
from scopemigrate.errors import BadStoreError
from scopemigrate.ledger import AppliedRevision, RemovedPending
from scopemigrate.migration import Migration
from scopemigrate.operations import FieldEdit, Grant, Operation, Rename, Revoke, undo_edit
from scopemigrate.progress import DOWNGRADING, NO_PROGRESS, UPGRADING, Progress
from scopemigrate.provenance import DeviceChange, ProvenanceBuilder, iter_device_changes


@dataclass
class Outcome:
    """What a run computed: the change to write and the ledger entries it implies."""

    changes: ChangeSet = field(default_factory=ChangeSet)
    applied: dict[str, AppliedRevision] = field(default_factory=dict)
    # Each changed device's plan, when a report was asked for (else empty).
    devices: list[DevicePlan] = field(default_factory=list)

    @property
    def unreported(self) -> int:
        """Devices changed and not listed in ``devices`` (no report asked for)."""
        return len(self.changes.devices) - len(self.devices)


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


_Shape = tuple[object, ...]


def _lists(device: DeviceState) -> _Shape | bytes:
    """A device's scope lists, hashable: their JSON text, which tells apart any two
    different sets of lists (and is a sixth of the cost of a tuple of tuples,
    computed for every device); a tuple of tuples where it cannot be written
    (a string that is not UTF-8)."""
    try:
        return orjson.dumps(device.fields)
    except TypeError:
        return tuple((n, None if v is None else tuple(v)) for n, v in device.fields.items())


def _shape(device: DeviceState) -> _Shape:
    """What operations read of a device: its roles, client and scope lists."""
    return (device.roles, device.client_id, device.client_mode, _lists(device))


# A device's net change: its plan and its changed fields' final values (None: unchanged).
_Result = tuple[DevicePlan, dict[str, ScopeList]] | None


def _result(device: DeviceState, before: dict[str, ScopeList]) -> _Result:
    plan = net_plan(device, before)
    return None if plan is None else (plan, _changed_fields(device, before))


def _record(outcome: Outcome, device: DeviceState, result: _Result, report: bool) -> None:
    """Record ``result`` for ``device``: its change, and its plan when a report is
    asked for (``report``; else it is counted: ``Outcome.unreported``). Devices of
    one shape share the result's lists and dicts (nothing edits a plan or a
    change set once made): at 100k devices, a plan and a change each per device
    were a sixth of the peak."""
    if result is None:
        return
    plan, changed = result
    outcome.changes.devices[device.device_id] = changed
    if not report:
        return
    if plan.device_id != device.device_id:
        plan = DevicePlan(
            device.device_id, device.label, plan.added, plan.removed, plan.emptied, plan.created
        )
    outcome.devices.append(plan)


def _delta(before: dict[str, ScopeList], after: dict[str, ScopeList]) -> dict[str, ScopeList]:
    """The fields ``after`` sets that ``before`` does not hold as it is."""
    return {n: v for n, v in after.items() if n not in before or v != before[n]}


def upgrade(
    steps: Sequence[Migration],
    devices: Sequence[DeviceState],
    pending: Sequence[PendingRequest],
    applied_at: str,
    progress: Progress = NO_PROGRESS,
    report: bool = True,
) -> Outcome:
    """Apply ``steps`` in order to every device, recording provenance per step;
    each changed device's plan only with ``report`` (else they are counted)."""
    outcome = Outcome()
    provenance = {m.revision: ProvenanceBuilder() for m in steps}
    removed_pending: dict[str, list[RemovedPending]] = defaultdict(list)
    repairs: dict[str, list[tuple[int, PendingRequest]]] = defaultdict(list)
    for index, request in enumerate(pending):
        if request.is_repair:
            repairs[request.device_id].append((index, request))

    by_kind = _OperationIndex(steps)
    # Per shape: the fields its devices end with that differ from what they
    # held, the provenance groups they join, and their net change.
    memo: dict[_Shape, tuple[dict[str, ScopeList], list[list[str]], _Result]] = {}
    progress.start(UPGRADING, len(devices))
    for count, device in enumerate(devices, 1):
        if count % _REPORT_EVERY == 0:
            progress.advance(_REPORT_EVERY)
        asked = repairs.get(device.device_id)
        device_repairs = [(i, r) for i, r in asked if r.roles <= device.roles] if asked else []
        # Without repair requests, a device's edits follow from what operations
        # read of it (roles, client, scope lists): computed once per such kind.
        shape = None if device_repairs else _shape(device)
        known = None if shape is None else memo.get(shape)
        if known is not None:
            delta, groups, result = known
            if delta:
                device.fields.update({n: None if v is None else list(v) for n, v in delta.items()})
            for group in groups:
                group.append(device.device_id)
            _record(outcome, device, result, report)
            continue
        before = dict(device.fields)
        made = []
        for migration, operations in by_kind.for_device(device):
            if not operations and not device_repairs:
                continue
            # Decided per step, as a run of this step alone would, so that a
            # composed run and the same steps run one by one agree.
            open_repairs = [(i, r) for i, r in device_repairs if not _holds(device.scopes(), r)]
            change: dict[str, list[FieldEdit]] = {}
            for operation in operations:
                if not operation.matches(device):
                    continue
                for name in list(operation.target_fields(device)):
                    value, edit = operation.edit(name, device.fields.get(name))
                    if edit is None:
                        continue
                    device.fields[name] = value
                    change.setdefault(name, []).append(edit)
            provenance[migration.revision].add(device.device_id, change)
            if change:
                made.append((migration.revision, change))
            if open_repairs:
                held = device.scopes()
                satisfied = [(i, r) for i, r in open_repairs if _holds(held, r)]
                for i, request in satisfied:
                    removed_pending[migration.revision].append(
                        RemovedPending(index=i, record=request.raw, request_id=request.request_id)
                    )
                    outcome.changes.pending_removed.append(request.request_id)
                device_repairs = [item for item in device_repairs if item not in satisfied]
        result = _result(device, before)
        if shape is not None:
            groups = [provenance[revision].devices_of(edits) for revision, edits in made]
            memo[shape] = (_delta(before, device.fields), groups, result)
        _record(outcome, device, result, report)
    progress.finish()

    for migration in steps:
        outcome.applied[migration.revision] = AppliedRevision(
            migration=migration,
            applied_at=applied_at,
            provenance=provenance[migration.revision].build(),
            removed_pending=removed_pending.get(migration.revision, []),
        )
    return outcome


def downgrade(
    steps: Sequence[AppliedRevision],
    devices: Iterable[DeviceState],
    pending: Sequence[PendingRequest],
    progress: Progress = NO_PROGRESS,
    report: bool = True,
) -> Outcome:
    """Undo ``steps`` (children first) using their recorded provenance only; each
    changed device's plan only with ``report`` (else they are counted).

    A scope a device held before the upgrade, or was granted since by a person
    or the product, is not in the provenance and so is never removed.
    """
    outcome = Outcome()
    by_id = {device.device_id: device for device in devices}
    present = {request.request_id for request in pending}
    # Each device's changes to undo, in the order of ``steps``: the groups'
    # own dicts, shared by every device of a group.
    undo: dict[str, list[DeviceChange]] = defaultdict(list)
    for entry in steps:
        for device_id, fields in iter_device_changes(entry.provenance):
            if device_id in by_id:  # else unpaired since: nothing left to undo
                undo[device_id].append(fields)
    for entry in steps:
        for removed in entry.removed_pending:
            request_id = removed.key()
            if request_id and request_id not in present:
                outcome.changes.pending_restored.append((removed.index, removed.record))
                present.add(request_id)
    # Devices holding the same lists that undo the same groups end the same:
    # computed once per such kind, as an upgrade does. Counted out of the
    # store's devices, as an upgrade is: each device once.
    progress.start(DOWNGRADING, len(by_id))
    memo: dict[tuple[tuple[int, ...], object], tuple[dict[str, ScopeList], _Result]] = {}
    for count, (device_id, device) in enumerate(by_id.items(), 1):
        if count % _REPORT_EVERY == 0:
            progress.advance(_REPORT_EVERY)
        changes = undo.get(device_id)
        if changes is None:
            continue
        key = (tuple(map(id, changes)), _lists(device))
        known = memo.get(key)
        if known is None:
            before = dict(device.fields)
            _undo(device, changes)
            known = memo[key] = (_delta(before, device.fields), _result(device, before))
        elif known[0]:
            device.fields.update({n: None if v is None else list(v) for n, v in known[0].items()})
        _record(outcome, device, known[1], report)
    progress.advance(len(by_id) % _REPORT_EVERY)
    progress.finish()
    return outcome


def _undo(device: DeviceState, changes: Iterable[DeviceChange]) -> None:
    for fields in changes:
        for name, edits in fields.items():
            if name not in device.fields:
                continue  # the token was removed since
            for edit in reversed(edits):
                device.fields[name] = undo_edit(device.fields[name], edit)


def _reach(operations: Iterable[Operation]) -> tuple[set[str], set[str]]:
    """The scopes ``operations`` can add, and those they can remove."""
    adds: set[str] = set()
    removes: set[str] = set()
    for op in operations:
        if isinstance(op, Grant):
            adds.update(op.scopes)
        elif isinstance(op, Revoke):
            removes.update(op.scopes)
        elif isinstance(op, Rename):
            adds.add(op.new)
            removes.add(op.old)
    return adds, removes


def check_provenance(entry: AppliedRevision, migration: Migration, where: str) -> None:
    """Refuse provenance that ``migration``'s own operations could not have recorded.

    Provenance is read from the ledger, a file anyone who can write the store
    can edit: trusted as is, it would let a downgrade remove any scope (say
    ``operator.admin``, which no revision ever added). Each recorded edit must
    add only scopes the revision grants (or renames to), remove only those it
    revokes (or renames from), and touch a token only of a role it edits.
    ``migration`` is the installed file's when there is one, so an edited copy
    of the revision in the ledger proves nothing.
    """
    everywhere = _reach(migration.operations)
    by_role: dict[str, tuple[set[str], set[str]]] = {}
    for op in migration.operations:
        by_role.setdefault(op.role, _reach(o for o in migration.operations if o.role == op.role))
    for group in entry.provenance:
        device_id = group.devices[0] if group.devices else "(none)"
        for name, edits in group.fields.items():
            role = name[len(TOKEN_PREFIX) :] if name.startswith(TOKEN_PREFIX) else None
            adds, removes = everywhere if role is None else by_role.get(role, (set(), set()))
            # A pattern or role-prefix revoke removes scopes it does not name.
            revokes = [
                op
                for op in migration.operations
                if isinstance(op, Revoke) and (role is None or op.role == role)
            ]
            for edit in edits:
                beyond = [s for s in edit.added if s not in adds]
                beyond += [
                    s
                    for _, s in edit.removed
                    if s not in removes and not any(op.revokes(s) for op in revokes)
                ]
                if beyond:
                    raise BadStoreError(
                        f"{where}: revision {migration.revision}, device {device_id}, "
                        f"field {name}: the provenance records a change of {beyond[0]}, which "
                        "none of the revision's operations makes; the ledger was edited, and a "
                        "downgrade undoes only what the revision did: nothing was changed"
                    )
