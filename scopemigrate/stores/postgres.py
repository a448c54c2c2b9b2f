"""PostgreSQL: one device registry shared by a fleet of gateways.

Tables shaped like OpenClaw's ``device_pairing_paired`` and
``device_pairing_pending`` (list columns as ``jsonb``; see
``docs/stores.md`` for the DDL), the ledger in a table of its own. A run is
one transaction: ``pg_advisory_xact_lock`` serialises scopemigrate runs from
any number of hosts (bounded by ``lock_timeout``), and ``LOCK TABLE ... IN
EXCLUSIVE MODE`` holds gateways' writes (reads go on) from our read to our
commit, so none is lost and none is overwritten. A failed run rolls back.

psycopg is imported when a PostgreSQL store is opened, so nothing else pays
for it; install it with ``pip install 'scopemigrate[postgres]'``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scopemigrate.devices import (
    APPROVED_SCOPES,
    SCOPES,
    ChangeSet,
    DevicePlan,
    DeviceState,
    ScopeList,
    net_plan,
    token_field,
)
from scopemigrate.errors import (
    BadStoreError,
    ConfigError,
    LockTimeoutError,
    StoreUnreachableError,
)
from scopemigrate.logs import get_logger
from scopemigrate.migration import Migration
from scopemigrate.stores import postgres_sql as sql
from scopemigrate.stores.base import (
    InPlaceApply,
    InPlaceResult,
    InPlaceSteps,
    LedgerFor,
    ScriptLedger,
    Snapshot,
)
from scopemigrate.stores.layout import LEDGER_TABLE, PAIRED_TABLE, PENDING_TABLE
from scopemigrate.stores.pairing_rows import Rows
from scopemigrate.stores.redact import check_url, redact_url, scrub
from scopemigrate.stores.sql_base import SqlPairingStore
from scopemigrate.stores.sql_script import Recorder, postgres_text_literal, terminated

if TYPE_CHECKING:
    import psycopg

LEDGER_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} "
    "(id integer PRIMARY KEY CHECK (id = 1), document text NOT NULL)"
)
log = get_logger(__name__)

# One advisory lock key for every scopemigrate run against a database.
ADVISORY_KEY = zlib.crc32(b"scopemigrate") - 2**31


@dataclass(frozen=True)
class _Work:
    """What a set-based run's statements did; ``changed`` None: count afterwards."""

    removed: int = 0
    restored: int = 0
    changed: int | None = None
    notes: tuple[str, ...] = ()


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            "PostgreSQL stores need psycopg: pip install 'scopemigrate[postgres]'"
        ) from None
    return psycopg


