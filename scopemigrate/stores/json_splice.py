"""Rewriting an OpenClaw JSON file by splicing only the scope lists that changed.

OpenClaw writes ``JSON.stringify(value, null, 2)``. Serialising a whole store
again that way costs Python about ten times what parsing it did, while a run
changes a few short lists per record. In that layout every value's place can
be found from its indentation alone, because a JSON string never holds a raw
newline: a key at depth ``d`` starts a line with ``2d`` spaces and a quote, and
an object or list opened at depth ``d`` closes on a line with ``2d`` spaces.
So the new file is the old bytes with each changed list replaced in place.

Every record spliced is parsed back and compared with the record it must
equal; anything unexpected (another layout, duplicate keys, a key added or
removed) returns ``None`` and the caller serialises the whole file instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from json.encoder import encode_basestring
from typing import Any

from scopemigrate.devices import TOKEN_PREFIX


def _key(name: str, depth: int) -> bytes:
    return b"\n" + b"  " * depth + encode_basestring(name).encode("utf-8") + b": "


def _value_end(data: bytes, start: int, depth: int) -> int:
    """Where the list or object that opens at ``start`` (at ``depth``) ends, or -1."""
    opener = data[start : start + 1]
    closer = {b"[": b"]", b"{": b"}"}.get(opener)
    if closer is None:
        return -1
    if data[start + 1 : start + 2] == closer:
        return start + 2
    end = data.find(b"\n" + b"  " * depth + closer, start)
    return -1 if end < 0 else end + 2 * depth + 2


def _find(data: bytes, start: int, end: int, path: tuple[str, ...], depth: int) -> tuple[int, int]:
    """The byte range of the value at ``path`` inside ``data[start:end]``, or (-1, -1)."""
    for name in path:
        key = _key(name, depth)
        at = data.find(key, start, end)
        if at < 0:
            return -1, -1
        start = at + len(key)
        end = _value_end(data, start, depth)
        if end < 0:
            return -1, -1
        depth += 1
    return start, end


def render_string_list(values: list[str], depth: int) -> bytes:
    """A list of strings as ``JSON.stringify(..., null, 2)`` writes it at ``depth``."""
    if not values:
        return b"[]"
    inner = ",".join("\n" + "  " * (depth + 1) + encode_basestring(value) for value in values)
    return ("[" + inner + "\n" + "  " * depth + "]").encode("utf-8")


def _list_path(field: str) -> tuple[str, ...]:
    if field.startswith(TOKEN_PREFIX):
        return ("tokens", field[len(TOKEN_PREFIX) :], "scopes")
    return (field,)


def _get(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for name in path:
        value = value[name]
    return value


def splice_records(
    original: bytes,
    tree: dict[str, Any],
    changed: Mapping[str, Iterable[str]],
    trailing_newline: bool,
) -> bytes | None:
    """``tree`` serialised as OpenClaw would, from ``original`` and the fields changed.

    ``tree`` is ``original`` parsed, then edited only in the scope lists named
    by ``changed`` (device id -> field names). None when the fast way cannot
    vouch for its result.
    """
    if not original.startswith(b"{") or original.rstrip(b"\n")[-1:] != b"}":
        return None
    if original.endswith(b"\n") != trailing_newline:
        return None
    if original.count(b'\n  "') != len(tree):
        return None  # a key twice (the parser kept the last), or another layout
    pieces: list[bytes] = []
    position = 0
    for device_id in tree:
        fields = changed.get(device_id)
        if not fields:
            continue
        key = _key(device_id, 1)
        at = original.find(key, position)
        if at < 0:
            return None
        start = at + len(key)
        end = _value_end(original, start, 1)
        if end < 0:
            return None
        record = tree[device_id]
        try:
            new_record = _splice_record(original, start, end, record, fields)
            if json.loads(new_record) != record:
                return None
        except ValueError:  # also UnicodeError: a string JSON cannot hold
            return None
        pieces.append(original[position:start])
        pieces.append(new_record)
        position = end
    pieces.append(original[position:])
    return b"".join(pieces)


def _splice_record(
    original: bytes, start: int, end: int, record: dict[str, Any], fields: Iterable[str]
) -> bytes:
    """The record's new text: its changed lists replaced, or all of it rewritten
    when a list was added or removed (OpenClaw's key order then decides)."""
    edits: list[tuple[int, int, bytes]] = []
    for field in fields:
        path = _list_path(field)
        try:
            value = _get(record, path)
        except (KeyError, TypeError):
            value = None
        value_start, value_end = _find(original, start, end, path, 2)
        if not isinstance(value, list) or value_start < 0:
            text = json.dumps(record, indent=2, ensure_ascii=False)
            return text.replace("\n", "\n  ").encode("utf-8")
        edits.append((value_start, value_end, render_string_list(value, 1 + len(path))))
    edits.sort()
    return _apply(original, start, end, edits)


def _apply(data: bytes, start: int, end: int, edits: list[tuple[int, int, bytes]]) -> bytes:
    out: list[bytes] = []
    position = start
    for edit_start, edit_end, text in edits:
        out.append(data[position:edit_start])
        out.append(text)
        position = edit_end
    out.append(data[position:end])
    return b"".join(out)
