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

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock
from filelock import Timeout as FileLockTimeout
from pydantic import ValidationError

from scopemigrate.devices import (
    APPROVED_SCOPES,
    SCOPES,
    TOKEN_PREFIX,
    ChangeSet,
    DeviceState,
    PendingRequest,
    ScopeList,
    token_field,
)
from scopemigrate.errors import BadStoreError, LockTimeoutError, StoreChangedError
from scopemigrate.ledger import Ledger
from scopemigrate.stores.atomic import fsync_dir, write_private
from scopemigrate.stores.base import Snapshot

LEDGER_NAME = "scopemigrate-ledger.json"
JOURNAL_NAME = "scopemigrate-journal.json"
LOCK_NAME = ".scopemigrate.lock"


@dataclass(frozen=True)
class _Raw:
    """What was read, byte for byte, and the parsed trees the commit edits."""

    paired_bytes: bytes | None
    pending_bytes: bytes | None
    paired: dict[str, Any]
    pending: dict[str, Any]


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


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


def _set_scope_list(record: dict[str, Any], name: str, value: ScopeList) -> None:
    if name.startswith(TOKEN_PREFIX):
        record = record["tokens"][name[len(TOKEN_PREFIX) :]]
        key = "scopes"
    else:
        key = name
    if value is None:
        record.pop(key, None)
    else:
        record[key] = value


class OpenClawJsonStore:
    """The embedded default store of OpenClaw releases up to about 2026.7."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.devices_dir = state_dir / "devices"
        self.paired_path = self.devices_dir / "paired.json"
        self.pending_path = self.devices_dir / "pending.json"
        self.ledger_path = self.devices_dir / LEDGER_NAME
        self.journal_path = self.devices_dir / JOURNAL_NAME

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
        if data is None:
            return Ledger()
        try:
            return Ledger.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise BadStoreError(
                f"{self.ledger_path}: not a valid scopemigrate ledger ({where}: {first['msg']})"
            ) from None

    def read(self) -> Snapshot:
        paired_bytes = _read_bytes(self.paired_path)
        pending_bytes = _read_bytes(self.pending_path)
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
        return Snapshot(devices, requests, _Raw(paired_bytes, pending_bytes, paired, pending))

    def commit(self, snapshot: Snapshot, changes: ChangeSet, ledger: Ledger) -> None:
        raw: _Raw = snapshot.private
        files: dict[Path, tuple[bytes | None, bytes]] = {}
        if changes.devices:
            for device_id, fields in changes.devices.items():
                for name, value in fields.items():
                    _set_scope_list(raw.paired[device_id], name, value)
            files[self.paired_path] = (
                raw.paired_bytes,
                dump_openclaw_json(raw.paired, _ends_with_newline(raw.paired_bytes)),
            )
        if changes.pending_removed or changes.pending_restored:
            items = [(k, v) for k, v in raw.pending.items() if k not in changes.pending_removed]
            for index, record in sorted(changes.pending_restored, key=lambda item: item[0]):
                items.insert(min(index, len(items)), (str(record["requestId"]), record))
            files[self.pending_path] = (
                raw.pending_bytes,
                dump_openclaw_json(dict(items), _ends_with_newline(raw.pending_bytes)),
            )
        files[self.ledger_path] = (
            _read_bytes(self.ledger_path),
            ledger.model_dump_json(indent=2).encode("utf-8"),
        )
        self._check_unchanged(raw)
        journal = {
            "files": [
                {"path": path.name, "old": _digest(old), "new": new.decode("utf-8")}
                for path, (old, new) in files.items()
            ]
        }
        write_private(self.journal_path, json.dumps(journal).encode("utf-8"))
        for path, (_, new) in files.items():
            write_private(path, new)
        self.journal_path.unlink()
        fsync_dir(self.devices_dir)

    def _check_unchanged(self, raw: _Raw) -> None:
        for path, seen in (
            (self.paired_path, raw.paired_bytes),
            (self.pending_path, raw.pending_bytes),
        ):
            if _read_bytes(path) != seen:
                raise StoreChangedError(f"{path}: changed while scopemigrate was running")

    def _recover(self) -> None:
        """Finish a commit that a killed run left half done."""
        data = _read_bytes(self.journal_path)
        if data is None:
            return
        journal = json.loads(data)
        for entry in journal["files"]:
            write_private(self.devices_dir / entry["path"], entry["new"].encode("utf-8"))
        self.journal_path.unlink()
        fsync_dir(self.devices_dir)


def _ends_with_newline(data: bytes | None) -> bool:
    return bool(data) and data is not None and data.endswith(b"\n")
