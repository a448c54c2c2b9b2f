"""One function per verb. These are the public Python API; the CLI only renders them.

Each returns a frozen result object; none prints. The flow of a run:
load migration files -> open the store and take its lock -> read the ledger ->
plan -> (read devices, compose, apply in memory) -> commit once -> result.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from scopemigrate import engine, findings
from scopemigrate.config import Config
from scopemigrate.devices import ChangeSet
from scopemigrate.engine import DevicePlan
from scopemigrate.errors import (
    RunFailedError,
    ScopemigrateError,
    StoreAheadError,
    StoreChangedError,
)
from scopemigrate.findings import Finding
from scopemigrate.graph import RevisionGraph
from scopemigrate.headmark import digest_of
from scopemigrate.ledger import AppliedRevision, Ledger, RunRecord, now_iso, who
from scopemigrate.migration import Migration
from scopemigrate.progress import NO_PROGRESS, Progress
from scopemigrate.revisions import history_range
from scopemigrate.scripts import MigrationScript, load_locations
from scopemigrate.stores import open_store
from scopemigrate.stores.base import InPlaceResult, InPlaceStore, Snapshot, Store
from scopemigrate.versions import parse_release

# A gateway may rewrite paired.json at any moment; redo the run on the new
# content this many times before giving up.
MAX_ATTEMPTS = 5


def tool_version() -> str:
    from scopemigrate import __version__

    return __version__


@dataclass(frozen=True)
class RunResult:
    """The result of ``upgrade`` or ``downgrade`` (or their dry runs)."""

    store: str
    direction: Literal["upgrade", "downgrade"]
    from_heads: list[str]
    to_heads: list[str]
    revisions: list[str]
    devices: list[DevicePlan]
    pending_removed: int = 0
    pending_restored: int = 0
    dry_run: bool = False
    store_exists: bool = True
    # Devices changed and not listed in ``devices``: a set-based run asked for
    # no report (``report=False``) only counts them.
    unreported_devices: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.revisions) and not self.dry_run

    @property
    def devices_changed(self) -> int:
        return len(self.devices) + self.unreported_devices

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"changed": self.changed, "devices_changed": self.devices_changed}


@dataclass(frozen=True)
class RevisionInfo:
    revision: str
    down_revision: list[str]
    release: str
    message: str
    applied: bool
    is_head: bool
    source: str | None
    operations: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class CurrentResult:
    store: str
    store_exists: bool
    heads: list[str]
    revisions: list[RevisionInfo]
    last_run: RunRecord | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_run"] = self.last_run.model_dump() if self.last_run else None
        return data


@dataclass(frozen=True)
class HistoryResult:
    store: str
    revisions: list[RevisionInfo]  # newest first
    runs: list[RunRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "revisions": [asdict(r) for r in self.revisions],
            "runs": [r.model_dump() for r in self.runs],
        }


@dataclass(frozen=True)
class _Context:
    store: Store
    locations: tuple[Path, ...]
    scripts: list[MigrationScript]

    @cached_property
    def sources(self) -> dict[str, str]:
        return {s.migration.revision: str(s.path) for s in self.scripts}

    @cached_property
    def file_migrations(self) -> list[Migration]:
        return [s.migration for s in self.scripts]


def _context(config: Config) -> _Context:
    return _Context(
        store=open_store(config.store, config.env, config.keep_backups),
        locations=config.locations,
        scripts=load_locations(config.locations),
    )


def _move_heads(context: _Context, ledger: Ledger, heads: list[str]) -> None:
    """Set a ledger's heads, and its at-head mark (headmark.py) when they are the
    heads of the migration files alone, marked by a digest of the bytes loaded."""
    ledger.heads = heads
    ledger.at_head_of = None
    try:
        file_heads = RevisionGraph(context.file_migrations, context.sources).heads
    except ScopemigrateError:
        return  # the files need revisions only the ledger holds
    if set(heads) == set(file_heads):
        ledger.at_head_of = digest_of(
            [(s.path.name, s.raw) for s in context.scripts if s.path.parent == location]
            for location in context.locations
        )


def _graph(context: _Context, ledger: Ledger) -> RevisionGraph:
    """Files, plus migrations only the ledger still knows (an older package is installed)."""
    known = {m.revision for m in context.file_migrations}
    extra = [m for m in ledger.stored_migrations() if m.revision not in known]
    graph = RevisionGraph([*context.file_migrations, *extra], context.sources)
    unknown = [rev for rev in ledger.heads if rev not in graph.migrations]
    if unknown:
        raise StoreAheadError(
            f"{context.store.location}: the store records revision {', '.join(unknown)}, "
            "which neither the migration files nor the ledger explain; it was migrated by "
            "a newer release: install that release (or newer) instead of downgrading the store"
        )
    return graph


def _record(
    ledger: Ledger,
    direction: Literal["upgrade", "downgrade", "stamp"],
    new_heads: list[str],
    revisions: list[str],
    devices_changed: int,
) -> RunRecord:
    return RunRecord(
        direction=direction,
        from_heads=list(ledger.heads),
        to_heads=new_heads,
        revisions=revisions,
        devices_changed=devices_changed,
        at=now_iso(),
        by=who(),
        tool_version=tool_version(),
    )


@contextmanager
def _without_cycle_collector() -> Iterator[None]:
    """Pause Python's cycle collector while a run holds a whole store in memory.

    Parsing a store creates millions of containers and no reference cycles;
    the collector would walk them all again and again (measured: 40% of an
    upgrade at 100k devices) and free nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run(
    config: Config,
    target: str,
    dry_run: bool,
    direction: Literal["upgrade", "downgrade"],
    progress: Progress = NO_PROGRESS,
    report: bool = True,
) -> RunResult:
    context = _context(config)
    store = context.store
    if not store.exists():
        return RunResult(
            store.location, direction, [], [], [], [], dry_run=dry_run, store_exists=False
        )
    with store.lock(config.lock_timeout), _without_cycle_collector():
        for _ in range(MAX_ATTEMPTS):
            ledger = store.read_ledger()
            graph = _graph(context, ledger)
            applied = graph.ancestors(ledger.heads)
            wanted = graph.resolve(target, applied, downgrade=direction == "downgrade")
            plan_step: Callable[..., RunResult | None] = (
                _upgrade_once if direction == "upgrade" else _downgrade_once
            )
            try:
                result = plan_step(
                    context, graph, ledger, applied, wanted, dry_run, progress, report
                )
            except StoreChangedError:
                continue
            if result is None:
                return RunResult(
                    store.location,
                    direction,
                    list(ledger.heads),
                    list(ledger.heads),
                    [],
                    [],
                    dry_run=dry_run,
                )
            return result
    raise RunFailedError(
        f"{store.location}: the store kept changing under scopemigrate "
        f"({MAX_ATTEMPTS} attempts); the store was left as it was, run again"
    )


