"""A store's applied heads, read without the store adapter (no pydantic, no JSON of devices).

From the JSON ledger's first bytes, or the SQLite ledger row; the layout and
the ledger prefix come from ``stores/layout.py``, as the adapters' do. A
ledger of another format, or anything unusual, is "unsure" (None): the full
run decides, and explains.
"""

from __future__ import annotations

import os

from scopemigrate.errors import ScopemigrateError
from scopemigrate.stores.jsontext import MAX_FILE_BYTES, open_regular
from scopemigrate.stores.layout import (
    LEDGER_FORMAT,
    LEDGER_PREFIX_BYTES,
    LEDGER_TABLE,
    OpenClawLayout,
    read_ledger_prefix,
)

__all__ = ["database_heads", "store_heads"]


def _heads_of(document: bytes) -> list[str] | None:
    """The heads a ledger document records; None when it is of another format."""
    prefix = read_ledger_prefix(document)
    if prefix is not None:
        return prefix.heads if prefix.format == LEDGER_FORMAT else None
    import json  # only for a ledger whose first bytes do not say (an old writer's)

    parsed = json.loads(document)
    if parsed.get("format", LEDGER_FORMAT) != LEDGER_FORMAT:
        return None
    return [str(head) for head in parsed["heads"]]


def _json_heads(layout: OpenClawLayout) -> list[str] | None:
    """The JSON store's applied heads; None when only a full run can tell."""
    if os.path.exists(layout.journal):
        return None  # a commit to recover first
    try:
        fd = open_regular(layout.ledger)  # never a link, a FIFO or a device
        if fd is None:
            return []
        with os.fdopen(fd, "rb") as handle:
            start = handle.read(LEDGER_PREFIX_BYTES)
            if read_ledger_prefix(start) is not None:
                return _heads_of(start)
            return _heads_of(start + handle.read(MAX_FILE_BYTES))
    except (ScopemigrateError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # the full run names it


def _sqlite_heads(database: str) -> list[str] | None:
    """The SQLite store's applied heads; None when only a full run can tell."""
    import sqlite3  # a few milliseconds, only for this generation

    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1.0)
        try:
            tables = {
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            row = (
                conn.execute(f"SELECT document FROM {LEDGER_TABLE} WHERE id = 1").fetchone()
                if LEDGER_TABLE in tables
                else None
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # locked or unreadable: the full run decides and explains
    if row is None:
        return []
    try:
        return _heads_of(row[0].encode("utf-8"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def store_heads(state_dir: str | None) -> tuple[bool, list[str] | None]:
    """(whether an OpenClaw store exists, its applied heads or None when unsure).

    ``state_dir`` None: not an OpenClaw state dir (a URL), so unsure.
    """
    if state_dir is None:
        return True, None
    layout = OpenClawLayout(state_dir)
    live_json = os.path.isfile(layout.paired)
    if os.path.lexists(layout.paired) and (not live_json or os.path.islink(layout.paired)):
        return True, None  # a link, a FIFO, a folder: the full run refuses it, in one line
    if os.path.exists(layout.database):
        return True, None if live_json else _sqlite_heads(layout.database)
    if not live_json:
        return False, []
    return True, _json_heads(layout)


def database_heads(database: str) -> tuple[bool, list[str] | None]:
    """``store_heads`` of an SQLite database named by itself (``sqlite:PATH``, a
    ``.sqlite`` file): a database that is not there is for the full run to name."""
    if not os.path.isfile(database):
        return True, None
    return True, _sqlite_heads(database)
