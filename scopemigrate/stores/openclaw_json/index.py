"""An indexed reader and a splicing writer for ``paired.json``, without the parsed tree.

Today's reader parses the whole file into Python dicts and keeps them so a
commit can edit them: about three times the file in memory on top of its
bytes. This one keeps the original bytes, each record's byte span and the
engine's view of each device (``DeviceState``: its roles and scope lists)
and the lists as read (shared by devices holding the same), and parses the
file record by record with orjson, dropping each record's dicts as soon as
its device is built. The writer parses no record again: it finds each changed
list in the original bytes, checks that the text there is the list as read,
and joins views of the original bytes with the new lists once. A rebase
compares against the lists as read, not against the records parsed again.

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
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson

from scopemigrate.devices import (
    APPROVED_SCOPES,
    SCOPES,
    DeviceState,
    ScopeList,
    token_field,
)
from scopemigrate.errors import BadStoreError
from scopemigrate.stores.jsontext import check_constant, check_number, check_text
from scopemigrate.stores.openclaw_json.records import (
    ReadLists,
    _set_scope_list,
    device_from_record,
    dump_openclaw_json,
    lists_record,
    parse_object_file,
    read_lists,
)
from scopemigrate.stores.openclaw_json.splice import (
    TOP_LEVEL_KEY,
    ListSplice,
    Piece,
    _list_path,
    _render,
    _value_end,
    list_splice,
    render_string_list,
    splice_edits,
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
    ``read`` maps a device id to its scope lists as read (``ReadLists``).
    """

    path: Path
    data: bytes
    devices: list[DeviceState]
    spans: dict[str, tuple[int, int]] | None
    read: dict[str, ReadLists]

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
    shared = _Shared()
    read = {device.device_id: shared.lists(read_lists(device)) for device in devices}
    return PairedIndex(path, data, devices, None, read)


class _Shared:
    """One ``ReadLists`` per distinct set of lists: a store holds few."""

    def __init__(self) -> None:
        self._known: dict[tuple[tuple[str, tuple[str, ...] | None], ...], ReadLists] = {}

    def lists(self, lists: dict[str, tuple[str, ...] | None]) -> ReadLists:
        return self._known.setdefault(tuple(lists.items()), lists)


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


# A member's key as JSON.stringify writes one that needs no escape (device ids):
# after the line's two spaces, up to the value.
_PLAIN_KEY = re.compile(rb'"([^"\\\x00-\x1f]*)": ')


def _plain_member(view: memoryview, start: int, end: int) -> tuple[str, Any, int] | None:
    """The key, value and value's offset of a member whose key needs no escape
    and whose value orjson reads, parsed from a view (no copy); None otherwise."""
    found = _PLAIN_KEY.match(view, start + len(TOP_LEVEL_KEY) - 1, end)
    if found is None:
        return None
    try:
        return found.group(1).decode("utf-8"), orjson.loads(view[found.end() : end]), found.end()
    except ValueError:  # not UTF-8, or not JSON orjson reads: _member decides
        return None