def _commit(store: Store, *args: Any) -> Snapshot | None:
    try:
        return store.commit(*args)
    except OSError as exc:
        raise RunFailedError(
            f"{store.location}: could not write the store ({exc.strerror or exc}); "
            "it was left as it was"
        ) from None


def _upgrade_once(
    context: _Context,
    graph: RevisionGraph,
    ledger: Ledger,
    applied: set[str],
    wanted: set[str],
    dry_run: bool,
    progress: Progress = NO_PROGRESS,
    report: bool = True,
) -> RunResult | None:
    store = context.store
    path = graph.upgrade_path(applied, wanted)
    if not path:
        return None  # at the target: no device is read, nothing is written
    steps = [graph.migrations[rev] for rev in path]
    new_heads = graph.heads_of(applied | set(path))
    if isinstance(store, InPlaceStore):
        applied_at = now_iso()

        def upgraded_ledger(result: InPlaceResult) -> Ledger:
            new_ledger = ledger.model_copy(deep=True)
            _move_heads(context, new_ledger, new_heads)
            for migration in steps:
                # Provenance stays in the store's own tables, next to the rows.
                new_ledger.applied[migration.revision] = AppliedRevision(
                    migration=migration, applied_at=applied_at
                )
            new_ledger.history.append(
                _record(ledger, "upgrade", new_heads, path, result.devices_changed)
            )
            return new_ledger

        done = store.upgrade_in_place(steps, upgraded_ledger, dry_run, report)
        return RunResult(
            store=store.location,
            direction="upgrade",
            from_heads=list(ledger.heads),
            to_heads=new_heads,
            revisions=path,
            devices=done.devices,
            unreported_devices=done.unreported,
            pending_removed=done.pending_removed,
            dry_run=dry_run,
        )
    snapshot = store.read()
    outcome = engine.upgrade(steps, snapshot.devices, snapshot.pending, now_iso(), progress)
    devices = list(outcome.devices)
    if not dry_run:
        new_ledger = ledger.model_copy(deep=True)
        _move_heads(context, new_ledger, new_heads)
        new_ledger.applied.update(outcome.applied)
        new_ledger.history.append(_record(ledger, "upgrade", new_heads, path, len(outcome.devices)))
        raced = _commit(store, snapshot, outcome.changes, new_ledger)
        seen = {device.device_id for device in snapshot.devices}
        devices += _adopt_newcomers(store, raced, steps, seen, new_ledger)
    return RunResult(
        store=store.location,
        direction="upgrade",
        from_heads=list(ledger.heads),
        to_heads=new_heads,
        revisions=path,
        devices=devices,
        pending_removed=len(outcome.changes.pending_removed),
        dry_run=dry_run,
    )


