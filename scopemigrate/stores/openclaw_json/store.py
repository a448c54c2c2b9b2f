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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from scopemigrate.config import DEFAULT_KEEP_BACKUPS
from scopemigrate.devices import ChangeSet, ScopeList
from scopemigrate.errors import (
    BadStoreError,
    GatewayRewroteError,
    RunFailedError,
)
from scopemigrate.ledger import Ledger, parse_ledger
from scopemigrate.logs import get_logger
from scopemigrate.stores.atomic import write_private
from scopemigrate.stores.base import CatchUp, Snapshot
from scopemigrate.stores.confined import check_file, check_folders, prune, real_dir
from scopemigrate.stores.layout import (
    DEVICES_DIR,
    JOURNAL_NAME,
    LEDGER_NAME,
    PAIRED_NAME,
    PENDING_NAME,
)
from scopemigrate.stores.lockfile import hold
from scopemigrate.stores.openclaw_json.gateway import (
    SETTLE_MIN_SECONDS,
    Lineage,
    adopt_newcomers,
    keep_published,
    rebase,
    rebase_displaced,
    scope_base,
    settle_seconds,
)
from scopemigrate.stores.openclaw_json.index import (
    new_values,
    read_paired,
    records_of,
    write_paired,
)
from scopemigrate.stores.openclaw_json.journal import Journal, JournalEntry, NewFile
from scopemigrate.stores.openclaw_json.liveness import gateway_answering
from scopemigrate.stores.openclaw_json.records import (
    RawFiles,
    dump_openclaw_json,
    edit_pending,
    ends_with_newline,
    parse_object_file,
    pending_from_record,
    read_bytes,
    read_regular,
    render_paired,
    restore_reverted,
)

__all__ = ["BACKUP_DIR", "LOCK_NAME", "OpenClawJsonStore"]

# A commit's files, its journal entry, and what its swaps displaced, by file name.
Published = tuple[list[NewFile], JournalEntry, dict[str, Path]]


def _pending_edited(pending: dict[str, Any], changes: ChangeSet) -> dict[str, dict[str, Any]]:
    """Our request edits re-applied in place; the requests that changed."""
    edited = edit_pending(pending, changes)
    changed: dict[str, dict[str, Any]] = {key: {} for key in pending.keys() ^ edited.keys()}
    pending.clear()
    pending.update(edited)
    return changed


def _dump_pending(data: bytes, pending: dict[str, Any], _: object) -> bytes:
    return dump_openclaw_json(pending, ends_with_newline(data))


log = get_logger(__name__)

LOCK_NAME = ".scopemigrate.lock"


BACKUP_DIR = "scopemigrate-backups"