def _read_members(path: Path, data: bytes, members: list[tuple[int, int]]) -> PairedIndex | None:
    """The index from the members' pieces; None when today's way must decide."""
    devices: list[DeviceState] = []
    spans: dict[str, tuple[int, int]] = {}
    read: dict[str, ReadLists] = {}
    lists = _FastDevices()
    view = memoryview(data)
    for number, (start, end) in enumerate(members):
        plain = _plain_member(view, start, end)
        try:
            key, record, value_start = plain or (*_member(data, start, end), -1)
        except ValueError:
            return None  # invalid JSON: today's reader words the error
        if key in read:
            return None  # a key twice: the last one counts, at the first one's place
        try:
            device, read[key] = lists.device(key, record) or lists.checked(path, key, record)
        except BadStoreError:
            if not _all_parse(data, members[number + 1 :]):
                return None  # a JSON error later in the file is reported first, as today
            raise
        devices.append(device)
        # A record whose key is written otherwise (escaped) or that does not
        # close where the layout says gets no span: editing it rewrites the
        # whole file, as today's writer does.
        if value_start < 0:
            prefix = b"\n  " + encode_basestring(key).encode("utf-8") + b": "
            value_start = start + len(prefix) if data.startswith(prefix, start) else -1
        if value_start >= 0 and _value_end(data, value_start, 1) == end:
            spans[key] = (value_start, end)
    return PairedIndex(path, data, devices, spans, read)


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
        self._shared = _Shared()
        # Names, clients, token fields and revoked roles repeat across devices
        # too: one object each (a sixth of the devices' memory at 100k).
        self._texts: dict[str, str] = {}
        self._revoked: dict[tuple[str, ...], frozenset[str]] = {}

    def checked(self, path: Path, key: str, record: Any) -> tuple[DeviceState, ReadLists]:
        """``device_from_record``'s device (or its one-line error), with its lists."""
        device = device_from_record(path, key, record)
        return device, self._shared.lists(read_lists(device))

    def _strings(self, holder: dict[str, Any], name: str) -> tuple[bool, tuple[str, ...] | None]:
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
        return True, known

    def device(self, key: str, record: Any) -> tuple[DeviceState, ReadLists] | None:
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
            texts.append(None if value is None else self._texts.setdefault(value, value))
        role, display_name, client_id, client_mode = texts
        ok, listed = self._strings(record, "roles")
        if not ok:
            return None
        roles_key = (role, *(listed or ()))
        roles = self._roles.get(roles_key)
        if roles is None:
            roles = self._roles[roles_key] = frozenset([*(listed or ()), *([role] if role else [])])
        read: dict[str, tuple[str, ...] | None] = {}
        for name in (SCOPES, APPROVED_SCOPES):
            ok, read[name] = self._strings(record, name)
            if not ok:
                return None
        tokens = record.get("tokens", _NO_TOKENS)
        if type(tokens) is not dict:
            return None
        revoked: list[str] = []  # as devices.revoked_roles, in the same pass
        for token_role, token in tokens.items():
            if type(token) is not dict:
                return None
            if token.get("revokedAtMs") is not None:
                revoked.append(token_role)
            name = token_field(token_role)
            ok, read[self._texts.setdefault(name, name)] = self._strings(token, "scopes")
            if not ok:
                return None
        fields: dict[str, ScopeList] = {
            name: None if value is None else list(value) for name, value in read.items()
        }
        revoked_tokens = self._revoked.get(tuple(revoked))
        if revoked_tokens is None:
            revoked_tokens = self._revoked[tuple(revoked)] = frozenset(revoked)
        device = DeviceState(
            device_id=key,  # the key's string, equal to deviceId: one copy of each id
            label=display_name or client_id or key[:12],
            roles=roles,
            client_id=client_id,
            client_mode=client_mode,
            fields=fields,
            revoked_tokens=revoked_tokens,
        )
        return device, self._shared.lists(read)


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
    """paired.json's new bytes (``write_paired``'s) as one ``bytes``."""
    out = io.BytesIO()
    write_paired(index, edited, out)
    return out.getvalue()


def write_paired(
    index: PairedIndex, edited: Mapping[str, Mapping[str, ScopeList]], out: BinaryIO
) -> None:
    """Write paired.json's new bytes to ``out`` (at its start, empty):
    ``edited`` (device id -> field -> new list) applied.

    Byte for byte what today's writer gives: each changed list spliced in
    where its old text is exactly the list as read, written as OpenClaw
    writes it; a record whose list is added or removed rewritten whole; and
    the whole file serialised again when the layout allows neither (what was
    written so far is then dropped: ``out`` is truncated to its start). The
    old bytes are written from views of them, a few hundred kilobytes at a
    time: given the temp file, the new file is never held whole in memory.
    """
    if not edited:
        out.write(index.data)
        return
    spans = index.spans
    if spans is not None and edited.keys() <= spans.keys() and _splice(index, spans, edited, out):
        return
    out.seek(0)
    out.truncate()
    out.write(_dump_whole(index, edited))


