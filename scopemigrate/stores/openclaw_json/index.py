"""An indexed reader and a splicing writer for ``paired.json``, without the parsed tree.

Today's reader parses the whole file into Python dicts and keeps them so a
commit can edit them: about three times the file in memory on top of its
bytes. This one keeps the original bytes, each record's byte span and the
engine's view of each device (``DeviceState``: its roles and scope lists),
and parses the file record by record with orjson, dropping each record's
dicts as soon as its device is built. The writer re-parses only the records
that changed, splices their new lists into the original bytes and joins the
pieces once.

OpenClaw writes ``JSON.stringify(value, null, 2)``: each record starts a line
with two spaces and a quote, and a JSON string never holds a raw newline, so
the file splits into one ``"key": value`` member per such line. A split is
trusted only when every piece parses as one member and the pieces, joined by
the commas between them, are the whole file: then they are exactly the file's
members. A member orjson refuses is parsed by the standard library within
``jsontext``'s bounds (integers beyond 64 bits); ``check_text`` runs on the
bytes first, as in today's reader; any other doubt (another layout, a key
twice, invalid JSON) reads the file the way today's reader does, with the
same result and the same one-line errors.

Why orjson: it parses this file about three times as fast as ``json``
(measured at 100k devices) and builds the same strings and lists; it is a
maintained wheel for every platform scopemigrate supports, and nothing here
depends on it for correctness, only for speed (every refusal is decided and
worded by the standard library, and nothing is written from its values).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import orjson

from scopemigrate.devices import (
    APPROVED_SCOPES,
    SCOPES,
    DeviceState,
    ScopeList,
    revoked_roles,
    token_field,
)
from scopemigrate.errors import BadStoreError
from scopemigrate.stores.jsontext import check_constant, check_number, check_text
from scopemigrate.stores.openclaw_json.records import (
    _set_scope_list,
    device_from_record,
    dump_openclaw_json,
    parse_object_file,
)
from scopemigrate.stores.openclaw_json.splice import (
    TOP_LEVEL_KEY,
    _find,
    _get,
    _list_path,
    _value_end,
    render_string_list,
)

# Before the first record and after the last, as JSON.stringify(v, null, 2) writes them.
_OPEN = b"{"
_CLOSE = b"\n}"


@dataclass(frozen=True)
class PairedIndex:
    """``paired.json`` as read: its bytes, where each record is, and its devices.

    ``spans`` maps a device id to the byte range of its record's value (the
    ``{...}`` after its key); None when the file is not in OpenClaw's layout.
    Editing a record without a span serialises the whole file again.
    """

    path: Path
    data: bytes
    devices: list[DeviceState]
    spans: dict[str, tuple[int, int]] | None

    @property
    def trailing_newline(self) -> bool:
        return self.data.endswith(b"\n")


def read_paired(path: Path, data: bytes) -> PairedIndex:
    """Index ``data`` (the bytes of ``path``); refuses exactly what today's reader refuses.

    Raises ``BadStoreError`` with today's one-line message: JSON errors
    (anywhere in the file) before record errors, records in file order.
    """
    check_text(path, data)  # depth and lone surrogates, before any parser runs
    members = _members(data)
    if members is not None:
        with _collector_paused():
            indexed = _read_members(path, data, members)
        if indexed is not None:
            return indexed
    tree = parse_object_file(path, data, "device id")
    devices = [device_from_record(path, key, record) for key, record in tree.items()]
    return PairedIndex(path, data, devices, None)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while records are built.

    Parsing allocates a few objects per byte and none of them form cycles, yet
    each allocation burst triggers a collection that walks every object built
    so far: measured at 100k devices, that was 60% of the read (and of a bare
    ``orjson.loads``). Reference counting still frees every dropped record.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _members(data: bytes) -> list[tuple[int, int]] | None:
    """Each top-level member's byte range, commas excluded, if the layout is OpenClaw's."""
    body_end = len(data) - (2 if data.endswith(b"\n") else 1)
    if not data.startswith(_OPEN) or data[body_end - 1 : body_end + 1] != _CLOSE:
        return None
    starts: list[int] = []
    at = data.find(TOP_LEVEL_KEY, 0, body_end)
    while at >= 0:
        starts.append(at)
        at = data.find(TOP_LEVEL_KEY, at + 1, body_end)
    if not starts or starts[0] != len(_OPEN):
        return None
    ends = [start - 1 for start in starts[1:]]  # each member but the last ends at a comma
    if any(data[end : end + 1] != b"," for end in ends):
        return None
    return list(zip(starts, [*ends, body_end - 1], strict=True))


def _loads(text: bytes) -> Any:
    """orjson's value of ``text``, or the standard library's where orjson refuses it,
    within ``jsontext``'s bounds (NaN or 1e400: a ValueError, and today's reader
    words the error). Scope lists, ids and roles come out the same either way;
    other values may not (orjson reads an integer beyond 64 bits as a float), so
    nothing is ever written back from this value."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        # jsontext's bounds: NaN, Infinity and numbers beyond a double refused
        # (ValueError), so that today's reader words the error.
        return json.loads(text, parse_float=check_number, parse_constant=check_constant)
    except RecursionError:
        raise ValueError("nested too deep") from None


