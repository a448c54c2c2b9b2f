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

# An edit of a file: the byte range it replaces and the new text.
Edit = tuple[int, int, bytes]


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


# How one changed list is found in a record and what replaces it: the keys of
# the objects on its path (each with, per opening byte, the closer and the line
# closing its value), the list's own key, its text as read and its new text.
ListSplice = tuple[tuple[tuple[bytes, dict[int, tuple[bytes, bytes]]], ...], bytes, bytes, bytes]


def list_splice(path: tuple[str, ...], old_text: bytes, new_text: bytes) -> ListSplice:
    """The splice of the list at ``path`` (of a record at depth 1), written
    ``old_text`` as read, by ``new_text``."""
    keys = _path_keys(path)
    return keys[:-1], keys[-1][0], old_text, new_text


def splice_edits(data: bytes, start: int, end: int, splices: list[ListSplice]) -> list[Edit] | None:
    """The edits of ``splices`` in the record ``data[start:end]``, in order; None
    unless each key on each path is there exactly once (in the value of the key
    before it) and each list's text there is exactly its text as read."""
    # Run for every changed device: one pass per list, nothing parsed and no
    # function called per key. A list's text as read starts with its opener and
    # ends with its closing line, and its other lines are indented deeper, so
    # the text being there is the list being there, ending where its closing
    # line says.
    find = data.find
    edits: list[Edit] = []
    for objects, key, old_text, new_text in splices:
        within, until = start, end
        for name, closing in objects:
            at = find(name, within, until)
            if at < 0 or find(name, at + 1, until) >= 0:
                return None
            within = at + len(name)
            closers = closing.get(data[within]) if within < until else None
            if closers is None:
                return None
            closer, line = closers
            if data.startswith(closer, within + 1):  # empty: [] or {}
                until = within + 2
                continue
            found = find(line, within)
            if found < 0:
                return None
            until = found + len(line)
        at = find(key, within, until)
        if at < 0 or find(key, at + 1, until) >= 0:
            return None
        at += len(key)
        if not data.startswith(old_text, at):
            return None
        edits.append((at, at + len(old_text), new_text))
    edits.sort()
    return edits


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
    splices: list[ListSplice] = []
    for field, before in fields.items():
        path = _list_path(field)
        value = _get(record, path)
        if not (isinstance(value, list) and isinstance(before, list)):
            break
        depth = 1 + len(path)
        splices.append(
            list_splice(path, render_string_list(before, depth), render_string_list(value, depth))
        )
    else:
        edits = splice_edits(original, start, end, splices)
        if edits is not None:
            return edits
    rewritten = _rewrite_record(original[start:end], record, fields)
    return None if rewritten is None else [(start, end, rewritten)]


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
