"""Rewriting an OpenClaw JSON file by splicing only the scope lists that changed.

OpenClaw writes ``JSON.stringify(value, null, 2)``. Serialising a whole store
again that way costs Python about ten times what parsing it did, while a run
changes a few short lists per record. In that layout every value's place can
be found from its indentation alone, because a JSON string never holds a raw
newline: a key at depth ``d`` starts a line with ``2d`` spaces and a quote, and
an object or list opened at depth ``d`` closes on a line with ``2d`` spaces.
So the new file is the old bytes with each changed list replaced in place.

Nothing is replaced on faith. A list is replaced only where its key appears
once in its record and the text there is exactly what the list held before,
written at that depth; a record whose list was added or removed is rewritten
whole, once its old text parses to the record as it was. Anything else
(another layout, a key twice) returns ``None`` and the caller serialises the
whole file instead.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring
from typing import Any

from scopemigrate.devices import TOKEN_PREFIX

# A key of the top-level object: a line of two spaces and a quote.
TOP_LEVEL_KEY = b'\n  "'

# A piece of a new file: a slice of the old bytes (a view, no copy) or new text.
Piece = bytes | memoryview


def _key(name: str, depth: int) -> bytes:
    return b"\n" + b"  " * depth + encode_basestring(name).encode("utf-8") + b": "


def _value_end(data: bytes, start: int, depth: int) -> int:
    """Where the list or object that opens at ``start`` (at ``depth``) ends, or -1."""
    closer = _CLOSERS.get(data[start]) if start < len(data) else None
    if closer is None:
        return -1
    if data.startswith(closer, start + 1):
        return start + 2
    end = data.find(_closing_line(closer, depth), start)
    return -1 if end < 0 else end + 2 * depth + 2


# Run for every list and object looked up: a lookup, not a slice and a join each time.
_CLOSERS = {ord("["): b"]", ord("{"): b"}"}


@functools.lru_cache(maxsize=64)
def _closing_line(closer: bytes, depth: int) -> bytes:
    return b"\n" + b"  " * depth + closer


def _find(data: bytes, start: int, end: int, path: tuple[str, ...]) -> tuple[int, int]:
    """The byte range of the value at ``path`` in the record ``data[start:end]``,
    or (-1, -1) unless each key on the way is there exactly once."""
    # Run for every changed list of every device: _value_end inlined, the keys
    # and closing lines of each path built once.
    for key, closing in _path_keys(path):
        at = data.find(key, start, end)
        if at < 0 or data.find(key, at + 1, end) >= 0:
            return -1, -1
        start = at + len(key)
        closers = closing.get(data[start]) if start < end else None
        if closers is None:
            return -1, -1
        closer, line = closers
        if data.startswith(closer, start + 1):  # empty: [] or {}
            end = start + 2
            continue
        found = data.find(line, start)
        if found < 0:
            return -1, -1
        end = found + len(line)
    return start, end


@functools.lru_cache(maxsize=64)
def _path_keys(
    path: tuple[str, ...],
) -> tuple[tuple[bytes, dict[int, tuple[bytes, bytes]]], ...]:
    """Per key of ``path`` (from depth 2): the key's text and, per opening byte,
    the closer and the line that closes its value."""
    return tuple(
        (_key(name, depth), {b: (c, _closing_line(c, depth)) for b, c in _CLOSERS.items()})
        for depth, name in enumerate(path, 2)
    )


def render_string_list(values: list[str], depth: int) -> bytes:
    """A list of strings as ``JSON.stringify(..., null, 2)`` writes it at ``depth``."""
    return _render(tuple(values), depth)


# A store holds few distinct scope lists: most devices share one of a handful.
@functools.lru_cache(maxsize=4096)
def _render(values: tuple[str, ...], depth: int) -> bytes:
    if not values:
        return b"[]"
    indent = "\n" + "  " * (depth + 1)
    inner = ",".join(indent + encode_basestring(value) for value in values)
    return ("[" + inner + "\n" + "  " * depth + "]").encode("utf-8")


def _list_path(field: str) -> tuple[str, ...]:
    if field.startswith(TOKEN_PREFIX):
        return ("tokens", field[len(TOKEN_PREFIX) :], "scopes")
    return (field,)


def _get(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def splice_records(
    original: bytes,
    tree: dict[str, Any],
    edited: Mapping[str, Mapping[str, list[str] | None]],
    trailing_newline: bool,
) -> bytes | None:
    """``tree`` serialised as OpenClaw would, from ``original`` and the edits.

    ``tree`` is ``original`` parsed, then edited only in the scope lists named
    by ``edited`` (device id -> field -> the value it held before). None when
    the fast way cannot vouch for its result.
    """
    if not original.startswith(b"{") or original.rstrip(b"\n")[-1:] != b"}":
        return None
    if original.endswith(b"\n") != trailing_newline:
        return None
    if original.count(TOP_LEVEL_KEY) != len(tree):
        return None  # a key twice (the parser kept the last), or another layout
    view = memoryview(original)
    pieces: list[Piece] = []
    position = 0
    for device_id in tree:
        fields = edited.get(device_id)
        if not fields:
            continue
        key = _key(device_id, 1)
        at = original.find(key, position)
        if at < 0:
            return None
        start = at + len(key)
        end = _value_end(original, start, 1)
        if end < 0 or original.find(TOP_LEVEL_KEY, start, end) >= 0:
            return None  # the record does not end where its layout says
        try:
            edits = _record_edits(original, start, end, tree[device_id], fields)
        except UnicodeError:  # a string JSON cannot hold: the full writer decides
            return None
        if edits is None:
            return None
        position = join_edits(view, position, edits, pieces.append)
    pieces.append(view[position:])
    return b"".join(pieces)


# An edit of a file: the byte range it replaces and the new text.
Edit = tuple[int, int, bytes]


def join_edits(
    view: memoryview, position: int, edits: list[Edit], write: Callable[[Piece], object]
) -> int:
    """Write the bytes from ``position`` on with ``edits`` (in order, none
    overlapping) applied; returns where the last edit ended."""
    for start, end, text in edits:
        write(view[position:start])
        write(text)
        position = end
    return position


def _record_edits(
    original: bytes,
    start: int,
    end: int,
    record: dict[str, Any],
    fields: Mapping[str, list[str] | None],
) -> list[Edit] | None:
    """The edits making the record's new text, or None when the original cannot be
    vouched for.

    Each changed list replaces the text at its key, once that text is exactly
    what the list held before, written at that depth. A list added or removed
    rewrites the whole record (OpenClaw's key order then decides), once the
    old text parses to the record as it was.
    """
    edits: list[Edit] = []
    for field, before in fields.items():
        path = _list_path(field)
        value = _get(record, path)
        depth = 1 + len(path)
        if isinstance(value, list) and isinstance(before, list):
            value_start, value_end = _find(original, start, end, path)
            if value_start >= 0 and original[value_start:value_end] == render_string_list(
                before, depth
            ):
                edits.append((value_start, value_end, render_string_list(value, depth)))
                continue
        rewritten = _rewrite_record(original[start:end], record, fields)
        return None if rewritten is None else [(start, end, rewritten)]
    return sorted(edits)


def _rewrite_record(
    old_text: bytes, record: dict[str, Any], fields: Mapping[str, list[str] | None]
) -> bytes | None:
    old = copy.deepcopy(record)
    for field, before in fields.items():
        path = _list_path(field)
        holder = _get(old, path[:-1]) if len(path) > 1 else old
        if not isinstance(holder, dict):
            return None
        if before is None:
            holder.pop(path[-1], None)
        else:
            holder[path[-1]] = before
    try:
        if json.loads(old_text) != old:
            return None
    except ValueError:
        return None
    text = json.dumps(record, indent=2, ensure_ascii=False)
    return text.replace("\n", "\n  ").encode("utf-8")