def _adopt_newcomers(
    store: Store,
    raced: Snapshot | None,
    steps: list[Migration],
    seen: set[str],
    ledger: Ledger,
) -> list[DevicePlan]:
    """Give the run's steps to devices a running gateway paired while we committed.

    An older gateway still running during a package upgrade can pair a device
    with the old scopes just after our commit; left alone it would break at the
    gateway's restart. The store reports such a race; the newcomers get the
    same steps, and their provenance joins the ledger so a downgrade undoes it.
    """
    adopted: list[DevicePlan] = []
    for _ in range(MAX_ATTEMPTS):
        if raced is None:
            break
        newcomers = [d for d in raced.devices if d.device_id not in seen]
        outcome = engine.upgrade(steps, newcomers, raced.pending, now_iso())
        if outcome.changes.is_empty():
            break
        candidate = ledger.model_copy(deep=True)
        for revision, entry in outcome.applied.items():
            candidate.applied[revision].provenance.update(entry.provenance)
            candidate.applied[revision].removed_pending.extend(entry.removed_pending)
        try:
            next_raced = _commit(store, raced, outcome.changes, candidate)
        except StoreChangedError:
            raced = store.read()
            continue
        ledger = candidate
        seen.update(d.device_id for d in newcomers)
        adopted += outcome.devices
        raced = next_raced
    return adopted


