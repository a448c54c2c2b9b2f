"""The store protocol: the whole contract between the engine and a device store.

An adapter hides its format entirely: it hands the engine ``DeviceState``
objects and accepts a ``ChangeSet``; only the adapter knows files or SQL.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from scopemigrate.devices import ChangeSet, DeviceState, PendingRequest
from scopemigrate.ledger import Ledger


@dataclass
class Snapshot:
    """Devices and pending requests as read, plus what the adapter needs to commit."""

    devices: list[DeviceState]
    pending: list[PendingRequest]
    # Adapter-private: the raw content it read, to detect concurrent writes.
    private: Any = field(default=None, repr=False)


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

    def read(self) -> Snapshot:
        """Every device and pending request, validated."""
        ...

    def commit(self, snapshot: Snapshot, changes: ChangeSet, ledger: Ledger) -> Snapshot | None:
        """Write ``changes`` and ``ledger`` as one atomic unit.

        Raises ``StoreChangedError`` (writing nothing) when the store changed
        since ``snapshot`` was read. Returns None, or, for a store that other
        programs write without a shared lock, the store as another writer left
        it right after the commit (the engine then migrates devices it added).
        """
        ...
