"""Bounds on the JSON text a store file may hold, checked before and while it is parsed.

A store file is input from whoever can write the state dir. Each check here
turns something that would hang, exhaust memory, crash, or be written back
unreadable into a one-line ``BadStoreError`` naming the file (and where in it):

- ``open_regular``/``read_regular``: a store file is a regular file, opened
  without following a link and without blocking (a FIFO would hang a plain
  ``open``), read to at most ``MAX_FILE_BYTES`` (``/dev/zero`` never ends);
- ``check_text``: nesting at most ``MAX_DEPTH`` deep (Python's parser raises
  ``RecursionError`` near 1,000), no lone surrogate escape (``"\\ud800"`` is
  valid JSON but not UTF-8, so it could never be written back);
- ``loads``: no ``NaN``/``Infinity`` (not JSON: OpenClaw's ``JSON.parse``
  refuses the file and reads it as empty), no number beyond a double
  (``1e400``: ``JSON.parse`` reads Infinity and writes it back as ``null``;
  Python would write ``Infinity``, which it cannot read at all).

Any reader of store files (the indexed one included) calls ``check_text``
on the bytes and ``check_number``/``check_constant`` from its parser, so the
bounds are stated once. Every store file, the lock file too, is opened by
``open_no_link``, so a planted link is refused one way. Standard library only,
and only ``errno`` (built in), ``os`` and ``stat`` at import (the quick paths
open the ledger through ``open_regular``; ``json`` and ``re`` load lazily).
"""

from __future__ import annotations

import errno
import os
import stat

from scopemigrate.errors import BadStoreError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    # The identity the commit protocol compares: (inode, size, mtime_ns).
    Identity = tuple[int, int, int]

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "check_constant",
    "check_number",
    "check_text",
    "check_values",
    "loads",
    "open_no_link",
    "open_regular",
    "read_regular",
]

# Far above any store (300k devices: about 300 MB of paired.json, 150 MB of
# ledger), far below what would exhaust a small machine's memory.
MAX_FILE_BYTES = 4 << 30
# OpenClaw's records nest five deep (file, record, tokens, token, scopes); a
# ledger's provenance seven. Python's own parser gives up near 1,000.
MAX_DEPTH = 64


def open_regular(path: str | Path, dir_fd: int | None = None) -> int | None:
    """An O_RDONLY descriptor of the regular file at ``path`` (None: absent).

    Never follows a symlink, never blocks on a FIFO or device; anything but a
    regular file is a ``BadStoreError`` naming what it is.
    """
    fd = open_no_link(
        path,
        os.O_RDONLY,
        none_on=(errno.ENOENT,),
        dir_fd=dir_fd,
        link="is a symbolic link; scopemigrate only reads and rewrites regular files "
        "inside the store (replace the link by the file it points to)",
        failure="cannot read",
    )
    if fd is None:
        return None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise BadStoreError(f"{path}: is {_file_kind(mode)}, not a regular file; refused")
    return fd


def open_no_link(
    path: str | Path,
    flags: int,
    *,
    link: str,
    failure: str,
    none_on: tuple[int, ...] = (),
    mode: int = 0o600,
    dir_fd: int | None = None,
) -> int | None:
    """``os.open`` of a file in the store that never follows a symlink and never blocks.

    The one way every store file (the lock file too) is opened, so a planted
    link is refused the same way everywhere. None when the open fails with an
    errno in ``none_on``; any other failure is a ``BadStoreError``: ``link``
    when the name is a symlink, else ``failure`` with the system's reason.
    """
    flags |= os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        return os.open(
            path if dir_fd is None else os.path.basename(path), flags, mode, dir_fd=dir_fd
        )
    except OSError as exc:
        if exc.errno in none_on:
            return None
        if os.path.islink(path):
            raise BadStoreError(f"{path}: {link}") from None
        raise BadStoreError(f"{path}: {failure}: {exc.strerror}") from None


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def read_regular(path: str | Path, dir_fd: int | None = None) -> tuple[Identity, bytes] | None:
    """The identity and bytes of the regular file at ``path``; None when absent."""
    fd = open_regular(path, dir_fd)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if st.st_size > MAX_FILE_BYTES:
            raise BadStoreError(
                f"{path}: {st.st_size} bytes, more than a store file may hold "
                f"({MAX_FILE_BYTES} bytes); refused"
            )
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise BadStoreError(f"{path}: grew past {MAX_FILE_BYTES} bytes while read; refused")
    return (st.st_ino, st.st_size, st.st_mtime_ns), data


# Patterns, compiled by ``re``'s cache on first use: the quick paths import
# this module for ``open_regular`` and never check a text.
_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE_ESCAPE = rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
_ESCAPES_IN_STRING = rb"\\(?:u([0-9a-fA-F]{4})|.)"


def _position(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line} column {column}"