def _downgrade_once(
    context: _Context,
    graph: RevisionGraph,
    ledger: Ledger,
    applied: set[str],
    wanted: set[str],
    dry_run: bool,
    progress: Progress = NO_PROGRESS,
    report: bool = True,
) -> RunResult | None:
    store = context.store
    path = graph.downgrade_path(applied, wanted)
    if not path:
        return None
    if isinstance(store, InPlaceStore):
        down_heads = graph.heads_of(applied - set(path))

        def downgraded_ledger(result: InPlaceResult) -> Ledger:
            new_ledger = ledger.model_copy(deep=True)
            _move_heads(context, new_ledger, down_heads)
            for rev in path:
                new_ledger.applied.pop(rev, None)
            new_ledger.history.append(
                _record(ledger, "downgrade", down_heads, path, result.devices_changed)
            )
            return new_ledger

        done = store.downgrade_in_place(path, downgraded_ledger, dry_run, report)
        return RunResult(
            store=store.location,
            direction="downgrade",
            from_heads=list(ledger.heads),
            to_heads=down_heads,
            revisions=path,
            devices=done.devices,
            unreported_devices=done.unreported,
            pending_restored=done.pending_restored,
            dry_run=dry_run,
        )
    snapshot = store.read()
    entries = [ledger.applied[rev] for rev in path if rev in ledger.applied]
    outcome = engine.downgrade(entries, snapshot.devices, snapshot.pending, progress)
    new_heads = graph.heads_of(applied - set(path))
    result = RunResult(
        store=store.location,
        direction="downgrade",
        from_heads=list(ledger.heads),
        to_heads=new_heads,
        revisions=path,
        devices=outcome.devices,
        pending_restored=len(outcome.changes.pending_restored),
        dry_run=dry_run,
    )
    if not dry_run:
        new_ledger = ledger.model_copy(deep=True)
        _move_heads(context, new_ledger, new_heads)
        for rev in path:
            new_ledger.applied.pop(rev, None)
        new_ledger.history.append(
            _record(ledger, "downgrade", new_heads, path, len(outcome.devices))
        )
        _commit(store, snapshot, outcome.changes, new_ledger)
    return result


def upgrade(
    config: Config,
    target: str = "head",
    *,
    dry_run: bool = False,
    progress: Progress = NO_PROGRESS,
    report: bool = True,
) -> RunResult:
    """Bring the store up to ``target`` (``head``, a revision, or a release version)."""
    return _run(config, target, dry_run, "upgrade", progress, report)


def downgrade(
    config: Config,
    target: str,
    *,
    dry_run: bool = False,
    progress: Progress = NO_PROGRESS,
    report: bool = True,
) -> RunResult:
    """Undo applied revisions down to ``target``, exactly as recorded in the ledger."""
    return _run(config, target, dry_run, "downgrade", progress, report)


def _revision_infos(
    graph: RevisionGraph, context: _Context, applied: set[str]
) -> list[RevisionInfo]:
    heads = set(graph.heads)
    return [
        RevisionInfo(
            revision=rev,
            down_revision=list(graph.migrations[rev].down_revision),
            release=graph.migrations[rev].release,
            message=graph.migrations[rev].message,
            applied=rev in applied,
            is_head=rev in heads,
            source=context.sources.get(rev),
            operations=[op.model_dump(mode="json") for op in graph.migrations[rev].operations],
        )
        for rev in reversed(graph.order)
    ]


def current(config: Config) -> CurrentResult:
    """The revisions the store has applied (reads the ledger only)."""
    context = _context(config)
    store = context.store
    if not store.exists():
        return CurrentResult(store.location, False, [], [])
    ledger = store.read_ledger()
    graph = _graph(context, ledger)
    applied = graph.ancestors(ledger.heads)
    infos = [
        info for info in _revision_infos(graph, context, applied) if info.revision in ledger.heads
    ]
    return CurrentResult(
        store.location,
        True,
        list(ledger.heads),
        infos,
        ledger.history[-1] if ledger.history else None,
    )


def history(config: Config, rev_range: str | None = None) -> HistoryResult:
    """Known revisions, newest first, marked applied or not; and the store's run log.

    ``rev_range`` is ``LOWER:UPPER`` as in Alembic (``a:b``, ``a:``, ``:b``,
    ``current:``), both ends included.
    """
    context = _context(config)
    store = context.store
    ledger = store.read_ledger() if store.exists() else Ledger()
    graph = _graph(context, ledger)
    applied = graph.ancestors(ledger.heads)
    infos = _revision_infos(graph, context, applied)
    if rev_range:
        chosen = history_range(graph, rev_range, applied)
        infos = [info for info in infos if info.revision in chosen]
    return HistoryResult(store.location, infos, list(ledger.history))


@dataclass(frozen=True)
class StampResult:
    store: str
    from_heads: list[str]
    to_heads: list[str]
    store_exists: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"changed": self.from_heads != self.to_heads}