def _member(data: bytes, start: int, end: int) -> tuple[str, Any]:
    """One ``"key": value`` member, parsed; raises ValueError."""
    parsed = _loads(b"{" + data[start:end] + b"}")
    if not isinstance(parsed, dict) or len(parsed) != 1:
        raise ValueError("not one member")
    [(key, value)] = parsed.items()
    return key, value


def _read_members(path: Path, data: bytes, members: list[tuple[int, int]]) -> PairedIndex | None:
    """The index from the members' pieces; None when today's way must decide."""
    devices: list[DeviceState] = []
    spans: dict[str, tuple[int, int]] = {}
    seen: set[str] = set()
    lists = _FastDevices()
    for number, (start, end) in enumerate(members):
        try:
            key, record = _member(data, start, end)
        except ValueError:
            return None  # invalid JSON: today's reader words the error
        if key in seen:
            return None  # a key twice: the last one counts, at the first one's place
        seen.add(key)
        try:
            devices.append(lists.device(key, record) or device_from_record(path, key, record))
        except BadStoreError:
            if not _all_parse(data, members[number + 1 :]):
                return None  # a JSON error later in the file is reported first, as today
            raise
        # A record whose key is written otherwise (escaped) or that does not
        # close where the layout says gets no span: editing it rewrites the
        # whole file, as today's writer does.
        prefix = b"\n  " + encode_basestring(key).encode("utf-8") + b": "
        if data.startswith(prefix, start) and _value_end(data, start + len(prefix), 1) == end:
            spans[key] = (start + len(prefix), end)
    return PairedIndex(path, data, devices, spans)


class _FastDevices:
    """``device_from_record`` for the records it would accept, without its per-item checks.

    A store holds few distinct scope lists, so each is checked once and its
    strings shared by every device holding it (a third of the reader's memory
    at 100k devices). Anything unusual returns None, and ``device_from_record``
    decides and words the error: this never refuses, it only accepts faster.
    """

    def __init__(self) -> None:
        self._lists: dict[tuple[Any, ...], tuple[str, ...]] = {}
        self._roles: dict[tuple[Any, ...], frozenset[str]] = {}

    def _strings(self, holder: dict[str, Any], name: str) -> tuple[bool, ScopeList]:
        value = holder.get(name)
        if value is None:
            return name not in holder, None
        if type(value) is not list:
            return False, None
        key = tuple(value)
        try:
            known = self._lists.get(key)
        except TypeError:
            return False, None  # a list or object inside: the checks word it
        if known is None:
            if not all(type(item) is str for item in key):
                return False, None
            known = self._lists[key] = key
        return True, list(known)

    def device(self, key: str, record: Any) -> DeviceState | None:
        if type(record) is not dict:
            return None
        device_id = record.get("deviceId")
        if type(device_id) is not str or device_id != key:
            return None
        texts: list[str | None] = []
        for name in _TEXT_FIELDS:
            value = record.get(name)
            if (value is None and name in record) or (value is not None and type(value) is not str):
                return None
            texts.append(value)
        role, display_name, client_id, client_mode = texts
        ok, listed = self._strings(record, "roles")
        if not ok:
            return None
        roles_key = (role, *(listed or ()))
        roles = self._roles.get(roles_key)
        if roles is None:
            roles = self._roles[roles_key] = frozenset([*(listed or ()), *([role] if role else [])])
        fields: dict[str, ScopeList] = {}
        for name in (SCOPES, APPROVED_SCOPES):
            ok, fields[name] = self._strings(record, name)
            if not ok:
                return None
        tokens = record.get("tokens", _NO_TOKENS)
        if type(tokens) is not dict:
            return None
        for token_role, token in tokens.items():
            if type(token) is not dict:
                return None
            ok, fields[token_field(token_role)] = self._strings(token, "scopes")
            if not ok:
                return None
        return DeviceState(
            device_id=device_id,
            label=display_name or client_id or device_id[:12],
            roles=roles,
            client_id=client_id,
            client_mode=client_mode,
            fields=fields,
            revoked_tokens=revoked_roles(tokens),
        )


