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
from scopemigrate.stores.base import CatchUp, Snapshot
from scopemigrate.stores.layout import LEDGER_TABLE, PAIRED_TABLE, PENDING_TABLE
from scopemigrate.stores.pairing_rows import (
    DEVICE_COLUMNS,
    Rows,
    snapshot_of,
    write_statements,
)

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
        with self._reading() as conn:
            if not self._has_table(conn, LEDGER_TABLE):
                return Ledger()
            row = conn.execute(f"SELECT document FROM {LEDGER_TABLE} WHERE id = 1").fetchone()
        if row is None:
            return Ledger()
        return parse_ledger(row["document"], f"{self.location}: table {LEDGER_TABLE}")

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
        statements = write_statements(
            snapshot,
            changes,
            ledger.dump().decode("utf-8"),
            text_json=self.text_json,
            placeholder=self.placeholder,
            encode=self._encode,
        )
        with self._transaction(conn):
            conn.execute(self.ledger_schema)
            for statement, params in statements:
                conn.execute(statement, params)

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