def stamp(config: Config, target: str) -> StampResult:
    """Record ``target`` as applied without changing any device (adopting a store).

    Stamped revisions carry no provenance, so a later downgrade through them
    changes no device either.
    """
    context = _context(config)
    store = context.store
    if not store.exists():
        return StampResult(store.location, [], [], store_exists=False)
    with store.lock(config.lock_timeout):
        ledger = store.read_ledger()
        graph = _graph(context, ledger)
        applied = graph.ancestors(ledger.heads)
        wanted = graph.ancestors(graph.resolve(target, applied))
        new_heads = graph.heads_of(wanted)
        if new_heads == list(ledger.heads):
            return StampResult(store.location, list(ledger.heads), new_heads)
        new_ledger = ledger.model_copy(deep=True)
        _move_heads(context, new_ledger, new_heads)
        at = now_iso()
        for rev in graph.in_order(wanted - applied):
            new_ledger.applied[rev] = AppliedRevision(
                migration=graph.migrations[rev], applied_at=at
            )
        for rev in applied - wanted:
            new_ledger.applied.pop(rev, None)
        changed_revs = graph.in_order(wanted ^ applied)
        new_ledger.history.append(
            _record(ledger, "stamp", new_heads, changed_revs, devices_changed=0)
        )
        _commit(store, store.read(), ChangeSet(), new_ledger)
        return StampResult(store.location, list(ledger.heads), new_heads)


@dataclass(frozen=True)
class VerifyResult:
    """Devices that do not satisfy the applied revisions, with what they lack."""

    store: str
    heads: list[str]
    devices: list[DevicePlan]
    store_exists: bool = True
    findings: list[Finding] = field(default_factory=list)  # no data repair fixes these

    @property
    def ok(self) -> bool:
        return not self.devices

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def verify(config: Config) -> VerifyResult:
    """Check that applying the applied chain again would change nothing."""
    context = _context(config)
    store = context.store
    if not store.exists():
        return VerifyResult(store.location, [], [], store_exists=False)
    with store.lock(config.lock_timeout), _without_cycle_collector():
        ledger = store.read_ledger()
        graph = _graph(context, ledger)
        chain = [graph.migrations[rev] for rev in graph.in_order(graph.ancestors(ledger.heads))]
        snapshot = store.read()
    found = findings.scan(snapshot.devices)
    outcome = engine.upgrade(chain, snapshot.devices, snapshot.pending, now_iso())
    return VerifyResult(store.location, list(ledger.heads), outcome.devices, findings=found)


@dataclass(frozen=True)
class SyncResult:
    """``sync``: the store brought to what an installed release needs."""

    store: str
    installed: str
    from_heads: list[str]
    to_heads: list[str]
    runs: list[RunResult]  # the downgrade and the upgrade that had work to do
    store_exists: bool = True

    @property
    def changed(self) -> bool:
        return any(run.changed for run in self.runs)

    @property
    def devices_changed(self) -> int:
        listed = {plan.device_id for run in self.runs for plan in run.devices}
        return len(listed) + sum(run.unreported_devices for run in self.runs)

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "installed": self.installed,
            "store_exists": self.store_exists,
            "changed": self.changed,
            "devices_changed": self.devices_changed,
            "from_heads": self.from_heads,
            "to_heads": self.to_heads,
            "runs": [run.to_json() for run in self.runs],
        }


def sync(config: Config, installed: str, *, dry_run: bool = False) -> SyncResult:
    """Bring the store to exactly the revisions of release ``installed``, up or down.

    Revisions of newer releases are undone first, through the ledger, so a
    package downgrade works even when the older package lacks their files;
    then the revisions the release carries are applied.
    """
    parse_release(installed)
    down = downgrade(config, installed, dry_run=dry_run)
    up = upgrade(config, installed, dry_run=dry_run)
    runs = [run for run in (down, up) if run.revisions]
    return SyncResult(
        down.store,
        installed,
        down.from_heads,
        up.to_heads,
        runs,
        store_exists=down.store_exists,
    )
