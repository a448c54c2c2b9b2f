"""--sql: the statements a run would execute, printed without writing; run by hand
(psql, sqlite3), they leave the same rows as the run itself."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, fresh_database, run_cli, token_values
from pgserver import find_bin
from sqlstores import load_postgres, make_sqlite

MIXED = FIXTURES / "2026.2.15-mixed"
LEDGER = "scopemigrate_ledger"


def script(*args: str) -> str:
    done = run_cli(*args, "--sql")
    assert done.returncode == 0, done.stderr
    assert not any(secret in done.stdout for secret in token_values(MIXED))  # never a token
    return done.stdout


def same_ledger(by_run: dict[str, Any], by_script: dict[str, Any]) -> None:
    """Equal but for when and by whom the runs were recorded."""
    for ledger in (by_run, by_script):
        for record in ledger["history"]:
            record.pop("at")
            record.pop("by")
        for entry in ledger["applied"].values():
            entry.pop("applied_at", None)
    assert by_script == by_run


# -- SQLite ------------------------------------------------------------------------------


def sqlite_rows(state: Path) -> tuple[list[Any], list[Any], dict[str, Any]]:
    conn = sqlite3.connect(state / "state" / "openclaw.sqlite")
    paired = [
        # tokens_json: the script writes it as OpenClaw does (compact); values are equal
        (*row[:-1], json.loads(row[-1]) if row[-1] else row[-1])
        for row in conn.execute(
            "SELECT device_id, display_name, role, roles_json, scopes_json, "
            "approved_scopes_json, tokens_json FROM device_pairing_paired ORDER BY device_id"
        )
    ]
    pending = list(conn.execute("SELECT * FROM device_pairing_pending ORDER BY request_id"))
    (document,) = conn.execute(f"SELECT document FROM {LEDGER}").fetchone()
    conn.close()
    return paired, pending, json.loads(document)


def run_sqlite_script(state: Path, text: str) -> subprocess.CompletedProcess[str]:
    database = state / "state" / "openclaw.sqlite"
    return subprocess.run(
        ["sqlite3", "-bail", str(database)], input=text, capture_output=True, text=True
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sqlite_script_run_by_hand_equals_the_run(tmp_path: Path) -> None:
    by_run = make_sqlite(tmp_path / "run", MIXED)
    by_script = make_sqlite(tmp_path / "script", MIXED)
    database = by_script / "state" / "openclaw.sqlite"
    for args in (("upgrade", "head"), ("downgrade", "base")):
        before = digest(database)
        text = script(*args, "--store", f"sqlite:{database}")
        assert digest(database) == before  # --sql wrote nothing
        assert text.rstrip().endswith("COMMIT;") and "UPDATE device_pairing_paired" in text
        assert run_cli(*args, "--store", f"sqlite:{by_run / 'state' / 'openclaw.sqlite'}")
        done = run_sqlite_script(by_script, text)
        assert done.returncode == 0, done.stderr
        run_paired, run_pending, run_ledger = sqlite_rows(by_run)
        script_paired, script_pending, script_ledger = sqlite_rows(by_script)
        assert script_paired == run_paired and script_pending == run_pending
        same_ledger(run_ledger, script_ledger)


def test_a_sqlite_script_refuses_a_store_that_changed_since(tmp_path: Path) -> None:
    state = make_sqlite(tmp_path / "state", MIXED)
    spec = f"sqlite:{state / 'state' / 'openclaw.sqlite'}"
    text = script("upgrade", "head", "--store", spec)
    conn = sqlite3.connect(state / "state" / "openclaw.sqlite")
    conn.execute(
        "UPDATE device_pairing_paired SET scopes_json = '[\"operator.admin\"]' "
        "WHERE rowid = (SELECT min(rowid) FROM device_pairing_paired)"
    )  # a gateway edits a device the script rewrites
    conn.commit()
    conn.close()
    before = digest(state / "state" / "openclaw.sqlite")
    done = run_sqlite_script(state, text)
    assert done.returncode != 0 and "CHECK constraint failed" in done.stderr
    assert digest(state / "state" / "openclaw.sqlite") == before  # rolled back


def test_sql_needs_a_sql_store(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(MIXED, tmp_path / "json")
    done = run_cli("upgrade", "--sql", "--store", str(tmp_path / "json"))
    assert done.returncode == 3 and "--sql needs a SQL store" in done.stderr
    at_head = make_sqlite(tmp_path / "sqlite", MIXED)
    spec = f"sqlite:{at_head / 'state' / 'openclaw.sqlite'}"
    assert run_cli("upgrade", "--store", spec).returncode == 0
    nothing = run_cli("upgrade", "--sql", "--store", spec)
    assert nothing.returncode == 0 and nothing.stdout.startswith("-- ")
    assert "nothing to do" in nothing.stdout


# -- PostgreSQL --------------------------------------------------------------------------


@pytest.fixture
def second_pg_url(pg_server: Any) -> Iterator[str]:
    with fresh_database(pg_server) as url:
        yield url


def pg_rows(url: str) -> tuple[list[Any], ...]:
    import psycopg

    with psycopg.connect(url) as conn:
        paired = conn.execute("SELECT * FROM device_pairing_paired ORDER BY device_id").fetchall()
        pending = conn.execute("SELECT * FROM device_pairing_pending ORDER BY request_id")
        provenance = conn.execute(
            "SELECT * FROM scopemigrate_provenance ORDER BY revision, device_id, op, field"
        ).fetchall()
        removed = conn.execute(
            "SELECT * FROM scopemigrate_removed_pending ORDER BY revision, request_id"
        ).fetchall()
        (document,) = conn.execute(f"SELECT document FROM {LEDGER}").fetchone() or (None,)
    return paired, pending.fetchall(), provenance, removed, [json.loads(document)]


def run_psql(url: str, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"],
        input=text,
        capture_output=True,
        text=True,
    )


def test_postgres_script_run_by_hand_equals_the_run(pg_url: str, second_pg_url: str) -> None:
    load_postgres(pg_url, MIXED)
    load_postgres(second_pg_url, MIXED)
    for args in (("upgrade", "head"), ("downgrade", "base")):
        before = pg_rows(second_pg_url) if args[0] == "downgrade" else None
        text = script(*args, "--store", second_pg_url)
        if before is not None:
            assert pg_rows(second_pg_url) == before  # --sql wrote nothing
        assert run_cli(*args, "--store", pg_url).returncode == 0
        done = run_psql(second_pg_url, text)
        assert done.returncode == 0, done.stderr
        *run_tables, (run_ledger,) = pg_rows(pg_url)
        *script_tables, (script_ledger,) = pg_rows(second_pg_url)
        assert script_tables == run_tables
        same_ledger(run_ledger, script_ledger)


def test_a_postgres_script_refuses_a_ledger_that_moved(pg_url: str) -> None:
    load_postgres(pg_url, MIXED)
    text = script("upgrade", "head", "--store", pg_url)
    assert run_cli("upgrade", "head", "--store", pg_url).returncode == 0
    before = pg_rows(pg_url)
    done = run_psql(pg_url, text)
    assert done.returncode != 0 and "the ledger changed since this script" in done.stderr
    assert pg_rows(pg_url) == before


def test_postgres_sql_needs_only_read_access(pg_url: str) -> None:
    import psycopg

    load_postgres(pg_url, MIXED)
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    reader = pg_url.replace("postgres@", f"{role}@", 1)
    text = script("upgrade", "head", "--store", reader)
    assert "pg_advisory_xact_lock" in text and "LOCK TABLE" in text
    refused = run_cli("upgrade", "head", "--store", reader)
    assert refused.returncode != 0  # a real run needs write rights; the script did not