def check_text(path: Path | str, data: bytes) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` and lone surrogate escapes, before parsing.

    Both run at the speed of ``re`` and ``bytes`` methods (measured: 2% of
    parsing the file). The brackets are kept and matched innermost first, a
    level a round (a store nests five levels: five rounds). Brackets inside
    strings (a device named "[lab]") can only upset that count; when it is
    upset, or says too deep, it is redone with the strings cut out.
    """
    import re

    if re.search(_SURROGATE_ESCAPE, data) is not None:
        _check_surrogates(path, data)
    depth = _depth(data.translate(None, _NOT_BRACKETS))
    if depth is None or depth > MAX_DEPTH:
        depth = _depth(re.sub(_STRING, b"", data).translate(None, _NOT_BRACKETS))
        if depth is not None and depth > MAX_DEPTH:
            raise BadStoreError(f"{path}: nested more than {MAX_DEPTH} levels deep; refused")


def _depth(brackets: bytes) -> int | None:
    """How deep balanced ``brackets`` nest (counted up to ``MAX_DEPTH + 1``); None when
    they do not balance (the parser names the place)."""
    for depth in range(MAX_DEPTH + 1):
        if not brackets:
            return depth
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if shorter == brackets:
            return None
        brackets = shorter
    return MAX_DEPTH + 1


def _check_surrogates(path: Path | str, data: bytes) -> None:
    """The exact check, for the rare file holding a surrogate escape at all: each
    high surrogate escape is followed at once by a low one, and no low one stands alone."""
    import re

    for string in re.finditer(_STRING, data):
        body = string.group()
        low_due_at = -1  # where the low half of a pair must start
        high_at = 0
        for escape in re.finditer(_ESCAPES_IN_STRING, body):
            code = int(escape.group(1), 16) if escape.group(1) else -1
            is_low = 0xDC00 <= code <= 0xDFFF
            if low_due_at >= 0 or is_low:
                if not (is_low and escape.start() == low_due_at):
                    _lone_surrogate(path, data, string.start() + escape.start())
                low_due_at = -1
            elif 0xD800 <= code <= 0xDBFF:
                low_due_at, high_at = escape.end(), escape.start()
        if low_due_at >= 0:
            _lone_surrogate(path, data, string.start() + high_at)


def _lone_surrogate(path: Path | str, data: bytes, offset: int) -> None:
    raise BadStoreError(
        f"{path}: a lone UTF-16 surrogate escape at {_position(data, offset)} (text no "
        "UTF-8 file can hold, so it could not be written back); refused"
    )


def _finite(value: float) -> bool:
    return -_INFINITY < value < _INFINITY  # False for NaN too


_INFINITY = float("inf")


class _Refused(ValueError):
    """Raised inside the parser's hooks; ``loads`` names the file and place."""


def check_constant(literal: str) -> Any:
    """The parser's hook for ``NaN``, ``Infinity`` and ``-Infinity``: always refused."""
    raise _Refused(f"{literal}, which JSON does not allow (OpenClaw would read the file as empty)")


def check_number(literal: str) -> float:
    """The parser's hook for a number with a fraction or exponent."""
    value = float(literal)
    if not _finite(value):
        raise _Refused(
            f"the number {literal[:40]}, beyond what a double holds "
            "(OpenClaw would read it as Infinity and write it back as null)"
        )
    return value


def check_values(path: Path | str, value: Any, where: str) -> None:
    """Refuse a non-finite number anywhere in ``value``, parsed by a parser without
    ``check_number``'s hook (pydantic's reads ``NaN`` and ``1e400`` as floats)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not _finite(item):
            raise BadStoreError(
                f"{path}: {where}: holds {item!r}, which OpenClaw's JSON.parse cannot "
                "read back; refused"
            )
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads(path: Path | str, data: bytes) -> Any:
    """``data`` checked (``check_text``) and parsed; a one-line error otherwise."""
    import json

    check_text(path, data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadStoreError(
            f"{path}: not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None
    try:
        return json.loads(text, parse_float=check_number, parse_constant=check_constant)
    except json.JSONDecodeError as exc:
        # Some messages end in "at" already ("Unterminated string starting at").
        at = "" if exc.msg.endswith(" at") else " at"
        raise BadStoreError(
            f"{path}: not valid JSON ({exc.msg}{at} line {exc.lineno} column {exc.colno}); "
            "the file may be truncated"
        ) from None
    except _Refused as exc:
        raise BadStoreError(f"{path}: holds {exc}; refused") from None
    except RecursionError:  # nesting that check_text could not count (see there)
        raise BadStoreError(f"{path}: nested more than {MAX_DEPTH} levels deep; refused") from None
    except ValueError:  # int(): more digits than Python converts (4,300)
        raise BadStoreError(f"{path}: holds an integer of over 4,300 digits; refused") from None
