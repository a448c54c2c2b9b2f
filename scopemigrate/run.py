"""One run: plan under the store's lock, apply the plan, advance the ledger, in one commit.

``upgrade``, ``downgrade``, ``stamp`` and ``sync`` all go through ``execute``:
open the store, take its lock, and for each planner read the ledger, build a
``Plan`` from the graph, and ``apply`` it. ``apply`` is the one place that
dispatches on the store: a store that runs the operations itself (set-based
SQL) gets the plan; any other gets its devices read, composed in memory by the
engine, and committed once. Either way the ledger advances by the same
``Ledger.advance``. A store that changed under us (a gateway writing
``paired.json``) gets the run redone on its new content, a bounded number of
times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Literal

from scopemigrate import engine
from scopemigrate.config import Config
from scopemigrate.devices import ChangeSet, DevicePlan
from scopemigrate.errors import (
    BadLedgerError,
    ConfigError,
    MultipleHeadsError,
    RunFailedError,
    StoreAheadError,
    StoreChangedError,
)
from scopemigrate.graph import RevisionGraph
from scopemigrate.ledger import AppliedRevision, Ledger, RunRecord, now_iso, who
from scopemigrate.logs import get_logger
from scopemigrate.migration import Migration
from scopemigrate.migration_files import MigrationFiles
from scopemigrate.progress import (
    DOWNGRADING,
    NO_PROGRESS,
    READING,
    UPGRADING,
    WRITING,
    Progress,
)
from scopemigrate.provenance import changed_devices
from scopemigrate.stores import open_store
from scopemigrate.stores.base import (
    MAX_ATTEMPTS,
    InPlaceApply,
    InPlaceDeclined,
    InPlaceResult,
    InPlaceScriptStore,
    InPlaceStore,
    InPlaceUndo,
    ScriptStore,
    Snapshot,
    Store,
    without_cycle_collector,
)

__all__ = [
    "Done",
    "Plan",
    "Planner",
    "RunOptions",
    "Runs",
    "Script",
    "apply",
    "execute",
    "known_graph",
    "script",
    "tool_version",
]

Direction = Literal["upgrade", "downgrade", "stamp"]

log = get_logger(__name__)


def tool_version() -> str:
    from scopemigrate import __version__  # the package's __init__ imports the API

    return __version__


@dataclass(frozen=True)
class RunOptions:
    """How to run: for real or as a dry run (which does the same work and writes
    nothing), with a progress bar, and whether to list the devices changed.

    ``purge`` (``stamp --purge``, as Alembic's): what the store's ledger holds is
    not consulted; the plan starts from an empty one, and the ledger written
    replaces it whole (revisions no file knows, a ledger that does not parse,
    its history). A ledger file the store refuses (a link) is still refused.
    """

    dry_run: bool = False
    progress: Progress = NO_PROGRESS
    report: bool = True
    purge: bool = False


@dataclass(frozen=True)
class Plan:
    """What one run will do, decided from the ledger and the graph before any device is read.

    ``revisions`` is what the run's record lists (applied, undone or stamped, in
    order); empty means the store is at the target. ``enter`` are the
    migrations the ledger gains, ``leave`` the revisions it loses.
    """

    direction: Direction
    from_heads: list[str]
    to_heads: list[str]
    revisions: list[str] = field(default_factory=list)
    enter: list[Migration] = field(default_factory=list)
    leave: list[str] = field(default_factory=list)


# Builds the plan from the graph of the files (plus the ledger's own
# migrations) and the ledger as read under the lock.
Planner = Callable[[RevisionGraph, Ledger], Plan]


@dataclass(frozen=True)
class Done:
    """A plan and what applying it did to the devices (nothing for an empty plan)."""

    plan: Plan
    effect: InPlaceResult = field(default_factory=lambda: InPlaceResult([]))


@dataclass(frozen=True)
class Runs:
    """The runs of one ``execute``, in order; none when there is no store at all."""

    store: str
    store_exists: bool
    done: list[Done]


def known_graph(files: MigrationFiles, ledger: Ledger, location: str) -> RevisionGraph:
    """Files, plus migrations only the ledger still knows (an older package is installed)."""
    graph = files.graph(extra=ledger.stored_migrations())
    unknown = [rev for rev in ledger.heads if rev not in graph.migrations]
    if unknown:
        raise StoreAheadError(
            f"{location}: the store records revision {', '.join(unknown)}, "
            "which neither the migration files nor the ledger explain; it was migrated by "
            "a newer release: install that release (or newer) instead of downgrading the store"
        )
    return graph


def _refuse_another_chain(
    files: MigrationFiles, graph: RevisionGraph, ledger: Ledger, location: str
) -> None:
    """``StoreAheadError`` when the store's applied revisions have nothing in common
    with the migration files: it was migrated by another chain (the ledger explains
    it, so ``known_graph`` let it through), and its heads are not ours to resolve."""
    ours = {migration.revision for migration in files.migrations}
    if not ours or not ledger.heads or graph.ancestors(ledger.heads) & ours:
        return
    raise StoreAheadError(
        f"{location}: the store is at {', '.join(ledger.heads)}, which these migration "
        "files neither hold nor build on: it was migrated by another chain of migrations "
        "(or a newer release); run with that chain's files (--migrations DIR), or install "
        "the release that migrated it"
    )


def execute(
    config: Config, planners: Sequence[Planner], options: RunOptions = RunOptions()
) -> Runs:
    """Run each planner's plan in turn, under one hold of the store's lock."""
    files = MigrationFiles.from_config(config)
    store = open_store(config.store, config.env, config.keep_backups, config.backups_max_bytes)
    if not store.exists():
        return Runs(store.location, False, [])
    done: list[Done] = []
    with store.lock(config.lock_timeout), without_cycle_collector():
        for planner in planners:
            done.append(_until_settled(store, files, planner, options))
    return Runs(store.location, True, done)


def _until_settled(
    store: Store, files: MigrationFiles, planner: Planner, options: RunOptions
) -> Done:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        ledger = _planned_from(store, options.purge)
        graph = known_graph(files, ledger, store.location)
        try:
            plan = planner(graph, ledger)
        except MultipleHeadsError:
            # "Several heads" when the store's own are from another chain altogether:
            # that is a store this code is behind, not a target to make precise.
            _refuse_another_chain(files, graph, ledger, store.location)
            raise
        if not plan.revisions and not options.purge:  # a purge always writes its ledger
            log.info("%s is at %s: nothing to do", store.location, _heads(plan.to_heads))
            return Done(plan)  # at the target: no device is read, nothing is written
        log.info(
            "%s: %s%s from %s to %s: %s",
            store.location,
            plan.direction,
            " (dry run)" if options.dry_run else "",
            _heads(plan.from_heads),
            _heads(plan.to_heads),
            ", ".join(plan.revisions),
        )
        try:
            return Done(plan, apply(store, files, plan, ledger, options))
        except StoreChangedError:
            log.info(
                "%s changed under the run; redoing it (attempt %d of %d)",
                store.location,
                attempt + 1,
                MAX_ATTEMPTS,
            )
            continue
    raise RunFailedError(
        f"{store.location}: the store kept changing under scopemigrate "
        f"({MAX_ATTEMPTS} attempts); the store was left as it was, run again"
    )


def _planned_from(store: Store, purge: bool) -> Ledger:
    """The ledger a plan starts from: the store's; with ``purge`` an empty one, what
    the store's ledger holds unconsulted. Its file is still read, for the store's
    own refusals of the file itself (a link, another owner's file)."""
    if not purge:
        return store.read_ledger()
    # What it holds (a newer format, text that is no ledger) is replaced, unread.
    with suppress(BadLedgerError, StoreAheadError):
        store.read_ledger()
    return Ledger()


def apply(
    store: Store,
    files: MigrationFiles,
    plan: Plan,
    ledger: Ledger,
    options: RunOptions = RunOptions(),
) -> InPlaceResult:
    """Apply ``plan`` to the store and advance its ledger, as one atomic commit."""
    dry_run, progress, report = options.dry_run, options.progress, options.report
    at = now_iso()
    entered = _entered(plan, at)
    advanced = _advancer(files, plan, ledger)

    if plan.direction != "stamp" and isinstance(store, InPlaceStore):
        # Provenance in the store's own tables (PostgreSQL), or in the ledger (SQLite).
        def ledger_for(result: InPlaceResult) -> Ledger:
            return advanced(result.devices_changed, {**entered, **result.applied})

        # The store runs the revisions itself: one phase, timed, without a count.
        progress.start(UPGRADING if plan.direction == "upgrade" else DOWNGRADING, 0)
        try:
            done = store.run_in_place(_in_place_steps(plan), ledger_for, dry_run, report)
            # The store's provenance (``applied``) is in the ledger now, not in the report.
            return InPlaceResult(
                done.devices,
                done.pending_removed,
                done.pending_restored,
                done.unreported,
                done.notes,
            )
        except InPlaceDeclined:
            pass  # nothing changed: the row path below
        finally:
            progress.finish()

    progress.start(READING, 0)
    snapshot = store.read()
    if plan.direction == "upgrade":
        outcome = engine.upgrade(
            plan.enter, snapshot.devices, snapshot.pending, at, progress, report
        )
        entered = outcome.applied
    elif plan.direction == "downgrade":
        entries = [ledger.applied[rev] for rev in plan.leave if rev in ledger.applied]
        installed = files.graph(extra=ledger.stored_migrations()).migrations
        for entry in entries:
            migration = installed.get(entry.migration.revision, entry.migration)
            engine.check_provenance(entry, migration, f"{store.location}: ledger")
        outcome = engine.downgrade(entries, snapshot.devices, snapshot.pending, progress, report)
    else:
        outcome = engine.Outcome()  # a stamp changes no device
    _log_revisions(plan, outcome, ledger)
    devices = list(outcome.devices)
    if not dry_run:
        newcomers = _Newcomers(plan.enter, snapshot) if plan.direction == "upgrade" else None
        new_ledger = advanced(len(outcome.changes.devices), entered)
        progress.start(WRITING, 0)
        try:
            _commit(store, snapshot, outcome.changes, new_ledger, newcomers)
        finally:
            progress.finish()  # a failed write ends its line before the error is printed
        devices += newcomers.adopted if newcomers else []
        log.info(
            "%s: committed: %d device(s) changed, now at %s",
            store.location,
            len(devices) + outcome.unreported,
            _heads(new_ledger.heads),
        )
    else:
        log.info("%s: dry run: nothing written", store.location)
    return InPlaceResult(
        devices,
        pending_removed=len(outcome.changes.pending_removed),
        pending_restored=len(outcome.changes.pending_restored),
        unreported=outcome.unreported,
    )


def _in_place_steps(plan: Plan) -> InPlaceApply | InPlaceUndo:
    """What a set-based store is given to run (or to script) for an upgrade or downgrade."""
    return InPlaceApply(plan.enter) if plan.direction == "upgrade" else InPlaceUndo(plan.leave)


def _entered(plan: Plan, at: str) -> dict[str, AppliedRevision]:
    """The ledger entries of the revisions a run applies (their provenance to come)."""
    return {m.revision: AppliedRevision(migration=m, applied_at=at) for m in plan.enter}


def _advancer(
    files: MigrationFiles, plan: Plan, ledger: Ledger
) -> Callable[[int, dict[str, AppliedRevision]], Ledger]:
    """The ledger after ``plan``, given the devices changed and the revisions applied."""

    def advanced(devices_changed: int, applied: dict[str, AppliedRevision]) -> Ledger:
        record = RunRecord(
            direction=plan.direction,
            from_heads=plan.from_heads,
            to_heads=plan.to_heads,
            revisions=plan.revisions,
            devices_changed=devices_changed,
            at=now_iso(),
            by=who(),
            tool_version=tool_version(),
        )
        mark = files.mark_for(plan.to_heads)
        return ledger.advance(record, at_head_of=mark, applied=applied, undone=plan.leave)

    return advanced


@dataclass(frozen=True)
class Script:
    """What ``script`` wrote: the plan, and the statements a run would execute for it
    (none when the store is at the target, or there is no store)."""

    store: str
    store_exists: bool
    plan: Plan | None
    statements: list[str]


def script(config: Config, planner: Planner) -> Script:
    """The statements a run of ``planner`` would execute on a SQL store, as a script.

    Read-only: the ledger and (for a store the engine composes) the devices are
    read without the lock; nothing is written. The script guards itself
    against a store that changes before it is run (see ``stores/sql_script.py``).
    """
    files = MigrationFiles.from_config(config)
    store = open_store(config.store, config.env, config.keep_backups)
    if not isinstance(store, ScriptStore):
        raise ConfigError(
            f"{store.location}: --sql needs a SQL store (--store sqlite:PATH or "
            "postgresql://...); this store is files, which no SQL writes"
        )
    if not store.exists():
        return Script(store.location, False, None, [])
    ledger, read = store.read_ledger_text()
    plan = planner(known_graph(files, ledger, store.location), ledger)
    if not plan.revisions:
        return Script(store.location, True, plan, [])
    advanced = _advancer(files, plan, ledger)
    entered = _entered(plan, now_iso())
    timeout = config.lock_timeout
    if isinstance(store, InPlaceScriptStore) and plan.direction in ("upgrade", "downgrade"):

        def ledger_for(devices_changed: int) -> Ledger:
            return advanced(devices_changed, entered)

        statements = store.script_in_place(_in_place_steps(plan), read, ledger_for, timeout)
        return Script(store.location, True, plan, statements)
    snapshot = store.read()
    if plan.direction == "upgrade":
        outcome = engine.upgrade(plan.enter, snapshot.devices, snapshot.pending, now_iso())
        entered = outcome.applied
    elif plan.direction == "downgrade":
        entries = [ledger.applied[rev] for rev in plan.leave if rev in ledger.applied]
        outcome = engine.downgrade(entries, snapshot.devices, snapshot.pending)
    else:
        outcome = engine.Outcome()
    new_ledger = advanced(len(outcome.devices), entered)
    statements = store.script_commit(snapshot, outcome.changes, read, new_ledger, timeout)
    return Script(store.location, True, plan, statements)


def _heads(heads: Sequence[str]) -> str:
    return ", ".join(heads) if heads else "base"


def _log_revisions(plan: Plan, outcome: engine.Outcome, ledger: Ledger) -> None:
    """Each revision's counts: devices it edited, repair requests it removed or restored."""
    if plan.direction == "upgrade":
        for rev, entry in outcome.applied.items():
            log.info(
                "revision %s: %d device(s) edited, %d repair request(s) removed",
                rev,
                changed_devices(entry.provenance),
                len(entry.removed_pending),
            )
    elif plan.direction == "downgrade":
        for rev in plan.leave:
            undone = ledger.applied.get(rev)
            log.info(
                "revision %s: undone on %d device(s), %d repair request(s) to restore",
                rev,
                changed_devices(undone.provenance) if undone else 0,
                len(undone.removed_pending) if undone else 0,
            )


def _commit(
    store: Store,
    snapshot: Snapshot[Any],
    changes: ChangeSet,
    ledger: Ledger,
    newcomers: _Newcomers | None,
) -> None:
    try:
        store.commit(snapshot, changes, ledger, newcomers)
    except OSError as exc:
        raise RunFailedError(
            f"{store.location}: could not write the store ({exc.strerror or exc}); "
            "it was left as it was"
        ) from None


class _Newcomers:
    """Gives the run's steps to devices a running gateway paired while we committed.

    An older gateway still running during a package upgrade can pair a device
    with the old scopes just after our commit; left alone it would break at the
    gateway's restart. A store that sees such a race (the JSON store: see
    stores/base.py ``CatchUp``) asks for the newcomers' changes; they get the
    same steps, and their provenance joins the ledger so a downgrade undoes it.
    """

    def __init__(self, steps: Sequence[Migration], snapshot: Snapshot[Any]):
        self.steps = steps
        self.seen = {device.device_id for device in snapshot.devices}
        self.adopted: list[DevicePlan] = []
        self._proposed: tuple[list[str], list[DevicePlan]] = ([], [])

    def propose(self, raced: Snapshot[Any], ledger: Ledger) -> tuple[ChangeSet, Ledger] | None:
        newcomers = [d for d in raced.devices if d.device_id not in self.seen]
        outcome = engine.upgrade(self.steps, newcomers, raced.pending, now_iso())
        if outcome.changes.is_empty():
            return None
        self._proposed = ([d.device_id for d in newcomers], outcome.devices)
        return outcome.changes, ledger.with_provenance_of(outcome.applied)

    def accepted(self) -> None:
        ids, devices = self._proposed
        self.seen.update(ids)
        self.adopted += devices