# Pieces of the new file gathered before one write: a few hundred kilobytes,
# and one call instead of one per piece (a third of the splice's time at 100k).
_PIECES_PER_WRITE = 4096


def _splice(
    index: PairedIndex,
    spans: dict[str, tuple[int, int]],
    edited: Mapping[str, Mapping[str, ScopeList]],
    out: BinaryIO,
) -> bool:
    """Write the new file by splicing; False when the whole file must be written."""
    data = index.data
    view = memoryview(data)
    read = index.read
    position = 0
    plans: dict[tuple[int, int], _Plan] = {}
    pieces: list[Piece] = []
    append = pieces.append
    for device_id in sorted(edited, key=spans.__getitem__):
        start, end = spans[device_id]
        fields, lists = edited[device_id], read[device_id]
        # Devices share their lists as read and (from the engine) their new
        # lists: what to write is found once per such pair.
        plan = plans.get((id(lists), id(fields)))
        if plan is None:
            plan = plans[id(lists), id(fields)] = _plan(lists, fields)
        if plan == "file":
            return False
        edits = None if plan == "record" else splice_edits(data, start, end, plan)
        if edits is None:
            # Not where, or not as, OpenClaw writes it (or a list comes or goes):
            # rewritten whole, with the standard library's values, as today
            # (orjson reads an integer beyond 64 bits as a float).
            edits = [(start, end, _rewrite(json.loads(data[start:end]), fields))]
        for edit_start, edit_end, text in edits:
            append(view[position:edit_start])
            append(text)
            position = edit_end
        if len(pieces) >= _PIECES_PER_WRITE:
            out.write(b"".join(pieces))
            pieces.clear()
    append(view[position:])
    out.write(b"".join(pieces))
    return True


# How a device's changed lists are written: per list where it is and its old
# and new text (``splice.list_splice``); or the record rewritten whole (a list
# comes or goes); or the whole file (a string JSON cannot hold).
_Plan = list[ListSplice] | Literal["record", "file"]


def _plan(read: ReadLists, fields: Mapping[str, ScopeList]) -> _Plan:
    splices: list[ListSplice] = []
    for field, value in fields.items():
        old = read.get(field)
        if old is None or value is None:
            return "record"
        path = _list_path(field)
        depth = 1 + len(path)
        try:
            old_text = _render(old, depth)
        except UnicodeError:
            return "file"
        splices.append(list_splice(path, old_text, render_string_list(value, depth)))
    return splices


def new_values(
    edited: Mapping[str, Mapping[str, ScopeList]], values: Mapping[str, dict[str, ScopeList]]
) -> dict[str, Mapping[str, ScopeList]]:
    """The new value of each field ``edited`` names, from ``values`` (a change
    set's): its own dict where every field of it is set (the usual case), so
    no dict is built per device."""
    new: dict[str, Mapping[str, ScopeList]] = {}
    for device_id, fields in edited.items():
        ours = values[device_id]
        new[device_id] = ours if fields.keys() == ours.keys() else {f: ours[f] for f in fields}
    return new


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
    """The records of ``device_ids`` as read, to compare their scope lists and
    tokens (a rebase): read-only views holding the lists as read
    (``records.lists_record``), one per distinct set, so nothing is parsed
    again. None without a file."""
    if index is None:
        return {}
    views: dict[int, Any] = {}
    found: dict[str, Any] = {}
    for device_id in device_ids:
        lists = index.read.get(device_id)
        if lists is not None:
            view = views.get(id(lists))
            if view is None:
                view = views[id(lists)] = lists_record(lists)
            found[device_id] = view
    return found
