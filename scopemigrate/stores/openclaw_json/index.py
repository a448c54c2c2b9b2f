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

import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
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
)
from scopemigrate.errors import BadStoreError
from scopemigrate.stores.base import without_cycle_collector
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
    ListSplice,
    Piece,
    _list_path,
    _render,
    join_edits,
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
    body_end = _body_end(data)
    if body_end is not None:
        with without_cycle_collector():
            indexed = _read_members(path, data, body_end)
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


def _body_end(data: bytes) -> int | None:
    """Where the members end (the ``\\n}`` that closes the file), if it opens and
    closes as OpenClaw writes it."""
    body_end = len(data) - (2 if data.endswith(b"\n") else 1)
    if not data.startswith(_OPEN) or data[body_end - 1 : body_end + 1] != _CLOSE:
        return None
    return body_end


# In one pass over the file: each member's key line (``TOP_LEVEL_KEY``; the key
# as JSON.stringify writes one that needs no escape, up to the value: device
# ids) and each line that closes a value at the members' depth (``\n  }``). A
# JSON string never holds a raw newline, so neither can match inside a string,
# and the optional key never reaches the next line.
_LINES = re.compile(rb'\n  (?:"(?:([^"\\\x00-\x1f]*)": )?|})')
_CLOSING = ord("}")
_COMMA = ord(",")
_OBJECT = ord("{")


class _OtherLayout(Exception):
    """The file does not split into one member per line the way OpenClaw writes it."""


# A member's piece: its start and end (commas excluded), its key's bytes when
# written plain (else None), where its value starts (after a plain key), and
# where its first line closing at the members' depth is (-1: none).
_Piece = tuple[int, int, bytes | None, int, int]


def _pieces(data: bytes, body_end: int) -> Iterator[_Piece]:
    """Each top-level member's piece, in file order; raises ``_OtherLayout``
    unless the first starts the file's body and each other follows a comma."""
    start = close = value_start = -1
    key: bytes | None = None
    for line in _LINES.finditer(data, 0, body_end):
        at = line.start()
        if data[at + 3] == _CLOSING:
            if close < 0:
                close = at
            continue
        if start >= 0:
            if data[at - 1] != _COMMA:
                raise _OtherLayout
            yield start, at - 1, key, value_start, close
        elif at != len(_OPEN):
            raise _OtherLayout
        start, key, value_start, close = at, line[1], line.end(), -1
    if start < 0:
        raise _OtherLayout
    yield start, body_end - 1, key, value_start, close


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


def _value_start(data: bytes, start: int, key: str) -> int:
    """Where the value of the member at ``start`` begins, if its key is written
    as JSON.stringify writes it; else -1."""
    prefix = b"\n  " + encode_basestring(key).encode("utf-8") + b": "
    return start + len(prefix) if data.startswith(prefix, start) else -1


def _read_members(path: Path, data: bytes, body_end: int) -> PairedIndex | None:
    """The index from the members' pieces; None when today's way must decide.

    A piece whose key is plain has its value parsed alone, from a view (no
    copy): the key line's pattern and orjson together prove the piece is one
    member. Any other piece is parsed as ``{piece}`` (``_member``)."""
    devices: list[DeviceState] = []
    spans: dict[str, tuple[int, int]] = {}
    read: dict[str, ReadLists] = {}
    lists = _FastDevices(path)
    view = memoryview(data)
    loads = orjson.loads
    pieces = _pieces(data, body_end)
    try:
        for start, end, plain, value_start, close in pieces:
            try:
                if plain is None:
                    raise ValueError("not plain")
                key, record = plain.decode("utf-8"), loads(view[value_start:end])
            except ValueError:  # not UTF-8, not JSON orjson reads, or an escaped key
                try:
                    key, record = _member(data, start, end)
                except ValueError:
                    return None  # invalid JSON: today's reader words the error
                value_start = _value_start(data, start, key)
            if key in read:
                return None  # a key twice: the last one counts, at the first one's place
            try:
                device, read[key] = lists.device(key, record) or lists.checked(key, record)
            except BadStoreError:
                if not _all_parse(data, pieces):
                    return None  # a JSON error later in the file is reported first, as today
                raise
            devices.append(device)
            # A record whose key is written otherwise (escaped) or that does not
            # close where the layout says (its first line closing at depth 1 is
            # its last) gets no span: editing it rewrites the whole file, as
            # today's writer does.
            if close == end - 4 and value_start >= 0 and data[value_start] == _OBJECT:
                spans[key] = (value_start, end)
    except _OtherLayout:
        return None
    return PairedIndex(path, data, devices, spans, read)


