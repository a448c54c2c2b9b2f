"""One function per verb. These are the public Python API; the CLI only renders them.

Each returns a frozen result object; none prints. The flow of a run:
load migration files -> open the store and take its lock -> read the ledger ->
plan -> (read devices, compose, apply in memory) -> commit once -> result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from scopemigrate import engine, findings
from scopemigrate.config import Config
from scopemigrate.devices import DevicePlan
from scopemigrate.errors import ScopemigrateError, VerifyFailedError
from scopemigrate.findings import Finding
from scopemigrate.graph import RevisionGraph
from scopemigrate.ledger import Ledger, RunRecord, now_iso
from scopemigrate.migration_files import MigrationFiles
from scopemigrate.progress import NO_PROGRESS, Progress
from scopemigrate.results import JsonResult
from scopemigrate.revisions import RevisionInfo, history_range, revision_info
from scopemigrate.run import (
    Done,
    Plan,
    RunOptions,
    Runs,
    execute,
    known_graph,
    script,
)
from scopemigrate.stores import open_store
from scopemigrate.stores.base import without_cycle_collector
from scopemigrate.targets import Release, Target, check_direction, parse_target
from scopemigrate.versions import parse_release

__all__ = [
    "CurrentResult",
    "HistoryResult",
    "RevisionInfo",
    "RunResult",
    "SqlScript",
    "StampResult",
    "SyncResult",
    "VerifyResult",
    "current",
    "downgrade",
    "downgrade_sql",
    "history",
    "stamp",
    "store_findings",
    "sync",
    "upgrade",
    "upgrade_sql",
    "verify",
]


@dataclass(frozen=True)
class _Moves(JsonResult):
    """Where an ``upgrade`` or ``downgrade`` takes the store: what a run and its
    ``--sql`` script both report first."""

    store: str
    direction: Literal["upgrade", "downgrade"]
    from_heads: list[str]
    to_heads: list[str]
    revisions: list[str]


@dataclass(frozen=True)
class RunResult(_Moves):
    """The result of ``upgrade`` or ``downgrade`` (or their dry runs)."""

    devices: list[DevicePlan]
    pending_removed: int = 0
    pending_restored: int = 0
    dry_run: bool = False
    store_exists: bool = True
    # Devices changed and not listed in ``devices``: a set-based run asked for
    # no report (``report=False``) only counts them.
    unreported_devices: int = 0
    # What the store said of how the run went (a registry without a pending table).
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.revisions) and not self.dry_run

    json_extra = ("changed", "devices_changed")

    @property
    def devices_changed(self) -> int:
        return len(self.devices) + self.unreported_devices


@dataclass(frozen=True)
class SqlScript(_Moves):
    """The result of ``upgrade_sql`` or ``downgrade_sql``: what a run would execute."""

    statements: list[str]  # each ends with ";" (comments aside); empty: nothing to do
    store_exists: bool = True

    @property
    def text(self) -> str:
        """The script, ready for ``psql -f`` or ``sqlite3``."""
        return "\n\n".join(self.statements) + "\n" if self.statements else ""


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
    current: list[str] = field(default_factory=list)  # the store's heads (history -i)

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "current": self.current,
            "revisions": [asdict(r) for r in self.revisions],
            "runs": [r.model_dump() for r in self.runs],
        }


def _planner(
    direction: Literal["upgrade", "downgrade"], target: Target
) -> Callable[[RevisionGraph, Ledger], Plan]:
    def plan(graph: RevisionGraph, ledger: Ledger) -> Plan:
        applied = graph.ancestors(ledger.heads)
        wanted = graph.resolve(target, applied, downgrade=direction == "downgrade")
        heads = list(ledger.heads)
        if direction == "upgrade":
            path = graph.upgrade_path(applied, wanted)
            steps = [graph.migrations[rev] for rev in path]
            return Plan(direction, heads, graph.heads_of(applied | set(path)), path, enter=steps)
        path = graph.downgrade_path(applied, wanted)
        return Plan(direction, heads, graph.heads_of(applied - set(path)), path, leave=path)

    return plan


def _stamp_plan(target: str | Target) -> Callable[[RevisionGraph, Ledger], Plan]:
    def plan(graph: RevisionGraph, ledger: Ledger) -> Plan:
        applied = graph.ancestors(ledger.heads)
        wanted = graph.resolve_stamp(target, applied)
        heads, new_heads = list(ledger.heads), graph.heads_of(wanted)
        if new_heads == heads:
            return Plan("stamp", heads, heads)
        return Plan(
            "stamp",
            heads,
            new_heads,
            graph.in_order(wanted ^ applied),
            enter=[graph.migrations[rev] for rev in graph.in_order(wanted - applied)],
            leave=sorted(applied - wanted),
        )

    return plan


def _run_result(runs: Runs, done: Done, dry_run: bool) -> RunResult:
    plan, effect = done.plan, done.effect
    direction: Literal["upgrade", "downgrade"] = (
        "upgrade" if plan.direction == "upgrade" else "downgrade"
    )
    return RunResult(
        store=runs.store,
        direction=direction,
        from_heads=plan.from_heads,
        to_heads=plan.to_heads,
        revisions=plan.revisions,
        devices=effect.devices,
        pending_removed=effect.pending_removed,
        pending_restored=effect.pending_restored,
        dry_run=dry_run,
        unreported_devices=effect.unreported,
        notes=effect.notes,
    )


def _one_run(
    config: Config,
    direction: Literal["upgrade", "downgrade"],
    target: str | Target,
    dry_run: bool,
    progress: Progress,
    report: bool,
) -> RunResult:
    parsed = parse_target(target) if isinstance(target, str) else target
    check_direction(parsed, downgrade=direction == "downgrade")  # even with no store
    runs = execute(config, [_planner(direction, parsed)], RunOptions(dry_run, progress, report))
    if not runs.store_exists:
        return _absent(runs.store, direction, dry_run)
    return _run_result(runs, runs.done[0], dry_run)


def _absent(store: str, direction: Literal["upgrade", "downgrade"], dry_run: bool) -> RunResult:
    return RunResult(
        store=store,
        direction=direction,
        from_heads=[],
        to_heads=[],
        revisions=[],
        devices=[],
        dry_run=dry_run,
        store_exists=False,
    )


def upgrade(
    config: Config,
    target: str | Target = "head",
    *,
    dry_run: bool = False,
    progress: Progress = NO_PROGRESS,
    report: bool = True,
) -> RunResult:
    """Bring the store up to ``target`` (``head``, a revision, or a release version)."""
    return _one_run(config, "upgrade", target, dry_run, progress, report)


def downgrade(
    config: Config,
    target: str | Target,
    *,
    dry_run: bool = False,
    progress: Progress = NO_PROGRESS,
    report: bool = True,
) -> RunResult:
    """Undo applied revisions down to ``target``, exactly as recorded in the ledger."""
    return _one_run(config, "downgrade", target, dry_run, progress, report)


def upgrade_sql(config: Config, target: str | Target = "head") -> SqlScript:
    """The SQL an ``upgrade`` to ``target`` would execute, without running it (``--sql``)."""
    return _sql(config, "upgrade", target)


def downgrade_sql(config: Config, target: str | Target) -> SqlScript:
    """The SQL a ``downgrade`` to ``target`` would execute, without running it (``--sql``)."""
    return _sql(config, "downgrade", target)


def _sql(
    config: Config, direction: Literal["upgrade", "downgrade"], target: str | Target
) -> SqlScript:
    parsed = parse_target(target) if isinstance(target, str) else target
    check_direction(parsed, downgrade=direction == "downgrade")
    written = script(config, _planner(direction, parsed))
    plan = written.plan
    return SqlScript(
        store=written.store,
        direction=direction,
        from_heads=plan.from_heads if plan else [],
        to_heads=plan.to_heads if plan else [],
        revisions=plan.revisions if plan else [],
        statements=written.statements,
        store_exists=written.store_exists,
    )


def _revision_infos(
    graph: RevisionGraph, files: MigrationFiles, applied: set[str]
) -> list[RevisionInfo]:
    return [revision_info(graph, files.sources, rev, applied) for rev in reversed(graph.order)]


def current(config: Config) -> CurrentResult:
    """The revisions the store has applied (reads the ledger only)."""
    files = MigrationFiles.from_config(config)
    store = open_store(config.store, config.env, config.keep_backups)
    if not store.exists():
        return CurrentResult(store.location, False, [], [])
    ledger = store.read_ledger()
    graph = known_graph(files, ledger, store.location)
    applied = graph.ancestors(ledger.heads)
    infos = [
        info for info in _revision_infos(graph, files, applied) if info.revision in ledger.heads
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
    files = MigrationFiles.from_config(config)
    store = open_store(config.store, config.env, config.keep_backups)
    ledger = store.read_ledger() if store.exists() else Ledger()
    graph = known_graph(files, ledger, store.location)
    applied = graph.ancestors(ledger.heads)
    infos = _revision_infos(graph, files, applied)
    if rev_range:
        chosen = history_range(graph, rev_range, applied)
        infos = [info for info in infos if info.revision in chosen]
    return HistoryResult(store.location, infos, list(ledger.history), list(ledger.heads))


@dataclass(frozen=True)
class StampResult(JsonResult):
    """``stamp``: the heads recorded before and after (no device changed)."""

    store: str
    from_heads: list[str]
    to_heads: list[str]
    store_exists: bool = True
    # The ledger was replaced unread (``purge``): ``from_heads`` is empty, not known.
    purged: bool = False
    json_extra = ("changed",)

    @property
    def changed(self) -> bool:
        return self.purged or self.from_heads != self.to_heads


def stamp(config: Config, target: str | Target, *, purge: bool = False) -> StampResult:
    """Record ``target`` as applied without changing any device (adopting a store).

    Stamped revisions carry no provenance, so a later downgrade through them
    changes no device either. ``purge``: replace the ledger whatever it holds,
    without reading it (as Alembic's ``stamp --purge``); the target must still
    name one state of the migration files.
    """
    runs = execute(config, [_stamp_plan(target)], RunOptions(purge=purge))
    if not runs.store_exists:
        return StampResult(runs.store, [], [], store_exists=False)
    plan = runs.done[0].plan
    return StampResult(runs.store, plan.from_heads, plan.to_heads, purged=purge)


def store_findings(config: Config, release: str | None = None) -> list[Finding]:
    """The findings of the configured store as it is now (read only, no lock);
    with ``release``, only those that release hits."""
    store = open_store(config.store, config.env, config.keep_backups)
    return findings.scan(store.read().devices, release) if store.exists() else []


@dataclass(frozen=True)
class VerifyResult(JsonResult):
    """Devices that do not satisfy the applied revisions, with what they lack."""

    store: str
    heads: list[str]
    devices: list[DevicePlan]
    store_exists: bool = True
    findings: list[Finding] = field(default_factory=list)  # no data repair fixes these

    @property
    def ok(self) -> bool:
        return not self.devices

    def failure(self) -> ScopemigrateError | None:
        """The error a failed verification exits with (None when it passed)."""
        if self.ok:
            return None
        return VerifyFailedError(
            f"{self.store}: {len(self.devices)} device(s) do not satisfy the applied "
            "revisions (each is listed with what it lacks)"
        )

    json_extra = ("ok",)


def verify(config: Config) -> VerifyResult:
    """Check that applying the applied chain again would change nothing."""
    files = MigrationFiles.from_config(config)
    store = open_store(config.store, config.env, config.keep_backups)
    if not store.exists():
        return VerifyResult(store.location, [], [], store_exists=False)
    with store.lock(config.lock_timeout), without_cycle_collector():
        ledger = store.read_ledger()
        graph = known_graph(files, ledger, store.location)
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
    release = Release(installed)
    both = [_planner("downgrade", release), _planner("upgrade", release)]
    runs = execute(config, both, RunOptions(dry_run=dry_run))
    if not runs.store_exists:
        return SyncResult(runs.store, installed, [], [], [], store_exists=False)
    down, up = (_run_result(runs, done, dry_run) for done in runs.done)
    worked = [run for run in (down, up) if run.revisions]
    return SyncResult(runs.store, installed, down.from_heads, up.to_heads, worked)
