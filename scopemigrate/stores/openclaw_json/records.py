"""OpenClaw's JSON records: decoding and checking them, editing their scope lists in
OpenClaw's key order, and writing them the way OpenClaw's own writer does.

Records are kept as parsed, with their key order; only the scope lists the
engine changed are touched, and files are written as ``JSON.stringify(v, null,
2)`` writes them (non-ASCII as is), spliced byte for byte where the layout
allows (``splice.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

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
from scopemigrate.errors import BadStoreError
from scopemigrate.stores import jsontext
from scopemigrate.stores.atomic import Identity
from scopemigrate.stores.jsontext import loads
from scopemigrate.stores.openclaw_json.splice import splice_records

if TYPE_CHECKING:
    from scopemigrate.stores.openclaw_json.index import PairedIndex


@dataclass(frozen=True)
class RawFiles:
    """What was read, byte for byte: paired.json indexed (its bytes and each
    record's span, no parsed tree: ``index.py``), and the small pending tree."""

    paired_index: PairedIndex | None
    pending_bytes: bytes | None
    paired_identity: Identity | None
    pending_identity: Identity | None
    pending: dict[str, Any]

    @property
    def paired_bytes(self) -> bytes | None:
        return None if self.paired_index is None else self.paired_index.data


def read_regular(path: Path) -> tuple[Identity | None, bytes | None]:
    """A store file's identity and bytes (None, None: absent), within ``jsontext``'s
    bounds: a regular file, never through a link, never blocking."""
    found = jsontext.read_regular(path)
    return (None, None) if found is None else found


def read_bytes(path: Path) -> bytes | None:
    """A store file's bytes (None: absent), read within ``jsontext``'s bounds."""
    return read_regular(path)[1]


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
    trailing = ends_with_newline(original)
    if original is not None:
        spliced = splice_records(original, tree, edited, trailing)
        if spliced is not None:
            return spliced
    return dump_openclaw_json(tree, trailing)


def parse_object_file(path: Path, data: bytes, keyed_by: str) -> dict[str, Any]:
    """Decode a JSON file that must hold one object, with a one-line error otherwise."""
    value = loads(path, data)
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


def _keyed(
    path: Path, key: str, record: Any, id_field: str, stored: str
) -> tuple[_Checker, dict[str, Any]]:
    """The checks every keyed record starts with: an object, stored under its own
    id (``id_field``)."""
    check = _Checker(path, key)
    if not isinstance(record, dict):
        raise BadStoreError(f"{path}: record {key}: expected an object, found {_kind(record)}")
    if check.string(record, id_field, required=True) != key:
        raise check.fail(id_field, f"differs from the key the {stored} is stored under")
    return check, record


def _roles(check: _Checker, record: dict[str, Any]) -> frozenset[str]:
    """``role`` and ``roles`` together, as OpenClaw reads them."""
    role = check.string(record, "role")
    roles = set(check.strings(record, "roles") or [])
    if role:
        roles.add(role)
    return frozenset(roles)


def device_from_record(path: Path, key: str, record: Any) -> DeviceState:
    check, record = _keyed(path, key, record, "deviceId", "record")
    roles = _roles(check, record)
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
    label = check.string(record, "displayName") or check.string(record, "clientId") or key[:12]
    return DeviceState(
        device_id=key,
        label=label,
        roles=roles,
        client_id=check.string(record, "clientId"),
        client_mode=check.string(record, "clientMode"),
        fields=fields,
        revoked_tokens=revoked_roles(tokens),
    )


def pending_from_record(path: Path, key: str, record: Any) -> PendingRequest:
    # A downgrade puts a removed request back under its requestId.
    check, record = _keyed(path, key, record, "requestId", "request")
    device_id = check.string(record, "deviceId", required=True) or ""
    roles = _roles(check, record)
    is_repair = record.get("isRepair", False)
    if not isinstance(is_repair, bool):
        raise check.fail("isRepair", f"expected a boolean, found {_kind(is_repair)}")
    return PendingRequest(
        request_id=key,
        device_id=device_id,
        roles=roles,
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


def edit_pending(pending: dict[str, Any], changes: ChangeSet) -> dict[str, Any]:
    removed = set(changes.pending_removed)
    items = [(k, v) for k, v in pending.items() if k not in removed]
    present = {k for k, _ in items}
    for index, record in sorted(changes.pending_restored, key=lambda item: item[0]):
        key = str(record["requestId"])
        if key not in present:
            items.insert(min(index, len(items)), (key, record))
            present.add(key)
    return dict(items)


def ends_with_newline(data: bytes | None) -> bool:
    return bool(data) and data is not None and data.endswith(b"\n")


# A record as parsed (a dict) or as ``lists_record`` views it; a tuple, not the
# Mapping ABC: checked for every changed field, and the ABC's check is slow.
_RECORD = (dict, MappingProxyType)


def get_scope_list(record: Mapping[str, Any], name: str) -> ScopeList:
    """The list at ``name`` (never a copy: nothing edits it, a field is set by
    replacing its list), None when absent or not a list."""
    if name.startswith(TOKEN_PREFIX):
        token = record.get("tokens", _NO_TOKENS).get(name[len(TOKEN_PREFIX) :])
        value = token.get("scopes") if isinstance(token, _RECORD) else None
    else:
        value = record.get(name)
    return value if isinstance(value, list) else None


_NO_TOKENS: Mapping[str, Any] = MappingProxyType({})


def restore_reverted(
    current: Mapping[str, Any],
    changes: ChangeSet,
    base: dict[str, dict[str, ScopeList]],
) -> dict[str, dict[str, ScopeList]]:
    """Re-apply our values to fields that hold what we read (first time: all of them;
    after a stale write: the ones it put back). Returns each field set, with the
    value it held before.

    ``current`` holds records parsed (a tree to render again: the fields are
    set in it) or the read-only views of ``lists_record`` (only compared)."""
    restored: dict[str, dict[str, ScopeList]] = {}
    # Views are shared by devices with the same lists, and the engine shares
    # their changes: one comparison per such pair, while the base agrees.
    known: dict[tuple[int, int], tuple[dict[str, ScopeList], dict[str, ScopeList]]] = {}
    for device_id, fields in changes.devices.items():
        record = current.get(device_id)
        if not isinstance(record, _RECORD):
            continue  # unpaired since: the gateway's decision stands
        seen = known.get((id(record), id(fields))) if type(record) is MappingProxyType else None
        if seen is not None and seen[0] == base[device_id]:
            if seen[1]:
                restored[device_id] = seen[1]
            continue
        for name, ours in fields.items():
            if name.startswith(TOKEN_PREFIX) and not isinstance(
                record.get("tokens", _NO_TOKENS).get(name[len(TOKEN_PREFIX) :]), _RECORD
            ):
                continue  # token removed since
            held = get_scope_list(record, name)
            if held == base[device_id][name] != ours:
                if isinstance(record, dict):
                    _set_scope_list(record, name, ours)
                restored.setdefault(device_id, {})[name] = held
        if type(record) is MappingProxyType:
            known[id(record), id(fields)] = (base[device_id], restored.get(device_id, {}))
    return restored


# A device's scope lists as read (field -> the list, None where its key is
# absent; a token's field only where the token is): one shared per distinct
# set of lists, never edited.
ReadLists = Mapping[str, tuple[str, ...] | None]


def read_lists(device: DeviceState) -> dict[str, tuple[str, ...] | None]:
    return {name: None if value is None else tuple(value) for name, value in device.fields.items()}


def lists_record(lists: ReadLists) -> Mapping[str, Any]:
    """A read-only record holding only ``lists``, laid out as OpenClaw's: what a
    rebase compares (``get_scope_list``, ``restore_reverted``) without parsing
    the record again."""
    record: dict[str, Any] = {}
    tokens: dict[str, Mapping[str, Any]] = {}
    for name, value in lists.items():
        if name.startswith(TOKEN_PREFIX):
            token = {} if value is None else {"scopes": list(value)}
            tokens[name[len(TOKEN_PREFIX) :]] = MappingProxyType(token)
        elif value is not None:
            record[name] = list(value)
    record["tokens"] = MappingProxyType(tokens)
    return MappingProxyType(record)
