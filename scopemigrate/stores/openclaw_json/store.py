"""OpenClaw's JSON device store: ``<state>/devices/paired.json`` and ``pending.json``.

A commit spans up to three files (paired, pending, ledger) and a rename covers
one file at a time, so a commit first writes a journal holding the new content
of every file, then replaces the files, then deletes the journal. A run that
finds a journal (the previous one was killed mid-commit) finishes it first.

A gateway rewrites paired.json without any lock: our changes are rebased onto
its version, a stale write-back after our publish is settled, and devices it
paired meanwhile are brought up through the run's ``CatchUp``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock
from filelock import Timeout as FileLockTimeout

from scopemigrate.config import DEFAULT_KEEP_BACKUPS
from scopemigrate.devices import (
    ChangeSet,
    ScopeList,
)
from scopemigrate.errors import BadStoreError, LockTimeoutError, StoreChangedError
from scopemigrate.ledger import Ledger, parse_ledger
from scopemigrate.stores.atomic import (
    TEMP_SUFFIX,
    exchange,
    fsync_dir,
    identity,
    write_private,
    write_temp,
)
from scopemigrate.stores.base import MAX_ATTEMPTS, CatchUp, Snapshot
from scopemigrate.stores.layout import (
    DEVICES_DIR,
    JOURNAL_NAME,
    LEDGER_NAME,
    PAIRED_NAME,
    PENDING_NAME,
)
from scopemigrate.stores.openclaw_json.records import (
    device_from_record,
    dump_openclaw_json,
    edit_pending,
    ends_with_newline,
    get_scope_list,
    parse_object_file,
    pending_from_record,
    read_bytes,
    render_paired,
    restore_reverted,
)

LOCK_NAME = ".scopemigrate.lock"


BACKUP_DIR = "scopemigrate-backups"


# A gateway that read paired.json just before our publish writes its stale
# version back within about the time it takes to parse and write the file,
# which is about what our own read takes; wait a few times that, within bounds.
# The floor covers a gateway descheduled for a few time slices on a busy
# machine (measured: 50 ms lost writes with three test runs on two cores, 250
# ms did not); only a run that changes the store pays it, once.
SETTLE_FACTOR = 3.0


SETTLE_MIN_SECONDS = 0.25


SETTLE_MAX_SECONDS = 1.0


SETTLE_ROUNDS = 20


REBASE_ROUNDS = 10


@dataclass(frozen=True)
class _Raw:
    """What was read, byte for byte, and the parsed trees the commit edits."""

    paired_bytes: bytes | None
    pending_bytes: bytes | None
    paired_identity: tuple[int, int, int] | None
    pending_identity: tuple[int, int, int] | None
    paired: dict[str, Any]
    pending: dict[str, Any]


class OpenClawJsonStore:
    """The embedded default store of OpenClaw releases up to about 2026.7."""

    def __init__(self, state_dir: Path, keep_backups: int = DEFAULT_KEEP_BACKUPS):
        self.state_dir = state_dir
        self.keep_backups = keep_backups
        self.devices_dir = state_dir / DEVICES_DIR
        self.paired_path = self.devices_dir / PAIRED_NAME
        self.pending_path = self.devices_dir / PENDING_NAME
        self.ledger_path = self.devices_dir / LEDGER_NAME
        self.journal_path = self.devices_dir / JOURNAL_NAME
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
            self._recover()
            yield
        finally:
            lock.release()

    def read_ledger(self) -> Ledger:
        data = read_bytes(self.ledger_path)
        return Ledger() if data is None else parse_ledger(data, str(self.ledger_path))

    def read(self) -> Snapshot:
        started = time.monotonic()
        paired_identity, paired_bytes = self._read_regular(self.paired_path)
        pending_identity, pending_bytes = self._read_regular(self.pending_path)
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
        raw = _Raw(paired_bytes, pending_bytes, paired_identity, pending_identity, paired, pending)
        elapsed = (time.monotonic() - started) * SETTLE_FACTOR
        self._settle_seconds = min(max(elapsed, SETTLE_MIN_SECONDS), SETTLE_MAX_SECONDS)
        return Snapshot(devices, requests, raw)

    def _read_regular(self, path: Path) -> tuple[tuple[int, int, int] | None, bytes | None]:
        """Read a store file, refusing symlinks: we replace files, never follow links."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            if path.is_symlink():
                raise BadStoreError(
                    f"{path}: is a symbolic link; scopemigrate only rewrites regular files "
                    "(replace the link by the file it points to)"
                ) from None
            raise BadStoreError(f"{path}: cannot read: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            return (st.st_ino, st.st_size, st.st_mtime_ns), handle.read()

    def commit(
        self,
        snapshot: Snapshot,
        changes: ChangeSet,
        ledger: Ledger,
        catch_up: CatchUp | None = None,
    ) -> None:
        """Publish devices, pending requests and ledger as one unit; then bring up,
        through ``catch_up``, devices a gateway paired around the commit."""
        raced = self._commit_rebasing(snapshot, changes, ledger)
        for _ in range(MAX_ATTEMPTS):
            if raced is None or catch_up is None:
                return
            proposal = catch_up.propose(raced, ledger)
            if proposal is None:
                return
            more, candidate = proposal
            try:
                next_raced = self._commit_rebasing(raced, more, candidate)
            except StoreChangedError:
                raced = self.read()
                continue
            catch_up.accepted()
            ledger, raced = candidate, next_raced

    def _commit_rebasing(
        self, snapshot: Snapshot, changes: ChangeSet, ledger: Ledger
    ) -> Snapshot | None:
        """Publish one commit, rebased onto a gateway's rewrites.

        A gateway that rewrote paired.json since we read it is not an error:
        our changes are rebased onto its version (each changed field is set
        where it still holds the value we read) and the commit is retried.
        Returns the store as others left it when anyone wrote it around our
        commit, so the run can migrate devices they added meanwhile.
        """
        raw: _Raw = snapshot.private
        base = {
            device_id: {name: get_scope_list(raw.paired[device_id], name) for name in fields}
            for device_id, fields in changes.devices.items()
        }
        rebased = False
        for _ in range(REBASE_ROUNDS):
            edited = restore_reverted(raw.paired, changes, base)
            try:
                self._commit_once(raw, changes, ledger, edited)
            except StoreChangedError:
                raw = self.read().private
                rebased = True
                continue
            touched = bool(changes.devices) and self._keep_published(changes, base)
            return self.read() if rebased or touched else None
        raise StoreChangedError(
            f"{self.paired_path}: rewritten by another program throughout {REBASE_ROUNDS} attempts"
        )

    def _commit_once(
        self,
        raw: _Raw,
        changes: ChangeSet,
        ledger: Ledger,
        edited: dict[str, dict[str, ScopeList]],
    ) -> None:
        """One attempt at the commit protocol.

        Write every new file as a fsynced temp file; write a small journal
        naming them; publish paired, then pending, then the ledger, each by an
        atomic swap that detects a concurrent writer; delete the journal. A
        run killed before the first swap is rolled back by the next run; one
        killed after it is rolled forward (see ``_recover``). Raises
        ``StoreChangedError``, having published nothing, when paired.json (or
        the first file) changed since ``raw`` was read.
        """
        contents: list[tuple[Path, bytes, tuple[int, int, int] | None]] = []
        if changes.devices:
            data = render_paired(raw.paired_bytes, raw.paired, edited)
            contents.append((self.paired_path, data, raw.paired_identity))
        if changes.pending_removed or changes.pending_restored:
            data = dump_openclaw_json(
                edit_pending(raw.pending, changes), ends_with_newline(raw.pending_bytes)
            )
            contents.append((self.pending_path, data, raw.pending_identity))
        contents.append((self.ledger_path, ledger.model_dump_json(indent=2).encode("utf-8"), None))
        temps: list[Path] = []
        try:
            for path, data, _ in contents:
                temps.append(write_temp(path, data))
            journal = {
                "files": [
                    {"name": path.name, "tmp": tmp.name, "old": old, "new": identity(tmp)}
                    for (path, _, old), tmp in zip(contents, temps, strict=True)
                ],
                "pending_removed": changes.pending_removed,
                "pending_restored": changes.pending_restored,
            }
            write_private(self.journal_path, json.dumps(journal).encode("utf-8"))
        except BaseException:
            for tmp in temps:
                tmp.unlink(missing_ok=True)
            raise
        try:
            self._check_unchanged(raw)
        except StoreChangedError:
            self._discard(journal)
            raise
        self._backup(raw)
        for index, (path, _, old) in enumerate(contents):
            self._publish(path, temps[index], old, first=index == 0, journal=journal)
        fsync_dir(self.devices_dir)
        self.journal_path.unlink()
        fsync_dir(self.devices_dir)

    def _publish(
        self,
        path: Path,
        tmp: Path,
        old: tuple[int, int, int] | None,
        *,
        first: bool,
        journal: dict[str, Any],
    ) -> None:
        """Replace ``path`` by ``tmp``, unless someone replaced it since we read it.

        A gateway rewrites paired.json without any lock. Swapping the names
        (rather than renaming over) keeps the file we displace, so a write that
        landed after our last check is put back instead of lost.
        """
        if old is None or not exchange(tmp, path):
            # The ledger (only we write it, under our lock), or no renameat2 here.
            if old is not None and identity(path) != tuple(old):
                self._conflict(path, first, journal)
            os.replace(tmp, path)
            return
        if identity(tmp) == tuple(old):
            tmp.unlink()
            return
        ours = journal_identity(journal, path.name)
        if identity(path) == ours:
            exchange(tmp, path)  # their version back in place; ours back at tmp
        tmp.unlink(missing_ok=True)
        self._conflict(path, first, journal)

    def _conflict(self, path: Path, first: bool, journal: dict[str, Any]) -> None:
        if first:
            # Nothing of ours is published: give up cleanly, the run is redone.
            self._discard(journal)
            raise StoreChangedError(f"{path}: changed while scopemigrate was running")
        # paired.json is already published; only pending.json follows it, and
        # its edits are re-applied onto the gateway's newer version.
        self._reapply_pending(journal)

    def _keep_published(self, changes: ChangeSet, base: dict[str, dict[str, ScopeList]]) -> bool:
        """Make sure a gateway's stale write did not undo ours right after we published.

        A gateway that read paired.json before our rename and writes after it
        puts the old scope lists back. Wait for such a write to land, then
        re-apply our changes to every field it reverted (and only those: a
        field the gateway changed to something else is its own newer decision).
        Returns whether anyone wrote paired.json after us.
        """
        published = identity(self.paired_path)
        touched = False
        wait = True
        for _ in range(SETTLE_ROUNDS):
            if wait:
                time.sleep(self._settle_seconds)
            seen, data = self._read_regular(self.paired_path)
            if seen == published or data is None:
                return touched
            touched = True
            current = parse_object_file(self.paired_path, data, "device id")
            restored = restore_reverted(current, changes, base)
            if not restored:
                return touched
            tmp = write_temp(self.paired_path, render_paired(data, current, restored))
            wait = True
            if not exchange(tmp, self.paired_path):
                os.replace(tmp, self.paired_path)
            elif identity(tmp) != seen:
                # Rewritten again meanwhile: put that version back, retry at once.
                exchange(tmp, self.paired_path)
                wait = False
            tmp.unlink(missing_ok=True)
            fsync_dir(self.devices_dir)
            if wait:
                published = identity(self.paired_path)
        return touched

    def _check_unchanged(self, raw: _Raw) -> None:
        for path, seen in (
            (self.paired_path, raw.paired_identity),
            (self.pending_path, raw.pending_identity),
        ):
            if identity(path) != seen:
                raise StoreChangedError(f"{path}: changed while scopemigrate was running")

    def _discard(self, journal: dict[str, Any]) -> None:
        for entry in journal["files"]:
            (self.devices_dir / entry["tmp"]).unlink(missing_ok=True)
        self.journal_path.unlink(missing_ok=True)
        fsync_dir(self.devices_dir)

    def _recover(self) -> None:
        """Finish or undo a commit that a killed run left behind.

        Nothing published yet (the first file's temp is still there): roll
        back, so a gateway write made since is kept.
        Something published: roll forward; a pending.json that a gateway
        rewrote since gets our request edits re-applied, not overwritten.
        """
        self._remove_stale_temps()
        data = read_bytes(self.journal_path)
        if data is None:
            return
        try:
            journal = json.loads(data)
            entries = journal["files"]
        except (ValueError, KeyError, TypeError):
            # write_private never leaves a torn journal; this one was edited by hand.
            raise BadStoreError(
                f"{self.journal_path}: unreadable commit journal; move it away to continue"
            ) from None
        first = self.devices_dir / entries[0]["tmp"]
        if first.exists() and not _displaced(first, entries[0]):
            # Files are published in order: the first is not, so nothing is.
            self._discard(journal)
            return
        for entry in entries:
            tmp = self.devices_dir / entry["tmp"]
            target = self.devices_dir / entry["name"]
            if not tmp.exists():
                continue
            if _displaced(tmp, entry):
                # Swapped in already; what is left at tmp is the file it displaced.
                tmp.unlink()
                continue
            if (
                entry["name"] == self.pending_path.name
                and entry["old"] is not None
                and list(identity(target) or ()) != list(entry["old"])
            ):
                self._reapply_pending(journal)
                tmp.unlink()
                continue
            os.replace(tmp, target)
        fsync_dir(self.devices_dir)
        self.journal_path.unlink()
        fsync_dir(self.devices_dir)

    def _reapply_pending(self, journal: dict[str, Any]) -> None:
        data = read_bytes(self.pending_path)
        pending = {} if data is None else parse_object_file(self.pending_path, data, "request id")
        changes = ChangeSet(
            pending_removed=list(journal.get("pending_removed", [])),
            pending_restored=[(int(i), r) for i, r in journal.get("pending_restored", [])],
        )
        write_private(
            self.pending_path,
            dump_openclaw_json(edit_pending(pending, changes), ends_with_newline(data)),
        )

    def _remove_stale_temps(self) -> None:
        journal = read_bytes(self.journal_path)
        named = set()
        if journal is not None:
            try:
                named = {e["tmp"] for e in json.loads(journal)["files"]}
            except (ValueError, KeyError, TypeError):
                named = set()
        for tmp in self.devices_dir.glob(f".*{TEMP_SUFFIX}"):
            if tmp.name not in named:
                tmp.unlink(missing_ok=True)

    def _backup(self, raw: _Raw) -> None:
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
                os.link(path, folder / path.name)
                os.chmod(folder / path.name, 0o600)
            except FileNotFoundError:
                # Linux refuses to link a file that a gateway's rename just
                # unlinked; keep the bytes this run read instead.
                data = read_bytes.get(path)
                if data is not None:
                    write_private(folder / path.name, data)
        for old in sorted(root.iterdir())[: -self.keep_backups]:
            shutil.rmtree(old, ignore_errors=True)


def _displaced(tmp: Path, entry: dict[str, Any]) -> bool:
    """Whether ``tmp`` now holds the file our temp was swapped with (not our temp)."""
    recorded = entry.get("new")
    seen = identity(tmp)
    return recorded is not None and seen is not None and list(seen) != list(recorded)


def journal_identity(journal: dict[str, Any], name: str) -> tuple[int, int, int] | None:
    """The identity our new version of file ``name`` had when written."""
    for entry in journal["files"]:
        if entry["name"] == name and entry.get("new") is not None:
            return (int(entry["new"][0]), int(entry["new"][1]), int(entry["new"][2]))
    return None