class PostgresStore(SqlPairingStore):
    """A fleet's device registry in PostgreSQL."""

    text_json = False
    placeholder = "%({})s"
    ledger_schema = LEDGER_SCHEMA
    paired_order = "device_id"
    pending_order = "ts, request_id"
    holder = "registry"
    run_script_with = (
        "Run it with: psql -v ON_ERROR_STOP=1 -f THIS-FILE URL  (a failed guard",
        "aborts the transaction: nothing is kept)",
    )

    def __init__(self, url: str):
        problem = check_url(url)
        if problem is not None:
            raise ConfigError(f"store URL {redact_url(url)}: malformed ({problem})")
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None
        self._timeout = 0.0  # set by ``lock``, for taking the locks again after a commit

    @property
    def location(self) -> str:
        return redact_url(self.url)

    def _connect(self, timeout: float) -> psycopg.Connection[Any]:
        pg = _psycopg()
        try:
            conn: psycopg.Connection[Any] = pg.connect(
                self.url, connect_timeout=max(1, int(timeout) or 1), autocommit=False
            )
        except pg.Error as exc:
            raise StoreUnreachableError(
                f"{self.location}: cannot connect ({self._describe(exc)}); "
                "nothing was read or written"
            ) from None
        conn.row_factory = pg.rows.dict_row
        return conn

    @contextmanager
    def _reading(self) -> Iterator[psycopg.Connection[Any]]:
        if self._conn is not None:
            yield self._conn
            return
        conn = self._connect(10.0)
        try:
            yield conn
        finally:
            conn.rollback()
            conn.close()

    def exists(self) -> bool:
        with self._reading() as conn:
            return _has_table(conn, PAIRED_TABLE)

    @contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        conn = self._connect(timeout)
        try:
            self._take_locks(conn, timeout)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._timeout = timeout
        try:
            yield
        finally:
            self._conn = None
            conn.rollback()  # a failed run keeps nothing; after a commit this is a no-op
            conn.close()

    def _lock_statements(self, conn: Any, timeout: float) -> list[tuple[str, Any]]:
        """What taking the run's locks executes (``conn`` says which tables exist)."""
        statements: list[tuple[str, Any]] = [
            (f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'", None),
            ("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_KEY,)),
        ]
        if _has_table(conn, PAIRED_TABLE):
            tables = [PAIRED_TABLE, *([PENDING_TABLE] if _has_table(conn, PENDING_TABLE) else [])]
            statements.append((f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE", None))
        return statements

    def _take_locks(self, conn: psycopg.Connection[Any], timeout: float) -> None:
        pg = _psycopg()
        try:
            for statement, params in self._lock_statements(conn, timeout):
                conn.execute(statement, params)
        except pg.errors.LockNotAvailable:
            raise LockTimeoutError(
                f"{self.location}: another run holds the registry; gave up after {timeout:g}s "
                "(raise --lock-timeout to wait longer)"
            ) from None
        except pg.Error as exc:
            raise BadStoreError(f"{self.location}: cannot lock ({self._describe(exc)})") from None

    def _has_table(self, conn: Any, name: str) -> bool:
        return _has_table(conn, name)

    def _driver_error(self) -> type[Exception]:
        error: type[Exception] = _psycopg().Error
        return error

    def _describe(self, error: Exception) -> str:
        # libpq quotes the connection string it could not use.
        return scrub(_first_line(error), self.url)

    def _encode(self, value: Any) -> Any:
        return _psycopg().types.json.Jsonb(value) if isinstance(value, list | dict) else value

    def _keep_lock(self, conn: Any) -> None:
        self._take_locks(conn, self._timeout)

    # -- set-based runs (InPlaceStore) ---------------------------------------

    def run_in_place(
        self, steps: InPlaceSteps, ledger_for: LedgerFor, dry_run: bool = False, report: bool = True
    ) -> InPlaceResult:
        """Apply migrations as one UPDATE per operation, no row leaving the server;
        or undo revisions from the provenance tables."""
        return self._in_place(self._work(steps, report), ledger_for, dry_run, report)

    def _work(self, steps: InPlaceSteps, report: bool) -> Callable[[Any], _Work]:
        """The statements of ``steps``, for a run and for its script alike."""
        if isinstance(steps, InPlaceApply):
            return _apply_work(steps.migrations, report, self.location)
        return _undo_work(steps.revisions, self.location)

    def _in_place(
        self,
        work: Callable[[psycopg.Connection[Any]], _Work],
        ledger_for: LedgerFor,
        dry_run: bool,
        report: bool,
    ) -> InPlaceResult:
        conn = self._locked()
        with self._transaction(conn, keep=not dry_run):
            conn.execute(sql.SCHEMA)
            conn.execute(sql.FUNCTIONS)
            conn.execute(sql.BEFORE_TABLE)
            self._validate(conn)
            done = work(conn)
            if report:
                devices = self._changed_devices(conn)
                result = InPlaceResult(devices, done.removed, done.restored, notes=done.notes)
            else:
                changed = done.changed
                if changed is None:
                    row = conn.execute(sql.COUNT_CHANGED).fetchone()
                    changed = int(row["changed"]) if row else 0
                result = InPlaceResult(
                    [], done.removed, done.restored, unreported=changed, notes=done.notes
                )
            ledger = ledger_for(result)
            conn.execute(LEDGER_SCHEMA)
            conn.execute(
                f"INSERT INTO {LEDGER_TABLE} (id, document) VALUES (1, %s) "
                "ON CONFLICT (id) DO UPDATE SET document = excluded.document",
                (ledger.dump().decode("utf-8"),),
            )
        log.info(
            "%s: %s: %d device(s) changed, now at %s",
            self.location,
            "dry run, rolled back" if dry_run else "committed",
            result.devices_changed,
            ", ".join(ledger.heads) or "base",
        )
        return result

    # -- offline SQL (--sql, InPlaceScriptStore) --------------------------------------------

    def literal(self, value: Any) -> str:
        from psycopg import sql as pgsql

        def quote(item: Any) -> str:
            text: str = pgsql.Literal(item).as_string(None)
            return text

        if isinstance(value, str):
            return postgres_text_literal(value, quote)
        return quote(value)

    def script_begin(self, lock_timeout: float) -> list[str]:
        with self._reading() as conn:
            locks = self._lock_statements(conn, lock_timeout)
        return ["BEGIN;", *self.script_text(locks)]

    def script_ledger_guard(self, read: str | None) -> str:
        expected = self.literal(read)
        body = f"""
DECLARE
  stored text;
BEGIN
  IF to_regclass('{LEDGER_TABLE}') IS NOT NULL THEN
    SELECT document INTO stored FROM {LEDGER_TABLE} WHERE id = 1;
  END IF;
  IF stored IS DISTINCT FROM {expected} THEN
    RAISE EXCEPTION 'scopemigrate: the ledger changed since this script was written';
  END IF;
END
"""
        return f"-- guard: the ledger is as it was read\nDO {_dollar_quoted(body)};"

    def script_rows_guard(self, snapshot: Snapshot[Rows], changes: ChangeSet) -> list[str]:
        raise NotImplementedError("PostgreSQL scripts run set-based (script_in_place)")

    def script_in_place(
        self, steps: InPlaceSteps, read: str | None, ledger_for: ScriptLedger, lock_timeout: float
    ) -> list[str]:
        # Old lists kept, as a run that reports keeps them: the script counts from them.
        return self._script(self._work(steps, True), read, ledger_for, lock_timeout)

    def _script(
        self,
        work: Callable[[Any], _Work],
        read: str | None,
        ledger_for: ScriptLedger,
        lock_timeout: float,
    ) -> list[str]:
        """``_in_place``'s statements, in its order, as a script."""
        recorder = Recorder()
        for statement in (sql.SCHEMA, sql.FUNCTIONS, sql.BEFORE_TABLE):
            recorder.execute(statement)
        prologue = self.script_text(recorder.statements)
        with self._reading() as reader:
            recorder = Recorder(reader)
            work(recorder)
        # The run counts the devices it changed once its statements ran; the
        # script does the same, in SQL, inside the ledger's text.
        document = ledger_for(_COUNT_HERE).dump().decode("utf-8")
        before, _, after = document.rpartition(str(_COUNT_HERE))
        head = self.literal(before)
        count = f"({sql.COUNT_CHANGED.strip()})::text"
        counted = f"{head} || {count} || {self.literal(after)}"
        return [
            *self.script_header(),
            *self.script_begin(lock_timeout),
            self.script_ledger_guard(read),
            *prologue,
            "-- guard: every row is one the run accepts (as the run checks them)",
            f"DO {_dollar_quoted(_BAD_ROW_GUARD)};",
            *self.script_text(recorder.statements),
            terminated(LEDGER_SCHEMA),
            "-- the ledger row, with the number of devices changed counted as the run counts it",
            f"INSERT INTO {LEDGER_TABLE} (id, document) VALUES (1, {counted})\n"
            "ON CONFLICT (id) DO UPDATE SET document = excluded.document;",
            "COMMIT;",
        ]

    def _validate(self, conn: psycopg.Connection[Any]) -> None:
        """Refuse bad rows before any write, as ``read`` would, naming row and column."""
        row = conn.execute(sql.FIRST_BAD_ROW).fetchone()
        if row is not None:
            raise BadStoreError(
                f"{self.location}: table {PAIRED_TABLE}, row {row['device_id']}: {row['problem']}"
            )

    def _changed_devices(self, conn: psycopg.Connection[Any]) -> list[DevicePlan]:
        """The report of a set-based run: rows were validated before it, so the
        scope lists are read as they are, without the adapter's checks."""
        from psycopg.rows import tuple_row

        plans = []
        with conn.cursor(row_factory=tuple_row) as cursor:
            for device_id, label, *lists in cursor.execute(sql.CHANGED_DEVICES):
                old_s, new_s, old_a, new_a, old_t, new_t = lists
                after = DeviceState(
                    device_id, label, frozenset(), fields=_scope_fields(new_s, new_a, new_t)
                )
                plan = net_plan(after, _scope_fields(old_s, old_a, old_t))
                if plan is not None:
                    plans.append(plan)
        return plans


def _no_pending_note(location: str) -> str:
    return (
        f"{location}: no {PENDING_TABLE} table (pending requests are kept elsewhere): "
        "the devices were migrated, and no pending request was settled"
    )


def _apply_work(
    steps: Sequence[Migration], report: bool, location: str
) -> Callable[[psycopg.Connection[Any]], _Work]:
    """The statements applying ``steps``."""
    # Old lists are kept for the report, and to count the devices changed
    # when several statements may change one device back and forth.
    single = sum(len(migration.operations) for migration in steps) == 1
    keep_before = report or not single

    def work(conn: psycopg.Connection[Any]) -> _Work:
        # Pending requests are optional (often gateway-local): without their
        # table the devices are migrated and there is no request to settle.
        has_pending = _has_table(conn, PENDING_TABLE)
        removed = 0
        changed = 0
        first = True
        for migration in steps:
            if has_pending:
                conn.execute(sql.OPEN_REPAIRS)
            for index, operation in enumerate(migration.operations):
                if keep_before and not first:
                    conn.execute(sql.BEFORE_INDEX)
                statement, params = sql.operation_statement(
                    migration.revision, index, operation, first, keep_before
                )
                done = conn.execute(statement, params)
                if keep_before:
                    log.debug(
                        "revision %s, operation %d: %d edit(s)",
                        migration.revision,
                        index,
                        done.rowcount,
                    )
                else:  # the run's one statement, which counts its devices
                    row = done.fetchone()
                    changed = int(row["changed"]) if row else 0
                first = False
            if has_pending:
                gone = conn.execute(sql.REMOVE_SATISFIED, (migration.revision,)).rowcount
                log.info(
                    "revision %s: applied in SQL, %d repair request(s) removed",
                    migration.revision,
                    gone,
                )
                removed += gone
        notes = () if has_pending else (_no_pending_note(location),)
        return _Work(removed=removed, changed=None if keep_before else changed, notes=notes)

    return work


def _undo_work(
    revisions: Sequence[str], location: str
) -> Callable[[psycopg.Connection[Any]], _Work]:
    """The statements undoing ``revisions`` (children first)."""

    def work(conn: psycopg.Connection[Any]) -> _Work:
        has_pending = _has_table(conn, PENDING_TABLE)
        restored = 0
        for count, revision in enumerate(revisions):
            conn.execute(sql.REVISION_EDITS)
            conn.execute(sql.COLLECT_EDITS, (revision,))
            if count:
                conn.execute(sql.BEFORE_INDEX)
            conn.execute(sql.undo_revision(first=count == 0))
            if has_pending:
                restored += conn.execute(sql.RESTORE_PENDING, (revision,)).rowcount
            else:
                _nothing_to_restore(conn, revision, location)
            for statement in sql.FORGET_REVISION:
                conn.execute(statement, (revision,))
        return _Work(restored=restored, notes=() if has_pending else (_no_pending_note(location),))

    return work


# devices_changed while the ledger's text is written, replaced by a count in SQL.
_COUNT_HERE = 2**53 - 1

_BAD_ROW_GUARD = f"""
DECLARE
  bad record;
BEGIN
  SELECT * INTO bad FROM ({sql.FIRST_BAD_ROW.strip()}) AS first_bad;
  IF FOUND THEN
    RAISE EXCEPTION 'scopemigrate: table {PAIRED_TABLE}, row %: %', bad.device_id, bad.problem;
  END IF;
END
"""


def _dollar_quoted(body: str) -> str:
    """``body`` as a PostgreSQL dollar-quoted string, with a tag it does not contain."""
    tag = "$guard$"
    while tag in body:
        tag = tag[:-1] + "_$"
    return f"{tag}{body}{tag}"


def _nothing_to_restore(conn: psycopg.Connection[Any], revision: str, location: str) -> None:
    """Without a pending table, a revision that removed requests cannot put them
    back: refuse (the run rolls back) rather than forget them."""
    row = conn.execute(sql.COUNT_REMOVED_PENDING, (revision,)).fetchone()
    if row is not None and int(row["removed"]):
        raise BadStoreError(
            f"{location}: revision {revision} removed {row['removed']} pending "
            f"request(s), and table {PENDING_TABLE} is gone, so they cannot be restored; "
            "recreate the table (docs/stores.md) and run again"
        )


def _scope_fields(scopes: Any, approved: Any, tokens: Any) -> dict[str, ScopeList]:
    fields: dict[str, ScopeList] = {SCOPES: scopes, APPROVED_SCOPES: approved}
    for role, token in (tokens or {}).items():
        if isinstance(token, dict):
            fields[token_field(role)] = token.get("scopes")
    return fields


def _has_table(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) AS found", (name,)).fetchone()
    return row is not None and row["found"] is not None


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
