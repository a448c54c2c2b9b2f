"""Offline SQL (``--sql``): the statements a run would execute, as a script to review.

Alembic's offline mode for the SQL stores. A DBA reads the script, then runs
it by hand (``psql -v ON_ERROR_STOP=1 -f``, ``sqlite3 -bail``): it does what
the run would have done, in one transaction, taking the same locks. The run's
own statements are printed as the run would send them, their parameters
written as SQL literals; what the script adds is marked ``-- guard``: checks
that the store is still as it was when the script was written (the ledger,
and for SQLite each row it rewrites), which fail and roll everything back
otherwise.

A script is written from a read-only look at the store: nothing is locked,
nothing written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scopemigrate.printable import printable

__all__ = ["Recorder", "postgres_text_literal", "render", "sqlite_literal", "terminated"]

# A driver's parameters: named in its ``placeholder`` style (``:{}`` for sqlite3,
# ``%({})s`` for psycopg, which also escapes a percent sign as ``%%``), or positional.
_NAMED = {":{}": re.compile(r":(\w+)"), "%({})s": re.compile(r"%%|%\((\w+)\)s")}
_POSITIONAL = {":{}": re.compile(r"\?"), "%({})s": re.compile(r"%%|%s")}


def render(
    statement: str,
    params: Sequence[Any] | Mapping[str, Any] | None,
    literal: Callable[[Any], str],
    placeholder: str,
) -> str:
    """``statement`` with each parameter written as a literal, as the driver binds it.

    Without parameters a driver sends the text as it is (no placeholder, no
    ``%%``), and so does this.
    """
    if params is None:
        return statement
    if isinstance(params, Mapping):
        named = params

        def by_name(found: re.Match[str]) -> str:
            return "%" if found.group() == "%%" else literal(named[found.group(1)])

        return _NAMED[placeholder].sub(by_name, statement)
    values = iter(params)

    def substitute(found: re.Match[str]) -> str:
        return "%" if found.group() == "%%" else literal(next(values))

    text = _POSITIONAL[placeholder].sub(substitute, statement)
    if next(values, _END) is not _END:
        raise ValueError("more parameters than placeholders")  # a bug, not user input
    return text


_END = object()


def terminated(statement: str) -> str:
    """One statement of a script: its text, ending with a semicolon."""
    text = statement.strip()
    return text if text.endswith(";") else text + ";"


def _acts_on_a_terminal(text: str) -> bool:
    # Line breaks and tabs only lay a literal out over lines (a ledger document).
    laid_out = text.replace("\n", "").replace("\t", "")
    return printable(laid_out) != laid_out


def sqlite_literal(value: Any) -> str:
    """A Python value as the SQLite literal that binding it would store."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    text = str(value)
    if _acts_on_a_terminal(text):
        # A control character (or NUL, where some tools end a literal) would act on
        # the terminal of whoever reviews the script: spell the bytes instead.
        return f"CAST(X'{text.encode('utf-8').hex()}' AS TEXT)"
    return "'" + text.replace("'", "''") + "'"


def postgres_text_literal(text: str, quote: Callable[[str], str]) -> str:
    """A PostgreSQL text literal (``quote`` is the driver's), its bytes spelled out
    when it holds a character a terminal would act on (see ``sqlite_literal``)."""
    if _acts_on_a_terminal(text):
        return f"convert_from('\\x{text.encode('utf-8').hex()}'::bytea, 'UTF8')"
    return quote(text)


class _Cursor:
    rowcount = -1  # DB-API: unknown (nothing ran)

    def fetchone(self) -> None:
        return None


class Recorder:
    """A connection that runs nothing: it keeps each statement a run sends. A
    query that only reads (``SELECT``: which tables exist, what a revision
    recorded) is asked of ``reader``, a read-only connection, and not kept."""

    def __init__(self, reader: Any = None) -> None:
        self.reader = reader
        self.statements: list[tuple[str, Any]] = []

    def execute(self, statement: str, params: Any = None) -> Any:
        if self.reader is not None and statement.lstrip().upper().startswith("SELECT "):
            return self.reader.execute(statement, params)
        self.statements.append((statement, params))
        return _Cursor()
