"""The JSON store's commit journal: one commit over several files, crash-safe.

A rename replaces one file at a time and a commit spans up to three (paired,
pending, ledger). So every new file is first written as a fsynced temp file,
then a small journal naming them is written, then the files are published in
order, each by an atomic swap that detects a concurrent writer, then the
journal is deleted. A run that finds a journal (the previous one was killed
mid-commit) finishes it: rolled back while nothing is published, rolled
forward once something is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scopemigrate.devices import ChangeSet
from scopemigrate.errors import BadJournalError, BadStoreError, StoreChangedError
from scopemigrate.logs import get_logger
from scopemigrate.stores.atomic import (
    DISPLACED_SUFFIX,
    Content,
    Identity,
    exchange,
    fsync_dir,
    identity,
    set_aside,
    temp_target,
    write_private,
    write_temp,
)
from scopemigrate.stores.jsontext import loads
from scopemigrate.stores.layout import LEDGER_NAME, PAIRED_NAME, PENDING_NAME
from scopemigrate.stores.openclaw_json.records import (
    dump_openclaw_json,
    edit_pending,
    ends_with_newline,
    parse_object_file,
    read_bytes,
)

__all__ = ["OWN_FILES", "Journal", "JournalEntry", "JournalFile", "NewFile"]

# The only files a journal may name: the store's own, each beside its temp file.
OWN_FILES = frozenset({PAIRED_NAME, PENDING_NAME, LEDGER_NAME})

log = get_logger(__name__)


@dataclass(frozen=True)
class NewFile:
    """A file a commit replaces: where, its new content, its identity as read (None: the ledger)."""

    path: Path
    data: Content
    old: Identity | None


@dataclass(frozen=True)
class JournalFile:
    """One file of a commit: its name, its temp's name, its identity before and our new one."""

    name: str
    tmp: str
    old: Identity | None
    new: Identity | None


@dataclass(frozen=True)
class JournalEntry:
    """One commit in flight: its files in publishing order and its request edits."""

    files: tuple[JournalFile, ...]
    pending_removed: tuple[str, ...] = ()
    # (original index, raw record): requests a downgrade puts back, as in ChangeSet.
    pending_restored: tuple[tuple[int, dict[str, Any]], ...] = ()

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "files": [
                    {"name": f.name, "tmp": f.tmp, "old": f.old, "new": f.new} for f in self.files
                ],
                "pending_removed": list(self.pending_removed),
                "pending_restored": [list(item) for item in self.pending_restored],
            }
        ).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, path: Path) -> JournalEntry:
        """Parse a journal; ``BadJournalError`` naming ``path`` when it is not one.

        A journal is input (the store's folder is): it may name only the store's
        own files, each with a temp file of the name ``write_temp`` gives, once.
        """
        # write_private never leaves a torn journal; an unreadable one was edited by hand.
        unreadable = BadJournalError(
            f"{path}: unreadable commit journal (not one scopemigrate wrote: edited by "
            "hand?); nothing was changed: move it away to continue"
        )
        try:
            raw = loads(path, data)
            entry = cls(
                tuple(
                    JournalFile(
                        _name(f["name"]),
                        _name(f["tmp"]),
                        _identity(f["old"]),
                        _identity(f.get("new")),
                    )
                    for f in raw["files"]
                ),
                tuple(_name(r) for r in raw.get("pending_removed", [])),
                tuple((int(i), _record(r)) for i, r in raw.get("pending_restored", [])),
            )
        except (BadStoreError, ValueError, KeyError, TypeError, AttributeError):
            raise unreadable from None
        names = [f.name for f in entry.files]
        if (
            not entry.files
            or len(set(names)) != len(names)
            or any(f.name not in OWN_FILES or temp_target(f.tmp) is None for f in entry.files)
        ):
            raise unreadable
        return entry

    def changes(self) -> ChangeSet:
        """The request edits, to re-apply onto a pending.json a gateway rewrote."""
        return ChangeSet(
            pending_removed=list(self.pending_removed),
            pending_restored=list(self.pending_restored),
        )

    def our_identity(self, name: str) -> Identity | None:
        """The identity our new version of file ``name`` had when written."""
        for file in self.files:
            if file.name == name and file.new is not None:
                return file.new
        return None


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _identity(value: Any) -> Identity | None:
    if value is None:
        return None
    first, second, third = value
    return (int(first), int(second), int(third))