class OpenClawJsonStore:
    """The embedded default store of OpenClaw releases up to about 2026.7."""

    def __init__(
        self,
        state_dir: Path,
        keep_backups: int = DEFAULT_KEEP_BACKUPS,
        backups_max_bytes: int | None = None,
    ):
        self.state_dir = state_dir
        self.keep_backups = keep_backups
        self.backups_max_bytes = backups_max_bytes  # None: bounded by count alone
        self.devices_dir = state_dir / DEVICES_DIR
        self.paired_path = self.devices_dir / PAIRED_NAME
        self.pending_path = self.devices_dir / PENDING_NAME
        self.ledger_path = self.devices_dir / LEDGER_NAME
        self.journal = Journal(self.devices_dir, self.devices_dir / JOURNAL_NAME, self.pending_path)
        self._settle_seconds = SETTLE_MIN_SECONDS
        self._read_only = False
        self._ledger_read: bytes | None = None

    @property
    def location(self) -> str:
        return str(self.state_dir)

    def exists(self) -> bool:
        # Whatever is there (a link, a FIFO) is a store to refuse, not a fresh install;
        # never followed (it may point where the run cannot look).
        return os.path.lexists(self.paired_path)

    @contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        """Hold the lock (``lockfile.py``); on a read-only file system, read without it
        (no one can write there) and refuse to commit."""
        self._folder_owner()
        with hold(self.devices_dir / LOCK_NAME, timeout, str(self.devices_dir)) as held:
            self._read_only = not held
            if held:
                if os.path.lexists(self.journal.path):
                    self._writable_only_by_owner()  # a recovery writes
                self.journal.recover()
            elif os.path.lexists(self.journal.path):
                raise RunFailedError(
                    f"{self.journal.path}: a commit to finish, on a read-only file system; "
                    "make it writable and run again"
                )
            yield

    def _folder_owner(self) -> int:
        """The owner of ``devices/``, a real directory of the store (never a link out)."""
        found = real_dir(self.devices_dir)
        if found is None:
            raise BadStoreError(f"{self.devices_dir}: no such directory")
        return found.st_uid

    def _writable_only_by_owner(self) -> None:
        """Path-based checks hold only where no one but the owner (whose rights the
        run has) or root can swap a folder: refused otherwise (``confined.py``)."""
        check_folders(self.devices_dir, self._folder_owner())

    def _checked(self, path: Path) -> None:
        """Refuse a store file of another owner, or hard-linked out of the store."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        check_file(path, st, self._folder_owner(), self.devices_dir / BACKUP_DIR)

    def read_ledger(self) -> Ledger:
        data = read_bytes(self.ledger_path)
        self._checked(self.ledger_path)
        self._ledger_read = data  # what a run undone by a gateway puts back
        return Ledger() if data is None else parse_ledger(data, str(self.ledger_path))

    def read(self) -> Snapshot[RawFiles]:
        started = time.monotonic()
        paired_identity, paired_bytes = read_regular(self.paired_path)
        pending_identity, pending_bytes = read_regular(self.pending_path)
        self._checked(self.paired_path)
        self._checked(self.pending_path)
        index = None if paired_bytes is None else read_paired(self.paired_path, paired_bytes)
        pending = (
            {}
            if pending_bytes is None
            else parse_object_file(self.pending_path, pending_bytes, "request id")
        )
        devices = [] if index is None else index.devices
        requests = [pending_from_record(self.pending_path, k, v) for k, v in pending.items()]
        raw = RawFiles(index, pending_bytes, paired_identity, pending_identity, pending)
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
        if self._read_only:
            raise RunFailedError(
                f"{self.devices_dir}: on a read-only file system; nothing was changed"
            )
        self._writable_only_by_owner()
        raced = self._commit_rebasing(snapshot, changes, ledger)
        adopt_newcomers(raced, ledger, catch_up, self._commit_rebasing, self.read)

    def _commit_rebasing(
        self, snapshot: Snapshot[RawFiles], changes: ChangeSet, ledger: Ledger
    ) -> Snapshot[RawFiles] | None:
        """Publish one commit, rebased onto a gateway's rewrites (``gateway.rebase``).

        Returns the store as others left it when anyone wrote it around our
        commit, so the run can migrate devices they added meanwhile.
        """
        # From the bytes read: the engine edited the snapshot's devices in place.
        base = scope_base(records_of(snapshot.private.paired_index, changes.devices), changes)
        published, rebased = rebase(
            snapshot.private,
            changes,
            base,
            lambda raw, edited: self._commit_once(raw, changes, ledger, edited),
            lambda: self.read().private,
            self.paired_path,
        )
        lineages, displaced = self._lineages(published, changes, base)
        try:
            touched = PENDING_NAME in lineages and rebase_displaced(
                lineages[PENDING_NAME], displaced.get(PENDING_NAME)
            )
            if PAIRED_NAME in lineages:
                touched = (
                    keep_published(
                        lineages[PAIRED_NAME],
                        displaced.get(PAIRED_NAME),
                        self._settle_seconds,
                        gateway_seen=rebased or self._gateway_may_write(),
                    )
                    or touched
                )
        except GatewayRewroteError as exc:
            self._put_back_ledger()
            raise GatewayRewroteError(f"{exc}; {self._gateway_advice()}") from None
        return self.read() if rebased or touched else None

    def _lineages(
        self, published: Published, changes: ChangeSet, base: dict[str, dict[str, ScopeList]]
    ) -> tuple[dict[str, Lineage], dict[str, Path]]:
        """What the commit published of paired.json and pending.json, each with how
        our edits are re-applied onto another program's version of it."""
        files, entry, displaced = published
        how: dict[str, tuple[Callable[[dict[str, Any]], Any], Callable[..., bytes], str]] = {
            PAIRED_NAME: (
                lambda records: restore_reverted(records, changes, base),
                render_paired,
                "device id",
            ),
            PENDING_NAME: (
                lambda pending: _pending_edited(pending, changes),
                _dump_pending,
                "request id",
            ),
        }
        lineages = {
            file.path.name: Lineage(
                file.path, entry.our_identity(file.path.name), file.data, *how[file.path.name]
            )
            for file in files
            if file.path.name in how
        }
        return lineages, displaced

    def _gateway_may_write(self) -> bool:
        """Whether a gateway answers where OpenClaw says it listens (``liveness``):
        only then is the settle window paid (docs/threat-model.md)."""
        where = gateway_answering(self.state_dir, os.environ)
        if where is not None:
            log.info(
                "%s: a gateway answers on %s: watching for its write-backs", self.devices_dir, where
            )
        return where is not None

    def _put_back_ledger(self) -> None:
        """The ledger as the run found it: it never claims what the devices do not hold."""
        if self._ledger_read is None:
            self.ledger_path.unlink(missing_ok=True)
        else:
            write_private(self.ledger_path, self._ledger_read)

    def _gateway_advice(self) -> str:
        where = gateway_answering(self.state_dir, os.environ)
        running = f"a gateway answers on {where}" if where else "no gateway answers on loopback"
        return (
            f"the ledger was left as it was ({running}): restart the gateway so the hook "
            "repairs before it starts (ExecStartPre), or stop it and run again"
        )

    def _commit_once(
        self,
        raw: RawFiles,
        changes: ChangeSet,
        ledger: Ledger,
        edited: dict[str, dict[str, ScopeList]],
    ) -> Published:
        """One attempt at the commit protocol (``journal.py``); ``edited`` names the
        fields to set (each with the value it held), set to ``changes``' values.
        Returns the files published, their journal entry and the versions of
        others their swaps displaced.

        Raises ``StoreChangedError``, having published nothing, when
        paired.json (or the first file) changed since ``raw`` was read.
        """
        files: list[NewFile] = []
        if changes.devices:
            assert raw.paired_index is not None  # devices changed: paired.json was read
            new = new_values(edited, changes.devices)
            # Written straight to the temp file: never held whole (docs/performance.md).
            files.append(
                NewFile(
                    self.paired_path,
                    partial(write_paired, raw.paired_index, new),
                    raw.paired_identity,
                )
            )
        if changes.pending_removed or changes.pending_restored:
            data = dump_openclaw_json(
                edit_pending(raw.pending, changes), ends_with_newline(raw.pending_bytes)
            )
            files.append(NewFile(self.pending_path, data, raw.pending_identity))
        files.append(NewFile(self.ledger_path, ledger.dump(), None))
        entry = self.journal.write(files, changes)
        try:
            # No check that the files are as read: a check goes stale before the
            # rename; the swap itself reveals a write made since (journal.py).
            self._backup(raw)
        except BaseException:
            # Nothing is published: no space for the backup (ENOSPC, EDQUOT), a
            # refused backups folder: leave nothing of this attempt behind.
            self.journal.discard(entry)
            raise
        return files, entry, self.journal.publish(entry)

    def _backup(self, raw: RawFiles) -> None:
        """Keep the files being replaced, by hard link: no copy, same bytes."""
        if self.keep_backups <= 0 or raw.paired_identity is None:
            return
        root = self.devices_dir / BACKUP_DIR
        if real_dir(root) is None:  # never a link out of the store
            root.mkdir(mode=0o700)
        folder = root / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        folder.mkdir(mode=0o700)
        try:
            self._link_backup(raw, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        log.info("%s: the replaced files are kept in %s", self.devices_dir, folder)
        prune(root, self.keep_backups, self.backups_max_bytes)

    def _link_backup(self, raw: RawFiles, folder: Path) -> None:
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