# What ``device_from_record`` reads of a record besides its id and display name,
# hashable: lists as tuples, absent keys as ``_ABSENT`` (a null is refused, an
# absent key is not), then per token its role, scopes and whether it is revoked
# (six items, then three per token: a flat tuple, one per record).
_Shape = tuple[object, ...]
# What devices of one shape share: roles, client id and mode, fields (the lists
# themselves: nothing edits a list in place), revoked token roles, lists as read.
_Known = tuple[
    frozenset[str], str | None, str | None, dict[str, ScopeList], frozenset[str], ReadLists
]
_ABSENT: Any = object()


class _FastDevices:
    """``device_from_record`` for the records it would accept, checked once per shape.

    A store holds few shapes of device (roles, client, lists, tokens), so
    ``device_from_record`` checks and builds the first device of each, and the
    others with an equal shape share its roles, lists and lists as read: an
    equal shape is accepted exactly when the first was (a string equals only
    a string, a tuple made of a list only such a tuple, ``_ABSENT`` only
    itself). Anything unusual returns None, and ``device_from_record`` decides
    and words the error: this never refuses, it only accepts faster.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._known: dict[_Shape, _Known] = {}
        self._shared = _Shared()
        # Display names repeat across devices too: one object each.
        self._names: dict[str, str] = {}

    def checked(self, key: str, record: Any) -> tuple[DeviceState, ReadLists]:
        """``device_from_record``'s device (or its one-line error), with its lists."""
        device = device_from_record(self._path, key, record)
        return device, self._shared.lists(read_lists(device))

    def device(self, key: str, record: Any) -> tuple[DeviceState, ReadLists] | None:
        # Run once per record: attribute lookups kept out, no call per field.
        if record.__class__ is not dict:
            return None
        get = record.get
        if get("deviceId") != key:
            return None
        name = get("displayName")
        if name.__class__ is not str and (name is not None or "displayName" in record):
            return None
        tokens = get("tokens", _NO_TOKENS)
        if tokens.__class__ is not dict:
            return None
        shape = [
            get("role", _ABSENT),
            get("clientId", _ABSENT),
            get("clientMode", _ABSENT),
            tuple(v) if (v := get("roles", _ABSENT)).__class__ is list else v,
            tuple(v) if (v := get(SCOPES, _ABSENT)).__class__ is list else v,
            tuple(v) if (v := get(APPROVED_SCOPES, _ABSENT)).__class__ is list else v,
        ]
        try:
            for role, token in tokens.items():
                v = token.get("scopes", _ABSENT)
                ended = token.get("revokedAtMs") is not None
                shape += role, tuple(v) if v.__class__ is list else v, ended
            known = self._known.get(frozen := tuple(shape))
        except (AttributeError, TypeError):  # a token not an object; a list or object inside
            return None
        if known is None:
            known = self._learn(key, record)
            if known is None:
                return None
            self._known[frozen] = known
        roles, client_id, client_mode, fields, revoked, read = known
        label = self._names.setdefault(name, name) if name else client_id or key[:12]
        return DeviceState(key, label, roles, client_id, client_mode, fields.copy(), revoked), read

    def _learn(self, key: str, record: dict[str, Any]) -> _Known | None:
        try:
            first = device_from_record(self._path, key, record)
        except BadStoreError:
            return None
        read = self._shared.lists(read_lists(first))
        fields = dict(first.fields)
        return first.roles, first.client_id, first.client_mode, fields, first.revoked_tokens, read


_NO_TOKENS: dict[str, Any] = {}


def _all_parse(data: bytes, pieces: Iterator[_Piece]) -> bool:
    try:
        for start, end, *_ in pieces:
            _member(data, start, end)
    except (ValueError, _OtherLayout):
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
        position = join_edits(view, position, edits, append)
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
