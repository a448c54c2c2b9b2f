"""OpenClaw's JSON device store: ``<state>/devices/paired.json`` and ``pending.json``.

A commit spans up to three files (paired, pending, ledger); ``journal.py``
makes it one unit. A gateway rewrites paired.json without any lock;
``gateway.py`` rebases onto its writes, settles its stale write-backs and
adopts the devices it paired meanwhile. This module is the store: lock, read,
commit (joining the two) and backups.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock
from filelock import Timeout as FileLockTimeout

from scopemigrate.config import DEFAULT_KEEP_BACKUPS
from scopemigrate.devices import ChangeSet, ScopeList
from scopemigrate.errors import LockTimeoutError, StoreChangedError
from scopemigrate.ledger import Ledger, parse_ledger
from scopemigrate.stores.atomic import identity, write_private
from scopemigrate.stores.base import CatchUp, Snapshot
from scopemigrate.stores.layout import (
    DEVICES_DIR,
    JOURNAL_NAME,
    LEDGER_NAME,
    PAIRED_NAME,
    PENDING_NAME,
)
from scopemigrate.stores.openclaw_json.gateway import (
    SETTLE_MIN_SECONDS,
    adopt_newcomers,
    keep_published,
    rebase,
    scope_base,
    settle_seconds,
)
from scopemigrate.stores.openclaw_json.journal import Journal, NewFile
from scopemigrate.stores.openclaw_json.records import (
    RawFiles,
    device_from_record,
    dump_openclaw_json,
    edit_pending,
    ends_with_newline,
    parse_object_file,
    pending_from_record,
    read_bytes,
    read_regular,
    render_paired,
)

__all__ = ["BACKUP_DIR", "LOCK_NAME", "OpenClawJsonStore"]

LOCK_NAME = ".scopemigrate.lock"


BACKUP_DIR = "scopemigrate-backups"


class OpenClawJsonStore:
    """The embedded default store of OpenClaw releases up to about 2026.7."""

    def __init__(self, state_dir: Path, keep_backups: int = DEFAULT_KEEP_BACKUPS):
        self.state_dir = state_dir
        self.keep_backups = keep_backups
        self.devices_dir = state_dir / DEVICES_DIR
        self.paired_path = self.devices_dir / PAIRED_NAME
        self.pending_path = self.devices_dir / PENDING_NAME
        self.ledger_path = self.devices_dir / LEDGER_NAME
        self.journal = Journal(self.devices_dir, self.devices_dir / JOURNAL_NAME, self.pending_path)
        self._settle_seconds = SETTLE_MIN_SECONDS

    @property
    def location(self) -> str:
        return str(self.state_dir)

    def exists(self) -> bool:
        return self.paired_path.is_file()

    @contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        lock = FileLock(str(self.devices_dir / LOCK_NAME), timeout=timeout, mode=0o600)
        try:
            lock.acquire()
        except FileLockTimeout:
            raise LockTimeoutError(
                f"{self.devices_dir}: another scopemigrate run holds the lock; "
                f"gave up after {timeout:g}s (raise --lock-timeout to wait longer)"
            ) from None
        try:
            self.journal.recover()
            yield
        finally:
            lock.release()

    def read_ledger(self) -> Ledger:
        data = read_bytes(self.ledger_path)
        return Ledger() if data is None else parse_ledger(data, str(self.ledger_path))

    def read(self) -> Snapshot[RawFiles]:
        started = time.monotonic()
        paired_identity, paired_bytes = read_regular(self.paired_path)
        pending_identity, pending_bytes = read_regular(self.pending_path)
        paired = (
            {}
            if paired_bytes is None
            else parse_object_file(self.paired_path, paired_bytes, "device id")
        )
        pending = (
            {}
            if pending_bytes is None
            else parse_object_file(self.pending_path, pending_bytes, "request id")
        )
        devices = [device_from_record(self.paired_path, k, v) for k, v in paired.items()]
        requests = [pending_from_record(self.pending_path, k, v) for k, v in pending.items()]
        raw = RawFiles(
            paired_bytes, pending_bytes, paired_identity, pending_identity, paired, pending
        )
        self._settle_seconds = settle_seconds(time.monotonic() - started)
        return Snapshot(devices, requests, raw)

    def commit(
        self,
        snapshot: Snapshot[RawFiles],
        changes: ChangeSet,
        ledger: Ledger,
        catch_up: CatchUp | None = None,
    ) -> None:
        """Publish devices, pending requests and ledger as one unit; then bring up,
        through ``catch_up``, devices a gateway paired around the commit."""
        raced = self._commit_rebasing(snapshot, changes, ledger)
        adopt_newcomers(raced, ledger, catch_up, self._commit_rebasing, self.read)

    def _commit_rebasing(
        self, snapshot: Snapshot[RawFiles], changes: ChangeSet, ledger: Ledger
    ) -> Snapshot[RawFiles] | None:
        """Publish one commit, rebased onto a gateway's rewrites (``gateway.rebase``).

        Returns the store as others left it when anyone wrote it around our
        commit, so the run can migrate devices they added meanwhile.
        """
        base = scope_base(snapshot.private.paired, changes)
        rebased = rebase(
            snapshot.private,
            changes,
            base,
            lambda raw, edited: self._commit_once(raw, changes, ledger, edited),
            lambda: self.read().private,
            self.paired_path,
        )
        touched = bool(changes.devices) and keep_published(
            self.paired_path, changes, base, self._settle_seconds
        )
        return self.read() if rebased or touched else None

    def _commit_once(
        self,
        raw: RawFiles,
        changes: ChangeSet,
        ledger: Ledger,
        edited: dict[str, dict[str, ScopeList]],
    ) -> None:
        """One attempt at the commit protocol (``journal.py``).

        Raises ``StoreChangedError``, having published nothing, when
        paired.json (or the first file) changed since ``raw`` was read.
        """
        files: list[NewFile] = []
        if changes.devices:
            data = render_paired(raw.paired_bytes, raw.paired, edited)
            files.append(NewFile(self.paired_path, data, raw.paired_identity))
        if changes.pending_removed or changes.pending_restored:
            data = dump_openclaw_json(
                edit_pending(raw.pending, changes), ends_with_newline(raw.pending_bytes)
            )
            files.append(NewFile(self.pending_path, data, raw.pending_identity))
        files.append(
            NewFile(self.ledger_path, ledger.model_dump_json(indent=2).encode("utf-8"), None)
        )
        entry = self.journal.write(files, changes)
        try:
            self._check_unchanged(raw)
        except StoreChangedError:
            self.journal.discard(entry)
            raise
        self._backup(raw)
        self.journal.publish(entry)

    def _check_unchanged(self, raw: RawFiles) -> None:
        for path, seen in (
            (self.paired_path, raw.paired_identity),
            (self.pending_path, raw.pending_identity),
        ):
            if identity(path) != seen:
                raise StoreChangedError(f"{path}: changed while scopemigrate was running")

    def _backup(self, raw: RawFiles) -> None:
        """Keep the files being replaced, by hard link: no copy, same bytes."""
        if self.keep_backups <= 0 or raw.paired_identity is None:
            return
        root = self.devices_dir / BACKUP_DIR
        root.mkdir(mode=0o700, exist_ok=True)
        folder = root / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        folder.mkdir(mode=0o700)
        read_bytes = {self.paired_path: raw.paired_bytes, self.pending_path: raw.pending_bytes}
        for path in (self.paired_path, self.pending_path, self.ledger_path):
            try:
                # A hard link is the same inode: changing its mode would change the
                # live file's. The backups folder (0700) keeps it private.
                os.link(path, folder / path.name)
            except FileNotFoundError:
                # Linux refuses to link a file that a gateway's rename just
                # unlinked; keep the bytes this run read instead.
                data = read_bytes.get(path)
                if data is not None:
                    write_private(folder / path.name, data)
        for old in sorted(root.iterdir())[: -self.keep_backups]:
            shutil.rmtree(old, ignore_errors=True)
