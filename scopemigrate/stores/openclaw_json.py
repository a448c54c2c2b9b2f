"""OpenClaw's JSON device store: ``<state>/devices/paired.json`` and ``pending.json``.

Records are kept as parsed, with their key order; only the scope lists the
engine changed are touched, and files are written the way OpenClaw's own
writer does (two-space JSON, non-ASCII as is, mode 0600, temp file + rename).

A commit spans up to three files (paired, pending, ledger) and a rename covers
one file at a time, so a commit first writes a journal holding the new content
of every file, then replaces the files, then deletes the journal. A run that
finds a journal (the previous one was killed mid-commit) finishes it first.
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

from scopemigrate.devices import (
    APPROVED_SCOPES,
    SCOPES,
    TOKEN_PREFIX,
    ChangeSet,
    DeviceState,
    PendingRequest,
    ScopeList,
    revoked_roles,
    token_field,
)
from scopemigrate.errors import BadStoreError, LockTimeoutError, StoreChangedError
from scopemigrate.headmark import JOURNAL_NAME, LEDGER_NAME
from scopemigrate.ledger import Ledger, parse_ledger
from scopemigrate.stores.atomic import (
    TEMP_SUFFIX,
    exchange,
    fsync_dir,
    identity,
    write_private,
    write_temp,
)
from scopemigrate.stores.base import Snapshot
from scopemigrate.stores.json_splice import splice_records

LOCK_NAME = ".scopemigrate.lock"
BACKUP_DIR = "scopemigrate-backups"
DEFAULT_KEEP_BACKUPS = 5
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


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BadStoreError(f"{path}: cannot read: {exc.strerror}") from None


def dump_openclaw_json(value: Any, trailing_newline: bool = False) -> bytes:
    """Serialise like OpenClaw's ``JSON.stringify(value, null, 2)``."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return (text + ("\n" if trailing_newline else "")).encode("utf-8")


def render_paired(
    original: bytes | None, tree: dict[str, Any], edited: dict[str, dict[str, ScopeList]]
) -> bytes:
    """paired.json's new bytes: the edited lists spliced in where the layout allows.

    ``tree`` is ``original`` parsed, then edited in the lists named by
    ``edited`` (device id -> field -> the value it held).
    """
    trailing = _ends_with_newline(original)
    if original is not None:
        spliced = splice_records(original, tree, edited, trailing)
        if spliced is not None:
            return spliced
    return dump_openclaw_json(tree, trailing)


def parse_object_file(path: Path, data: bytes, keyed_by: str) -> dict[str, Any]:
    """Decode a JSON file that must hold one object, with a one-line error otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadStoreError(
            f"{path}: not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadStoreError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "the file may be truncated"
        ) from None
    if not isinstance(value, dict):
        raise BadStoreError(
            f"{path}: expected a JSON object keyed by {keyed_by}, found {_kind(value)}"
        )
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return names.get(type(value), type(value).__name__)


class _Checker:
    """One-line errors naming file, record and field; never a field's value."""

    def __init__(self, path: Path, key: str):
        self.path, self.key = path, key

    def fail(self, field: str, problem: str) -> BadStoreError:
        return BadStoreError(f"{self.path}: record {self.key}: field '{field}': {problem}")

    def string(self, record: dict[str, Any], field: str, required: bool = False) -> str | None:
        value = record.get(field)
        if value is None and field not in record and not required:
            return None
        if not isinstance(value, str):
            raise self.fail(field, f"expected a string, found {_kind(value)}")
        return value

    def strings(self, record: dict[str, Any], field: str, where: str | None = None) -> ScopeList:
        if field not in record:
            return None
        value = record[field]
        name = where or field
        if not isinstance(value, list):
            raise self.fail(name, f"expected a list of strings, found {_kind(value)}")
        for item in value:
            if not isinstance(item, str):
                raise self.fail(name, f"expected a list of strings, found {_kind(item)} in it")
        return list(value)