def _record(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(value)
    return value


class Journal:
    """The journal of one devices directory, and the commits it covers."""

    def __init__(self, devices_dir: Path, path: Path, pending_path: Path):
        self.devices_dir = devices_dir
        self.path = path
        self.pending_path = pending_path

    def write(self, files: Sequence[NewFile], changes: ChangeSet) -> JournalEntry:
        """Write every new file as a fsynced temp file, then the journal naming them."""
        temps: list[Path] = []
        try:
            for file in files:
                temps.append(write_temp(file.path, file.data))
            entry = JournalEntry(
                tuple(
                    JournalFile(file.path.name, tmp.name, file.old, identity(tmp))
                    for file, tmp in zip(files, temps, strict=True)
                ),
                tuple(changes.pending_removed),
                tuple(changes.pending_restored),
            )
            write_private(self.path, entry.to_json())
        except BaseException:
            # Out of space or quota part-way: nothing is published; leave nothing.
            for tmp in temps:
                tmp.unlink(missing_ok=True)
            self.path.unlink(missing_ok=True)  # under the store's lock: only ours
            raise
        return entry

    def publish(self, entry: JournalEntry) -> dict[str, Path]:
        """Publish every file in order, then delete the journal.

        Returns, by file name, the versions another program wrote that a swap
        displaced (kept aside: ``atomic.swap_in``), for the caller to rebase
        onto: ours is published, theirs is not lost.
        A fault part-way (a rename out of directory space, a flush that fails)
        is rolled forward at once, as the next run would: nothing is left behind.
        """
        displaced: dict[str, Path] = {}
        for index, file in enumerate(entry.files):
            try:
                found = self._publish(file, first=index == 0, entry=entry)
            except OSError:
                if index == 0:
                    self.discard(entry)  # nothing published: as if never tried
                    raise
                self.recover()
                return displaced
            if found is not None:
                displaced[file.name] = found
        try:
            self._finish()
        except OSError:
            self.recover()
        return displaced

    def _publish(self, file: JournalFile, *, first: bool, entry: JournalEntry) -> Path | None:
        """Replace the file by its temp; returns the version of another program
        that the swap displaced, if any (kept aside, not lost).

        A gateway rewrites paired.json without any lock. Swapping the names
        (rather than renaming over) keeps the file we displace: the swap itself
        is the only step, and whatever it reveals is rebased onto, never
        swapped back (a second swap could displace a newer write).
        """
        path, tmp = self.devices_dir / file.name, self.devices_dir / file.tmp
        if file.old is None:
            os.replace(tmp, path)  # the ledger: only we write it, under our lock
            return None
        if exchange(tmp, path):
            return set_aside(tmp, path, (file.old,))
        # No renameat2 here: a check, then a rename (docs/threat-model.md).
        if identity(path) != file.old:
            self._conflict(path, first, entry)
            return None
        os.replace(tmp, path)
        return None

    def _conflict(self, path: Path, first: bool, entry: JournalEntry) -> None:
        if first:
            # Nothing of ours is published: give up cleanly, the run is redone.
            self.discard(entry)
            raise StoreChangedError(f"{path}: changed while scopemigrate was running")
        # paired.json is already published; only pending.json follows it, and
        # its edits are re-applied onto the gateway's newer version.
        self._reapply_pending(entry)

    def discard(self, entry: JournalEntry) -> None:
        """Drop a commit that published nothing: its temps, then the journal."""
        for file in entry.files:
            (self.devices_dir / file.tmp).unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)
        fsync_dir(self.devices_dir)

    def recover(self) -> None:
        """Finish or undo a commit that a killed run left behind.

        Nothing published yet (the first file's temp is still there): roll
        back, so a gateway write made since is kept.
        Something published: roll forward; a pending.json that a gateway
        rewrote since gets our request edits re-applied, not overwritten.
        """
        data = read_bytes(self.path)
        entry = None if data is None else JournalEntry.from_json(data, self.path)
        self._remove_stale_temps(entry)
        if entry is None:
            return
        first = entry.files[0]
        if (self.devices_dir / first.tmp).exists() and not self._displaced(first):
            # Files are published in order: the first is not, so nothing is.
            log.warning("%s: an interrupted commit published nothing: rolled back", self.path)
            self.discard(entry)
            return
        log.warning("%s: an interrupted commit was under way: rolled forward", self.path)
        for file in entry.files:
            tmp = self.devices_dir / file.tmp
            target = self.devices_dir / file.name
            if not tmp.exists():
                continue
            if self._displaced(file):
                # Swapped in already; what is left at tmp is the file it displaced:
                # the one read, or another program's write, which is kept.
                kept = set_aside(tmp, target, (file.old,))
                if kept is not None:
                    log.warning(
                        "%s: written by another program while a commit was interrupted; "
                        "kept, not merged into %s: compare them",
                        kept,
                        target.name,
                    )
                continue
            if (
                target == self.pending_path
                and file.old is not None
                and identity(target) != file.old
            ):
                self._reapply_pending(entry)
                tmp.unlink()
                continue
            os.replace(tmp, target)
        self._finish()

    def _finish(self) -> None:
        """Every file is published: the journal goes, even if a flush fails (it could
        only repeat renames that are done)."""
        try:
            fsync_dir(self.devices_dir)
        finally:
            self.path.unlink(missing_ok=True)
        fsync_dir(self.devices_dir)

    def _displaced(self, file: JournalFile) -> bool:
        """Whether the temp now holds the file ours was swapped with (not our temp)."""
        seen = identity(self.devices_dir / file.tmp)
        return file.new is not None and seen is not None and seen != file.new

    def _reapply_pending(self, entry: JournalEntry) -> None:
        data = read_bytes(self.pending_path)
        pending = {} if data is None else parse_object_file(self.pending_path, data, "request id")
        write_private(
            self.pending_path,
            dump_openclaw_json(edit_pending(pending, entry.changes()), ends_with_newline(data)),
        )

    def _remove_stale_temps(self, entry: JournalEntry | None) -> None:
        """Delete temp files of runs killed before their journal named them: files
        named as ``write_temp`` names them, nothing else (never a folder)."""
        named = set() if entry is None else {file.tmp for file in entry.files}
        for found in os.scandir(self.devices_dir):
            if found.name.endswith(DISPLACED_SUFFIX):
                log.warning(
                    "%s: another program's version of a store file, which a killed run "
                    "had set aside and not yet merged: kept; compare it with the file",
                    self.devices_dir / found.name,
                )
            if (
                found.name not in named
                and temp_target(found.name) is not None
                and not found.is_dir(follow_symlinks=False)
            ):
                (self.devices_dir / found.name).unlink(missing_ok=True)
