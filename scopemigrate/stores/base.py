"""The store protocol: the whole contract between the engine and a device store.

An adapter hides its format entirely: it hands the engine ``DeviceState``
objects and accepts a ``ChangeSet``; only the adapter knows files or SQL.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from scopemigrate.devices import ChangeSet, DevicePlan, DeviceState, PendingRequest
from scopemigrate.ledger import AppliedRevision, Ledger
from scopemigrate.migration import Migration

__all__ = [
    "MAX_ATTEMPTS",
    "CatchUp",
    "InPlaceApply",
    "InPlaceResult",
    "InPlaceScriptStore",
    "InPlaceSteps",
    "InPlaceStore",
    "InPlaceUndo",
    "LedgerFor",
    "ScriptLedger",
    "ScriptStore",
    "Snapshot",
    "Store",
    "without_cycle_collector",
]


@contextmanager
def without_cycle_collector() -> Iterator[None]:
    """Pause Python's cycle collector while a store's records are built and held.

    Parsing a store creates millions of containers and no reference cycles,
    yet each burst of allocations sets off a collection that walks every
    object built so far (measured at 100k devices: 40% of an upgrade, 60% of
    a read) and frees nothing. Reference counting still frees every record
    dropped. Nested uses leave the collector as the outermost found it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# A store that keeps changing under a run (a gateway rewriting paired.json)
# gets this many attempts, of the run and of catching up with newcomers.
MAX_ATTEMPTS = 5


# What an adapter keeps of a read, to commit against it: opaque to everyone else.
P = TypeVar("P")


@dataclass
class Snapshot(Generic[P]):
    """Devices and pending requests as read, plus what the adapter needs to commit."""

    devices: list[DeviceState]
    pending: list[PendingRequest]
    # Adapter-private: the raw content it read, to detect concurrent writes.
    private: P = field(repr=False)


class CatchUp(Protocol):
    """What a run offers a store that other programs write without a shared lock.

    Such a store (OpenClaw's JSON files, beside a running gateway) may find,
    right after its commit, devices another writer added meanwhile. It asks
    ``propose`` for the changes (and the ledger) that bring them up to the run,
    commits them as it committed the run, and says ``accepted`` when it did.
    """

    def propose(self, raced: Snapshot[Any], ledger: Ledger) -> tuple[ChangeSet, Ledger] | None:
        """Changes and ledger for the devices of ``raced`` the run has not seen; None: none."""
        ...

    def accepted(self) -> None:
        """The last proposal was committed."""
        ...


class Store(Protocol):
    """What every device store offers. Keep it this small."""

    @property
    def location(self) -> str:
        """Where the store lives, for messages (never a secret)."""
        ...

    def exists(self) -> bool:
        """Whether a store is there at all (a fresh install has none)."""
        ...

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """Hold the store's lock, waiting at most ``timeout`` seconds."""
        ...

    def read_ledger(self) -> Ledger:
        """The ledger, cheaply; an empty one when nothing was ever applied."""
        ...

    def read(self) -> Snapshot[Any]:
        """Every device and pending request, validated."""
        ...

    def commit(
        self,
        snapshot: Snapshot[Any],
        changes: ChangeSet,
        ledger: Ledger,
        catch_up: CatchUp | None = None,
    ) -> None:
        """Write ``changes`` and ``ledger`` as one atomic unit.

        Raises ``StoreChangedError`` (writing nothing) when the store changed
        since ``snapshot`` was read. A store that others write without a
        shared lock then brings their newcomers up through ``catch_up``; a
        store whose lock keeps every writer out ignores it.
        """
        ...


@dataclass(frozen=True)
class InPlaceResult:
    """What a store that runs the operations itself did, for the run's report."""

    devices: list[DevicePlan]  # empty when the run was asked for no report
    pending_removed: int = 0
    pending_restored: int = 0
    unreported: int = 0  # devices changed and not listed (no report asked for)
    notes: tuple[str, ...] = ()  # what the user should know of how it ran, each once
    # Revisions whose provenance the store keeps in the ledger (SQLite), with it;
    # empty when the store keeps it in its own tables (PostgreSQL).
    applied: dict[str, AppliedRevision] = field(default_factory=dict)

    @property
    def devices_changed(self) -> int:
        return len(self.devices) + self.unreported


@dataclass(frozen=True)
class InPlaceApply:
    """Apply these migrations, in order."""

    migrations: Sequence[Migration]


@dataclass(frozen=True)
class InPlaceUndo:
    """Undo these revisions, children first, from what the store recorded of them."""

    revisions: Sequence[str]


class InPlaceDeclined(Exception):
    """``run_in_place`` changed nothing: this run goes row by row (read, engine, commit)."""


# What a set-based run is given to do, and how it learns the ledger to commit.
InPlaceSteps = InPlaceApply | InPlaceUndo
LedgerFor = Callable[[InPlaceResult], Ledger]


@runtime_checkable
class InPlaceStore(Protocol):
    """A store that applies and undoes the operations itself (set-based SQL).

    Called inside ``lock``. ``ledger_for`` gives the ledger to commit with
    the changes, once the report is known; the store commits both at once.
    With ``dry_run`` the store does the same work and then rolls it back, so
    a dry run reports exactly what a real run would do. Without ``report``
    it only counts the devices it changed: listing a million of them costs
    a third of the run. A store that cannot run these steps set-based raises
    ``InPlaceDeclined`` having changed nothing, still holding the lock.
    """

    def run_in_place(
        self, steps: InPlaceSteps, ledger_for: LedgerFor, dry_run: bool = False, report: bool = True
    ) -> InPlaceResult: ...


# A run's ledger as the store holds it: parsed, and its exact text (None: no row).
LedgerAsRead = tuple[Ledger, str | None]


@runtime_checkable
class ScriptStore(Protocol):
    """A SQL store that writes a run's statements as a script (``--sql``) instead
    of running them. Everything here reads only: no lock, no write."""

    def read_ledger_text(self) -> LedgerAsRead:
        """The ledger and its text as stored, for the script's guard."""
        ...

    def script_commit(
        self,
        snapshot: Snapshot[Any],
        changes: ChangeSet,
        read: str | None,
        ledger: Ledger,
        lock_timeout: float,
    ) -> list[str]:
        """The statements ``commit`` would execute, inside the lock a run takes,
        guarded to fail unless the store still holds ``read`` and ``snapshot``."""
        ...


# How a set-based script learns the ledger to write: given the number of devices
# changed, which the script counts in SQL as the run does (it writes the count in).
ScriptLedger = Callable[[int], Ledger]


@runtime_checkable
class InPlaceScriptStore(Protocol):
    """An ``InPlaceStore``'s set-based statements as a script (see ``ScriptStore``)."""

    def script_in_place(
        self, steps: InPlaceSteps, read: str | None, ledger_for: ScriptLedger, lock_timeout: float
    ) -> list[str]:
        """What ``run_in_place(steps)`` would execute, guarded as ``script_commit`` is."""
        ...