def device_from_record(path: Path, key: str, record: Any) -> DeviceState:
    check = _Checker(path, key)
    if not isinstance(record, dict):
        raise BadStoreError(f"{path}: record {key}: expected an object, found {_kind(record)}")
    device_id = check.string(record, "deviceId", required=True)
    if device_id != key:
        raise check.fail("deviceId", "differs from the key the record is stored under")
    role = check.string(record, "role")
    roles = set(check.strings(record, "roles") or [])
    if role:
        roles.add(role)
    fields: dict[str, ScopeList] = {
        SCOPES: check.strings(record, "scopes"),
        APPROVED_SCOPES: check.strings(record, "approvedScopes"),
    }
    tokens = record.get("tokens", {})
    if not isinstance(tokens, dict):
        raise check.fail("tokens", f"expected an object keyed by role, found {_kind(tokens)}")
    for token_role, token in tokens.items():
        where = f"tokens.{token_role}"
        if not isinstance(token, dict):
            raise check.fail(where, f"expected an object, found {_kind(token)}")
        fields[token_field(token_role)] = check.strings(token, "scopes", f"{where}.scopes")
    label = (
        check.string(record, "displayName") or check.string(record, "clientId") or device_id[:12]
    )
    return DeviceState(
        device_id=device_id,
        label=label,
        roles=frozenset(roles),
        client_id=check.string(record, "clientId"),
        client_mode=check.string(record, "clientMode"),
        fields=fields,
        revoked_tokens=revoked_roles(tokens),
    )


def pending_from_record(path: Path, key: str, record: Any) -> PendingRequest:
    check = _Checker(path, key)
    if not isinstance(record, dict):
        raise BadStoreError(f"{path}: record {key}: expected an object, found {_kind(record)}")
    device_id = check.string(record, "deviceId", required=True) or ""
    role = check.string(record, "role")
    roles = set(check.strings(record, "roles") or [])
    if role:
        roles.add(role)
    is_repair = record.get("isRepair", False)
    if not isinstance(is_repair, bool):
        raise check.fail("isRepair", f"expected a boolean, found {_kind(is_repair)}")
    return PendingRequest(
        request_id=key,
        device_id=device_id,
        roles=frozenset(roles),
        scopes=tuple(check.strings(record, "scopes") or ()),
        is_repair=is_repair,
        raw=record,
    )


# The keys OpenClaw writes before each scope list. A list that comes back (a
# downgrade undoing a revoke that emptied it) goes back where OpenClaw puts it,
# so the file ends byte for byte as it was.
_DEVICE_HEAD = ("deviceId", "publicKey", "displayName", "platform", "clientId", "clientMode")
_KEYS_BEFORE = {
    SCOPES: (*_DEVICE_HEAD, "role", "roles"),
    APPROVED_SCOPES: (*_DEVICE_HEAD, "role", "roles", SCOPES),
    "token.scopes": ("token", "role"),
}


def _put_key(record: dict[str, Any], key: str, value: Any, after: tuple[str, ...]) -> None:
    if key in record:
        record[key] = value
        return
    items = list(record.items())
    position = 0
    for index, (existing, _) in enumerate(items):
        if existing in after:
            position = index + 1
    items.insert(position, (key, value))
    record.clear()
    record.update(items)


def _set_scope_list(record: dict[str, Any], name: str, value: ScopeList) -> None:
    if name.startswith(TOKEN_PREFIX):
        record = record["tokens"][name[len(TOKEN_PREFIX) :]]
        key, after = "scopes", _KEYS_BEFORE["token.scopes"]
    else:
        key, after = name, _KEYS_BEFORE[name]
    if value is None:
        record.pop(key, None)
    else:
        _put_key(record, key, value, after)