_TEXT_FIELDS = ("role", "displayName", "clientId", "clientMode")
_NO_TOKENS: dict[str, Any] = {}


def _all_parse(data: bytes, members: list[tuple[int, int]]) -> bool:
    try:
        for start, end in members:
            _member(data, start, end)
    except ValueError:
        return False
    return True


def render_paired(index: PairedIndex, edited: Mapping[str, Mapping[str, ScopeList]]) -> bytes:
    """paired.json's new bytes: ``edited`` (device id -> field -> new list) applied.

    Byte for byte what today's writer gives: each changed list spliced in
    where its old text is exactly the list as OpenClaw writes it, a record
    whose list is added or removed rewritten whole, and the whole file
    serialised again when the layout allows neither.
    """
    if not edited:
        return index.data
    spans = index.spans
    if spans is not None and all(device_id in spans for device_id in edited):
        pieces: list[bytes] = []
        position = 0
        for device_id in sorted(edited, key=lambda device_id: spans[device_id][0]):
            start, end = spans[device_id]
            record_pieces = _splice_record(index.data, start, end, edited[device_id])
            if record_pieces is None:
                break
            pieces.append(index.data[position:start])
            pieces.extend(record_pieces)
            position = end
        else:
            pieces.append(index.data[position:])
            return b"".join(pieces)
    return _dump_whole(index, edited)


def _splice_record(
    data: bytes, start: int, end: int, fields: Mapping[str, ScopeList]
) -> list[bytes] | None:
    """The record's new text in pieces, or None when the whole file must be written."""
    try:
        record = _loads(data[start:end])
    except ValueError:
        return None  # not a record we read: the full writer decides
    edits: list[tuple[int, int, bytes]] = []
    for field, value in fields.items():
        path = _list_path(field)
        old = _get(record, path)
        depth = 1 + len(path)
        if isinstance(old, list) and isinstance(value, list):
            value_start, value_end = _find(data, start, end, path)
            try:
                expected = render_string_list(old, depth)
            except UnicodeError:
                return None  # a string JSON cannot hold: the full writer decides
            if value_start >= 0 and data[value_start:value_end] == expected:
                edits.append((value_start, value_end, render_string_list(value, depth)))
                continue
        # Rewritten whole: with the standard library's values, as today (orjson
        # reads an integer beyond 64 bits as a float, which would be written so).
        return [_rewrite(json.loads(data[start:end]), fields)]
    edits.sort()
    out: list[bytes] = []
    position = start
    for edit_start, edit_end, text in edits:
        out.append(data[position:edit_start])
        out.append(text)
        position = edit_end
    out.append(data[position:end])
    return out


def _rewrite(record: dict[str, Any], fields: Mapping[str, ScopeList]) -> bytes:
    """A record whose list came or went, as OpenClaw writes it at depth 1."""
    for field, value in fields.items():
        _set_scope_list(record, field, value)
    text = json.dumps(record, indent=2, ensure_ascii=False)
    return text.replace("\n", "\n  ").encode("utf-8")


def _dump_whole(index: PairedIndex, edited: Mapping[str, Mapping[str, ScopeList]]) -> bytes:
    tree = parse_object_file(index.path, index.data, "device id")
    for device_id, fields in edited.items():
        record = tree.get(device_id)
        if isinstance(record, dict):
            for field, value in fields.items():
                _set_scope_list(record, field, value)
    return dump_openclaw_json(tree, index.trailing_newline)


def iter_records(index: PairedIndex, device_ids: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """The parsed records of ``device_ids`` (as they are in the bytes read), one at a
    time, with the standard library's values (today's): what a rebase onto a
    gateway's newer write compares, record by record."""
    tree: dict[str, Any] | None = None
    for device_id in device_ids:
        if index.spans is not None and device_id in index.spans:
            start, end = index.spans[device_id]
            try:
                yield device_id, json.loads(index.data[start:end])
                continue
            except ValueError:
                pass
        if tree is None:
            tree = parse_object_file(index.path, index.data, "device id")
        yield device_id, tree.get(device_id)


def records_of(index: PairedIndex | None, device_ids: Iterable[str]) -> dict[str, Any]:
    """The records of ``device_ids`` as read, to compare their scope lists and tokens
    (a rebase): parsed with orjson, whose lists and strings are the standard
    library's; nothing is written from these values. None without a file."""
    if index is None:
        return {}
    spans = index.spans
    found: dict[str, Any] = {}
    rest: list[str] = []
    for device_id in device_ids:
        span = None if spans is None else spans.get(device_id)
        try:
            if span is not None:
                found[device_id] = _loads(index.data[span[0] : span[1]])
                continue
        except ValueError:
            pass
        rest.append(device_id)
    found.update(iter_records(index, rest))
    return found
