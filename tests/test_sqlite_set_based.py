"""SQLite's set-based upgrade gives exactly what the engine gives, row by row.

For generated stores and chains (the scenarios of the PostgreSQL test), one
database is migrated by the engine through ``OpenClawSqliteStore`` (rows read,
edited in Python, written back) and a copy by ``sqlite_setbased``; both must
end byte for byte identical, with the same provenance, the same pending
requests removed and the same report.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlstores import SQLITE_SCHEMA
from test_postgres_set_based import scenarios

from scopemigrate import engine
from scopemigrate.errors import BadStoreError
from scopemigrate.ledger import Ledger
from scopemigrate.migration import Migration
from scopemigrate.operations import Grant
from scopemigrate.provenance import to_device_provenance
from scopemigrate.stores.base import InPlaceApply, InPlaceDeclined, InPlaceResult
from scopemigrate.stores.openclaw_sqlite import OpenClawSqliteStore
from scopemigrate.stores.sqlite_setbased import SetBasedUnavailable, upgrade_set_based


def load(
    database: Path, rows: list[dict[str, Any]], pending: list[dict[str, Any]], spaced: bool
) -> None:
    separators = (", ", ": ") if spaced else (",", ":")
    conn = sqlite3.connect(database)
    conn.executescript(SQLITE_SCHEMA.read_text())
    for table, items in (("device_pairing_paired", rows), ("device_pairing_pending", pending)):
        for item in items:
            values = [
                json.dumps(v, separators=separators) if isinstance(v, list | dict) else v
                for v in item.values()
            ]
            conn.execute(
                f"INSERT INTO {table} ({', '.join(item)}) VALUES ({', '.join('?' for _ in item)})",
                values,
            )
    conn.commit()
    conn.close()


def state(database: Path) -> tuple[list[Any], list[Any]]:
    conn = sqlite3.connect(database)
    paired = conn.execute("SELECT * FROM device_pairing_paired ORDER BY rowid").fetchall()
    pending = conn.execute("SELECT * FROM device_pairing_pending ORDER BY rowid").fetchall()
    conn.close()
    return paired, pending


def by_rows(database: Path, chain: list[Migration]) -> engine.Outcome:
    store = OpenClawSqliteStore(database)
    with store.lock(10):
        snapshot = store.read()
        outcome = engine.upgrade(chain, snapshot.devices, snapshot.pending, "now")
        store.commit(snapshot, outcome.changes, Ledger())
    return outcome


def by_sql(database: Path, chain: list[Migration], report: bool = True) -> Any:
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        run = upgrade_set_based(conn, str(database), chain, report=report)
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
    return run


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios(), spaced=st.booleans())
def test_set_based_sql_equals_the_engine(tmp_path: Path, scenario: Any, spaced: bool) -> None:
    rows, pending, chain = scenario
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    python_db, sql_db = folder / "rows.sqlite", folder / "sql.sqlite"
    load(python_db, rows, pending, spaced)
    load(sql_db, rows, pending, spaced)

    outcome = by_rows(python_db, chain)
    run = by_sql(sql_db, chain)
    assert state(sql_db) == state(python_db)
    for migration in chain:
        expected = outcome.applied[migration.revision]
        assert to_device_provenance(run.provenance.get(migration.revision, [])) == (
            to_device_provenance(expected.provenance)
        )
        assert run.removed_pending.get(migration.revision, []) == expected.removed_pending
    assert run.applied(chain, "now") == outcome.applied
    assert run.pending_removed == outcome.changes.pending_removed
    assert run.devices == outcome.devices
    assert run.changed == len(outcome.devices)


GRANT = Migration(
    revision="r1",
    release="2026.2.19",
    operations=(Grant(role="operator", scopes=("operator.read",), if_any=("operator.admin",)),),
)


def _store_with(tmp_path: Path, **columns: Any) -> Path:
    row = {
        "device_id": "d1",
        "public_key": "pk",
        "role": "operator",
        "roles_json": '["operator"]',
        "scopes_json": '["operator.admin"]',
        "tokens_json": '{"operator":{"token":"secret","role":"operator","scopes":[]}}',
        "created_at_ms": 1,
        "approved_at_ms": 1,
    } | columns
    database = tmp_path / "store.sqlite"
    conn = sqlite3.connect(database)
    conn.executescript(SQLITE_SCHEMA.read_text())
    marks = ", ".join("?" for _ in row)
    conn.execute(
        f"INSERT INTO device_pairing_paired ({', '.join(row)}) VALUES ({marks})",
        list(row.values()),
    )
    conn.commit()
    conn.close()
    return database


@pytest.mark.parametrize(
    "columns",
    [
        {"scopes_json": '{"a": 1}'},
        {"scopes_json": "[1]"},
        {"scopes_json": "[truncated"},
        {"roles_json": '"operator"'},
        {"tokens_json": '["x"]'},
        {"tokens_json": '{"operator": 3}'},
        {"tokens_json": '{"operator": {"scopes": [2]}}'},
        {"approved_scopes_json": '"x"'},
        {"tokens_json": '{"operator": {"scopes": [{"a": 1, "a": 2}]}}'},
        # A double's overflow: written back, it would be Infinity, which is not JSON.
        {"tokens_json": '{"operator": {"scopes": [], "createdAtMs": 1e999}}'},
    ],
)
def test_rows_the_reader_refuses_are_refused_with_its_message(
    tmp_path: Path, columns: dict[str, Any]
) -> None:
    database = _store_with(tmp_path, **columns)
    before = database.read_bytes()
    with pytest.raises(BadStoreError) as expected:
        OpenClawSqliteStore(database).read()
    with pytest.raises(BadStoreError) as refused:
        by_sql(database, [GRANT])
    assert str(refused.value) == str(expected.value)
    assert database.read_bytes() == before


def test_a_row_only_pythons_reader_accepts_sends_the_run_back_to_the_engine(
    tmp_path: Path,
) -> None:
    # Python's json reads NaN; JSON1 does not. As roles it is still refused,
    # with the reader's own message...
    (tmp_path / "roles").mkdir()
    database = _store_with(tmp_path / "roles", roles_json="NaN")
    with pytest.raises(BadStoreError) as expected:
        OpenClawSqliteStore(database).read()
    with pytest.raises(BadStoreError) as refused:
        by_sql(database, [GRANT])
    assert str(refused.value) == str(expected.value)
    # ...inside a token, the reader accepts it: the engine's way must run.
    (tmp_path / "token").mkdir()
    database = _store_with(tmp_path / "token", tokens_json='{"operator": {"scopes": [], "n": NaN}}')
    before = database.read_bytes()
    assert OpenClawSqliteStore(database).read().devices
    with pytest.raises(SetBasedUnavailable):
        by_sql(database, [GRANT])
    assert database.read_bytes() == before


def _judged_by_the_reader(tmp_path: Path, token: str) -> None:
    """The reader's error when it refuses the row, else the engine's way; the store untouched."""
    database = _store_with(tmp_path, tokens_json=token)
    before = database.read_bytes()
    try:
        OpenClawSqliteStore(database).read()
    except BadStoreError as expected:
        with pytest.raises(BadStoreError) as refused:
            by_sql(database, [GRANT])
        assert str(refused.value) == str(expected)
    else:
        with pytest.raises(SetBasedUnavailable):
            by_sql(database, [GRANT])
    assert database.read_bytes() == before


@pytest.mark.parametrize(
    "token",
    [
        '{"operator": {"scopes": ["operator.read"], "scopes": ["operator.admin"]}}',
        '{"operator": {"scopes": ["operator.admin"], "scopes": [1]}}',
        '{"operator": {"scopes": [], "revokedAtMs": null, "revokedAtMs": 5}}',
        '{"operator": {"scopes": []}, "operator": {"scopes": ["operator.admin"]}}',
        '{"operator":{"scopes":[]},"operator":{"scopes":["operator.admin"]}}',
        # Deeper: the engine writes the object back with its last value only.
        '{"operator":{"scopes":[],"meta":{"by":"a","by":"b"}}}',
    ],
)
def test_a_key_twice_in_a_token_is_judged_by_the_reader_not_json1(
    tmp_path: Path, token: str
) -> None:
    # JSON1 reads a repeated key's first value, Python's reader its last (as
    # OpenClaw's JSON.parse does): set-based SQL would work from other lists.
    _judged_by_the_reader(tmp_path, token)


@pytest.mark.parametrize(
    "token",
    [
        '{"oper\\u0061tor":{"token":"secret","scopes":[]}}',
        '{"operator":{"token":"secret","sc\\u006fpes":[]}}',
    ],
)
def test_a_key_written_with_an_escape_is_judged_by_the_reader_not_json1(
    tmp_path: Path, token: str
) -> None:
    # Python reads the key unescaped; JSON1's path $."operator" does not find it,
    # so set-based SQL would leave this operator's token as it is.
    _judged_by_the_reader(tmp_path, token)


@pytest.mark.parametrize("number", ["1.50", "1E3", "-0", "2.5e-3", "-0.0", "100000000000000000001"])
def test_numbers_in_a_token_end_as_the_engine_writes_them(tmp_path: Path, number: str) -> None:
    # json_set keeps a number as written; the engine writes it in Python's form.
    token = f'{{"operator":{{"token":"secret","scopes":[],"createdAtMs":{number}}}}}'
    (tmp_path / "rows").mkdir()
    (tmp_path / "sql").mkdir()
    by_rows(_store_with(tmp_path / "rows", tokens_json=token), [GRANT])
    run = by_sql(_store_with(tmp_path / "sql", tokens_json=token), [GRANT])
    assert run.changed == 1
    assert state(tmp_path / "sql" / "store.sqlite") == state(tmp_path / "rows" / "store.sqlite")


@pytest.mark.parametrize(
    ("column", "text"),
    [
        ("scopes_json", '["operator.admin","\\ud800"]'),
        ("tokens_json", '{"operator":{"token":"secret","scopes":["\\udfff"]}}'),
    ],
)
def test_a_lone_surrogate_is_written_back_escaped_both_ways(
    tmp_path: Path, column: str, text: str
) -> None:
    # Python's json reads "\ud800" as a lone surrogate, which is not UTF-8:
    # it is written escaped again, as OpenClaw's JSON.stringify writes it.
    (tmp_path / "rows").mkdir()
    (tmp_path / "sql").mkdir()
    by_rows(_store_with(tmp_path / "rows", **{column: text}), [GRANT])
    by_sql(_store_with(tmp_path / "sql", **{column: text}), [GRANT])
    assert state(tmp_path / "sql" / "store.sqlite") == state(tmp_path / "rows" / "store.sqlite")
    conn = sqlite3.connect(tmp_path / "sql" / "store.sqlite")
    (written,) = conn.execute(f"SELECT {column} FROM device_pairing_paired").fetchone()
    conn.close()
    escape = text[text.index("\\") : text.index("\\") + 6]
    assert written != text and escape in written  # edited, the surrogate escaped


def test_text_that_is_not_utf8_is_named_without_quoting_it(tmp_path: Path) -> None:
    database = _store_with(tmp_path)
    conn = sqlite3.connect(database)
    conn.execute(
        "UPDATE device_pairing_paired SET tokens_json = CAST(? AS TEXT)",
        (b'{"operator":{"token":"secret\xff","scopes":[]}}',),
    )
    conn.commit()
    conn.close()
    before = database.read_bytes()
    with pytest.raises(BadStoreError) as refused:
        OpenClawSqliteStore(database).read()
    assert "tokens_json holds text that is not UTF-8" in str(refused.value)
    assert "secret" not in str(refused.value)
    # The set-based path leaves it to that reader.
    with pytest.raises(SetBasedUnavailable):
        by_sql(database, [GRANT])
    assert database.read_bytes() == before


def _upgrade_in_place(database: Path) -> tuple[InPlaceResult, Ledger]:
    store = OpenClawSqliteStore(database)
    kept: list[Ledger] = []

    def ledger_for(result: InPlaceResult) -> Ledger:
        kept.append(Ledger(heads=["r1"], applied=result.applied))
        return kept[-1]

    with store.lock(10):
        done = store.run_in_place(InPlaceApply([GRANT]), ledger_for)
    return done, kept[-1]


def test_the_sqlite_store_upgrades_set_based_with_its_provenance_in_the_ledger(
    tmp_path: Path,
) -> None:
    (tmp_path / "rows").mkdir()
    (tmp_path / "sql").mkdir()
    expected = by_rows(_store_with(tmp_path / "rows"), [GRANT])
    database = _store_with(tmp_path / "sql")
    done, ledger = _upgrade_in_place(database)
    assert done.devices_changed == len(expected.devices) == 1
    assert ledger.applied["r1"].provenance == expected.applied["r1"].provenance
    assert OpenClawSqliteStore(database).read_ledger() == ledger
    assert state(database)[0] == state(tmp_path / "rows" / "store.sqlite")[0]


def test_a_store_set_based_sql_cannot_judge_is_declined_unchanged_and_still_locked(
    tmp_path: Path,
) -> None:
    database = _store_with(tmp_path, tokens_json='{"operator": {"scopes": [], "n": NaN}}')
    before = state(database)
    store = OpenClawSqliteStore(database)
    with store.lock(10):
        with pytest.raises(InPlaceDeclined):
            store.run_in_place(InPlaceApply([GRANT]), lambda result: Ledger())
        assert state(database) == before
        # The run goes on row by row under the same lock.
        snapshot = store.read()
        outcome = engine.upgrade([GRANT], snapshot.devices, snapshot.pending, "now")
        store.commit(snapshot, outcome.changes, Ledger())
    assert len(outcome.devices) == 1 and state(database) != before
