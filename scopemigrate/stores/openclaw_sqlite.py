"""OpenClaw's SQLite generation: ``<state>/state/openclaw.sqlite`` (from about 2026.7).

A run is one SQLite transaction, opened with ``BEGIN IMMEDIATE`` when the
lock is taken and committed with the ledger, which lives in a table of its
own in the same database: SQLite's own guarantee makes the commit atomic and
crash-safe. While the run holds the write lock, a gateway's writes wait on
SQLite's busy timeout, so nothing can change between our read and our write
and no write of the gateway is lost. Only the device-pairing columns that
hold scopes are updated; OpenClaw's other tables, and its STRICT typing, are
left as they are.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scopemigrate.devices import ChangeSet, token_field, token_role
from scopemigrate.errors import BadStoreError, LockTimeoutError
from scopemigrate.ledger import now_iso
from scopemigrate.stores.base import (
    InPlaceApply,
    InPlaceDeclined,
    InPlaceResult,
    InPlaceSteps,
    LedgerFor,
    Snapshot,
)
from scopemigrate.stores.layout import LEDGER_TABLE, PAIRED_TABLE
from scopemigrate.stores.pairing_rows import LIST_COLUMNS, Rows, ledger_statement, updated_columns
from scopemigrate.stores.sql_base import SqlPairingStore
from scopemigrate.stores.sql_script import sqlite_literal
from scopemigrate.stores.sqlite_setbased import SetBasedUnavailable, upgrade_set_based

# sqlite3's message for a text column that is not UTF-8, which goes on to quote it.
_UNDECODED = re.compile(r"Could not decode to UTF-8 column '([^']*)'")

# Where a set-based upgrade starts, so that a store it must decline is left as read.
_SAVEPOINT = "scopemigrate_set_based"

# A guard row that is not 1 fails its statement, and ``sqlite3 -bail`` then
# stops the script inside its transaction, which rolls back.
GUARD_TABLE = "temp.scopemigrate_guard"
GUARD_SCHEMA = "CREATE TEMP TABLE scopemigrate_guard (ok INTEGER NOT NULL CHECK (ok = 1));"

# One row: the ledger document (the same JSON model the file stores use).
LEDGER_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} ("
    "id INTEGER PRIMARY KEY CHECK (id = 1), document TEXT NOT NULL) STRICT"
)


class OpenClawSqliteStore(SqlPairingStore):
    """Devices in ``device_pairing_paired``/``device_pairing_pending`` of one database."""

    text_json = True
    placeholder = ":{}"
    ledger_schema = LEDGER_SCHEMA
    paired_order = "rowid"
    pending_order = "ts, rowid"
    holder = "store"
    run_script_with = (
        "Run it with: sqlite3 -bail DATABASE < THIS-FILE  (-bail: a failed guard",
        "stops the script, and its transaction rolls back)",
    )

    def __init__(self, database: Path):
        self.database = database
        self._conn: sqlite3.Connection | None = None

    @property
    def location(self) -> str:
        return str(self.database)

    def exists(self) -> bool:
        if not self.database.is_file():
            return False
        with self._connect(read_only=True, timeout=5.0) as conn:
            return self._has_table(conn, PAIRED_TABLE)

    def holds_devices(self) -> bool:
        """Whether the device table has rows or we ever kept a ledger here."""
        with self._connect(read_only=True, timeout=5.0) as conn:
            if self._has_table(conn, LEDGER_TABLE):
                return True
            return conn.execute(f"SELECT 1 FROM {PAIRED_TABLE} LIMIT 1").fetchone() is not None

    def _connect(self, *, read_only: bool, timeout: float) -> sqlite3.Connection:
        mode = "ro" if read_only else "rw"
        try:
            conn = sqlite3.connect(
                f"file:{self.database}?mode={mode}",
                uri=True,
                timeout=timeout,
                isolation_level=None,  # we issue BEGIN and COMMIT ourselves
            )
        except sqlite3.Error as exc:
            raise BadStoreError(f"{self.database}: cannot open the database ({exc})") from None
        conn.row_factory = sqlite3.Row
        return conn

    @contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        conn = self._connect(read_only=False, timeout=timeout)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise LockTimeoutError(
                    f"{self.database}: another writer holds the database; gave up after "
                    f"{timeout:g}s (raise --lock-timeout to wait longer)"
                ) from None
            raise BadStoreError(f"{self.database}: cannot start a transaction ({exc})") from None
        self._conn = conn
        try:
            yield
        finally:
            self._conn = None
            if conn.in_transaction:
                conn.rollback()  # a failed run: nothing of it is kept
            conn.close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The run's connection inside the lock, else a short read-only one."""
        if self._conn is not None:
            yield self._conn
            return
        conn = self._connect(read_only=True, timeout=5.0)
        try:
            yield conn
        finally:
            conn.close()

    def _has_table(self, conn: Any, name: str) -> bool:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return found is not None

    def _driver_error(self) -> type[Exception]:
        return sqlite3.Error

    def _describe(self, error: Exception) -> str:
        # sqlite3 quotes the text it could not decode: a token, maybe.
        found = _UNDECODED.match(str(error))
        return f"column {found.group(1)} holds text that is not UTF-8" if found else str(error)

    def _commit_connection(self, conn: Any) -> None:
        conn.execute("COMMIT")

    def _keep_lock(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def run_in_place(
        self, steps: InPlaceSteps, ledger_for: LedgerFor, dry_run: bool = False, report: bool = True
    ) -> InPlaceResult:
        """An upgrade as one UPDATE per operation (``sqlite_setbased``), its provenance
        in the ledger, committed with it. A downgrade, or rows only the engine may
        judge, go row by row: ``InPlaceDeclined``, the savepoint rolled back."""
        if not isinstance(steps, InPlaceApply):
            raise InPlaceDeclined(f"{self.database}: a downgrade goes row by row")
        conn = self._locked()
        declined: str | None = None
        with self._transaction(conn, keep=not dry_run):
            conn.execute(f"SAVEPOINT {_SAVEPOINT}")
            try:
                run = upgrade_set_based(conn, str(self.database), steps.migrations, report=report)
            except SetBasedUnavailable as why:
                conn.execute(f"ROLLBACK TO {_SAVEPOINT}")
                declined = str(why)
            conn.execute(f"RELEASE {_SAVEPOINT}")
            if declined is None:
                result = InPlaceResult(
                    run.devices,
                    pending_removed=len(run.pending_removed),
                    unreported=0 if report else run.changed,
                    applied=run.applied(steps.migrations, now_iso()),
                )
                conn.execute(self.ledger_schema)
                document = ledger_for(result).dump().decode("utf-8")
                conn.execute(*ledger_statement(document, self.placeholder))
        if declined is not None:
            raise InPlaceDeclined(declined)
        return result

    # -- offline SQL (--sql) -----------------------------------------------------------------

    def literal(self, value: Any) -> str:
        return sqlite_literal(value)

    def script_begin(self, lock_timeout: float) -> list[str]:
        # Plain SQL, for any client: how long to wait on a busy database is the
        # client's setting (sqlite3's -cmd '.timeout MS').
        return ["BEGIN IMMEDIATE;"]

    def script_ledger_guard(self, read: str | None) -> str:
        return (
            f"-- guard: the ledger is as it was read\n{GUARD_SCHEMA}\n"
            f"INSERT INTO {GUARD_TABLE} SELECT "
            f"(SELECT document FROM {LEDGER_TABLE} WHERE id = 1) IS {self.literal(read)};"
        )

    def script_rows_guard(self, snapshot: Snapshot[Rows], changes: ChangeSet) -> list[str]:
        rows = snapshot.private
        guards = [
            "-- guard: no device was paired or unpaired since",
            f"INSERT INTO {GUARD_TABLE} SELECT count(*) = {len(rows)} FROM {PAIRED_TABLE};",
        ]
        if changes.devices:
            guards.append("-- guard: each row rewritten below holds the scopes that were read")
        for device_id, fields in changes.devices.items():
            row = rows[device_id]
            held = [
                f"{LIST_COLUMNS[name]} IS {self.literal(row.get(LIST_COLUMNS[name]))}"
                for name in fields
                if name in LIST_COLUMNS
            ]
            tokens = _tokens(row)
            for role in _token_roles(fields):
                old = tokens.get(role, {}).get("scopes")
                path = self.literal(_scopes_path(role))
                listed = self.literal(json.dumps(old))
                held.append(
                    f"json_type(tokens_json, {path}) IS NULL"
                    if old is None
                    else f"json_extract(tokens_json, {path}) IS json({listed})"
                )
            guards.append(
                f"INSERT INTO {GUARD_TABLE} SELECT count(*) = 1 FROM {PAIRED_TABLE} "
                f"WHERE device_id = {self.literal(device_id)} AND {' AND '.join(held)};"
            )
        return guards

    def script_device_updates(self, snapshot: Snapshot[Rows], changes: ChangeSet) -> list[str]:
        """The rows' new scopes. Token secrets stay out of the script: where a run
        rewrites ``tokens_json`` whole, the script sets each token's scopes in
        place (``json_set``, compact as OpenClaw writes the column)."""
        rows = snapshot.private
        updates = []
        for device_id, fields in changes.devices.items():
            row = rows[device_id]
            lists = {name: value for name, value in fields.items() if name in LIST_COLUMNS}
            columns = updated_columns(row, lists, as_text=True) if lists else {}
            assignments = [f"{column} = {self.literal(value)}" for column, value in columns.items()]
            tokens = "tokens_json"
            removed = []
            for role in _token_roles(fields):
                path = self.literal(_scopes_path(role))
                value = fields[token_field(role)]
                if value is None:
                    removed.append(path)
                else:
                    tokens = f"json_set({tokens}, {path}, json({self.literal(json.dumps(value))}))"
            if removed:
                tokens = f"json_remove({tokens}, {', '.join(removed)})"
            if tokens != "tokens_json":
                assignments.append(f"tokens_json = {tokens}")
            updates.append(
                f"UPDATE {PAIRED_TABLE} SET {', '.join(assignments)} "
                f"WHERE device_id = {self.literal(device_id)};"
            )
        return updates


def _tokens(row: dict[str, Any]) -> dict[str, Any]:
    value = json.loads(row.get("tokens_json") or "null")
    return value if isinstance(value, dict) else {}


def _token_roles(fields: dict[str, Any]) -> list[str]:
    return [role for role in map(token_role, fields) if role is not None]


def _scopes_path(role: str) -> str:
    """The JSON path of one token's scopes, the role quoted as a path key."""
    if '"' in role or "\\" in role:
        raise BadStoreError(f"table {PAIRED_TABLE}: role {role!r}: cannot be named in a JSON path")
    return f'$."{role}".scopes'