class OpenClawJsonStore:
    """The embedded default store of OpenClaw releases up to about 2026.7."""

    def __init__(self, state_dir: Path, keep_backups: int = DEFAULT_KEEP_BACKUPS):
        self.state_dir = state_dir
        self.keep_backups = keep_backups
        self.devices_dir = state_dir / "devices"
        self.paired_path = self.devices_dir / "paired.json"
        self.pending_path = self.devices_dir / "pending.json"
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
        data = _read_bytes(self.ledger_path)
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

    def commit(self, snapshot: Snapshot, changes: ChangeSet, ledger: Ledger) -> Snapshot | None:
        """Publish devices, pending requests and ledger as one unit.

        A gateway that rewrote paired.json since we read it is not an error:
        our changes are rebased onto its version (each changed field is set
        where it still holds the value we read) and the commit is retried.
        Returns the store as others left it when anyone wrote it around our
        commit, so the engine can migrate devices they added meanwhile.
        """
        raw: _Raw = snapshot.private
        base = {
            device_id: {name: _get_scope_list(raw.paired[device_id], name) for name in fields}
            for device_id, fields in changes.devices.items()
        }
        rebased = False
        for _ in range(REBASE_ROUNDS):
            edited = _restore_reverted(raw.paired, changes, base)
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
                _edit_pending(raw.pending, changes), _ends_with_newline(raw.pending_bytes)
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
            restored = _restore_reverted(current, changes, base)
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
        data = _read_bytes(self.journal_path)
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
        data = _read_bytes(self.pending_path)
        pending = {} if data is None else parse_object_file(self.pending_path, data, "request id")
        changes = ChangeSet(
            pending_removed=list(journal.get("pending_removed", [])),
            pending_restored=[(int(i), r) for i, r in journal.get("pending_restored", [])],
        )
        write_private(
            self.pending_path,
            dump_openclaw_json(_edit_pending(pending, changes), _ends_with_newline(data)),
        )

    def _remove_stale_temps(self) -> None:
        journal = _read_bytes(self.journal_path)
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


def _edit_pending(pending: dict[str, Any], changes: ChangeSet) -> dict[str, Any]:
    removed = set(changes.pending_removed)
    items = [(k, v) for k, v in pending.items() if k not in removed]
    present = {k for k, _ in items}
    for index, record in sorted(changes.pending_restored, key=lambda item: item[0]):
        key = str(record["requestId"])
        if key not in present:
            items.insert(min(index, len(items)), (key, record))
            present.add(key)
    return dict(items)


def _ends_with_newline(data: bytes | None) -> bool:
    return bool(data) and data is not None and data.endswith(b"\n")


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


def _get_scope_list(record: dict[str, Any], name: str) -> ScopeList:
    if name.startswith(TOKEN_PREFIX):
        token = record.get("tokens", {}).get(name[len(TOKEN_PREFIX) :])
        value = token.get("scopes") if isinstance(token, dict) else None
    else:
        value = record.get(name)
    return list(value) if isinstance(value, list) else None


def _restore_reverted(
    current: dict[str, Any],
    changes: ChangeSet,
    base: dict[str, dict[str, ScopeList]],
) -> dict[str, dict[str, ScopeList]]:
    """Re-apply our values to fields that hold what we read (first time: all of them;
    after a stale write: the ones it put back). Returns each field set, with the
    value it held before."""
    restored: dict[str, dict[str, ScopeList]] = {}
    for device_id, fields in changes.devices.items():
        record = current.get(device_id)
        if not isinstance(record, dict):
            continue  # unpaired since: the gateway's decision stands
        for name, ours in fields.items():
            if name.startswith(TOKEN_PREFIX) and not isinstance(
                record.get("tokens", {}).get(name[len(TOKEN_PREFIX) :]), dict
            ):
                continue  # token removed since
            held = _get_scope_list(record, name)
            if held == base[device_id][name] != ours:
                _set_scope_list(record, name, ours)
                restored.setdefault(device_id, {})[name] = held
    return restored
