"""What the SQL stores share: the ledger row, the device rows, the commit, the transaction.

yoyo's backend shape: the dialect is data (placeholder, JSON as text or
jsonb, row order, the ledger's DDL) plus a few small hooks (the driver's
error class, how to commit, how to keep the lock after a commit); the
orchestration of a read and a commit is written once, here. The transaction
helper is dbmate's ``doTransaction``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from scopemigrate.devices import ChangeSet
from scopemigrate.errors import BadStoreError, RunFailedError
from scopemigrate.ledger import Ledger, parse_ledger
from scopemigrate.printable import printable
from scopemigrate.stores.base import CatchUp, LedgerAsRead, Snapshot
from scopemigrate.stores.layout import LEDGER_TABLE, PAIRED_TABLE, PENDING_TABLE
from scopemigrate.stores.pairing_rows import (
    DEVICE_COLUMNS,
    Rows,
    Statement,
    snapshot_of,
    write_statements,
)
from scopemigrate.stores.sql_script import render, terminated

__all__ = ["SqlPairingStore"]


class SqlPairingStore:
    """Base of the stores that keep OpenClaw's device-pairing tables in SQL."""

    # The dialect, as data.
    text_json: bool  # JSON columns hold text (SQLite) or jsonb (PostgreSQL)
    placeholder: str  # the driver's named parameter, formatted with its name
    ledger_schema: str  # CREATE TABLE IF NOT EXISTS for the ledger row
    paired_order: str  # ORDER BY of the devices, as OpenClaw lists them
    pending_order: str
    holder: str  # what messages call the store ("store", "registry")
    run_script_with: tuple[str, ...]  # how to run a --sql script (comment lines)

    _conn: Any = None  # the run's connection, while the lock is held

    @property
    def location(self) -> str:
        raise NotImplementedError

    # -- the dialect's hooks ----------------------------------------------------------------

    def _reading(self) -> AbstractContextManager[Any]:
        """The run's connection inside the lock, else a short read-only one."""
        raise NotImplementedError

    def _has_table(self, conn: Any, name: str) -> bool:
        raise NotImplementedError

    def _driver_error(self) -> type[Exception]:
        raise NotImplementedError

    def _describe(self, error: Exception) -> str:
        return str(error)

    def _encode(self, value: Any) -> Any:
        return value

    def _commit_connection(self, conn: Any) -> None:
        conn.commit()

    def _keep_lock(self, conn: Any) -> None:
        """Take the lock again after a commit, for the rest of the run."""
        raise NotImplementedError

    # -- written once -----------------------------------------------------------------------

    def read_ledger(self) -> Ledger:
        return self.read_ledger_text()[0]

    def read_ledger_text(self) -> LedgerAsRead:
        with self._reading() as conn:
            if not self._has_table(conn, LEDGER_TABLE):
                return Ledger(), None
            row = conn.execute(f"SELECT document FROM {LEDGER_TABLE} WHERE id = 1").fetchone()
        if row is None:
            return Ledger(), None
        text: str = row["document"]
        return parse_ledger(text, f"{self.location}: table {LEDGER_TABLE}"), text

    def read(self) -> Snapshot[Rows]:
        with self._reading() as conn:
            try:
                columns = ", ".join(DEVICE_COLUMNS)
                paired = conn.execute(
                    f"SELECT {columns} FROM {PAIRED_TABLE} ORDER BY {self.paired_order}"
                ).fetchall()
                pending = (
                    conn.execute(
                        f"SELECT * FROM {PENDING_TABLE} ORDER BY {self.pending_order}"
                    ).fetchall()
                    if self._has_table(conn, PENDING_TABLE)
                    else []
                )
            except self._driver_error() as exc:
                raise BadStoreError(
                    f"{self.location}: cannot read {PAIRED_TABLE} ({self._describe(exc)})"
                ) from None
        return snapshot_of(
            self.location, map(dict, paired), map(dict, pending), text_json=self.text_json
        )

    def commit(
        self,
        snapshot: Snapshot[Rows],
        changes: ChangeSet,
        ledger: Ledger,
        catch_up: CatchUp | None = None,  # every writer takes our lock: no newcomer
    ) -> None:
        conn = self._locked()
        statements = self._write_statements(snapshot, changes, ledger)
        with self._transaction(conn):
            conn.execute(self.ledger_schema)
            for statement, params in statements:
                conn.execute(statement, params)

    def _write_statements(
        self, snapshot: Snapshot[Rows], changes: ChangeSet, ledger: Ledger
    ) -> list[Statement]:
        """A commit's statements in this dialect: what ``commit`` runs and ``--sql`` writes."""
        return write_statements(
            snapshot,
            changes,
            ledger.dump().decode("utf-8"),
            text_json=self.text_json,
            placeholder=self.placeholder,
            encode=self._encode,
        )

    # -- offline SQL (--sql): the same statements, as a script ------------------------------

    def literal(self, value: Any) -> str:
        """``value`` as a SQL literal of the dialect (what binding it would send)."""
        raise NotImplementedError

    def script_begin(self, lock_timeout: float) -> list[str]:
        """What taking the run's lock executes, as script statements."""
        raise NotImplementedError

    def script_ledger_guard(self, read: str | None) -> str:
        """A statement that fails unless the ledger still holds ``read``."""
        raise NotImplementedError

    def script_text(self, statements: list[tuple[str, Any]]) -> list[str]:
        """Statements as the driver would get them, each ending with a semicolon."""
        return [
            terminated(render(text, params, self.literal, self.placeholder))
            for text, params in statements
        ]

    def script_header(self) -> list[str]:
        return [
            f"-- scopemigrate offline SQL for {printable(self.location)}",
            *(f"-- {line}" for line in self.run_script_with),
        ]

    def script_commit(
        self,
        snapshot: Snapshot[Rows],
        changes: ChangeSet,
        read: str | None,
        ledger: Ledger,
        lock_timeout: float,
    ) -> list[str]:
        # The commit's statements but the rows' (see script_device_updates).
        others = ChangeSet(
            pending_removed=changes.pending_removed, pending_restored=changes.pending_restored
        )
        statements = self._write_statements(snapshot, others, ledger)
        return [
            *self.script_header(),
            *self.script_begin(lock_timeout),
            terminated(self.ledger_schema),  # the commit's first statement
            self.script_ledger_guard(read),
            *self.script_rows_guard(snapshot, changes),
            *self.script_device_updates(snapshot, changes),
            *self.script_text(statements),
            "COMMIT;",
        ]

    def script_device_updates(self, snapshot: Snapshot[Rows], changes: ChangeSet) -> list[str]:
        """The statements that write the devices' new scopes, secrets left out."""
        raise NotImplementedError

    def script_rows_guard(self, snapshot: Snapshot[Rows], changes: ChangeSet) -> list[str]:
        """Statements that fail unless each row the script rewrites holds what was read."""
        raise NotImplementedError

    def _locked(self) -> Any:
        if self._conn is None:
            raise RuntimeError("a write outside the store's lock")  # a bug, not user input
        return self._conn

    @contextmanager
    def _transaction(self, conn: Any, keep: bool = True) -> Iterator[None]:
        """Commit what the block wrote (roll it back when not ``keep``: a dry run), or
        roll back on any error, naming the driver's; then hold the lock again."""
        try:
            yield
            if keep:
                self._commit_connection(conn)
            else:
                conn.rollback()
        except self._driver_error() as exc:
            conn.rollback()
            raise RunFailedError(
                f"{self.location}: could not write ({self._describe(exc)}); the transaction "
                f"was rolled back and the {self.holder} is as it was"
            ) from None
        except BaseException:
            conn.rollback()
            raise
        self._keep_lock(conn)
