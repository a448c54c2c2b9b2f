"""What is particular to the SQL stores: telling OpenClaw's generations apart, store URLs,
the SQLite transaction and its neighbours, PostgreSQL's locks and secrets."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FIRST, FIRST_CHAIN, FIXTURES, cli_path, copy_store
from conftest import run_first as run_cli
from sqlstores import load_postgres, make_sqlite

MIXED = FIXTURES / "2026.2.15-mixed"


def database(state: Path) -> Path:
    return state / "state" / "openclaw.sqlite"


def dump(path: Path, skip: str = "scopemigrate_ledger") -> list[str]:
    conn = sqlite3.connect(path)
    lines = [line for line in conn.iterdump() if skip not in line]
    conn.close()
    return lines


def test_the_shipped_sqlite_example_is_detected_and_migrated(tmp_path: Path) -> None:
    state = copy_store("2026.9-sqlite", tmp_path)
    retired = state / "devices" / "paired.json.migrated"
    retired_hash = hashlib.sha256(retired.read_bytes()).hexdigest()
    original = dump(database(state))
    up = run_cli("upgrade", "head", "--store", str(state), "--json")
    assert up.returncode == 0, up.stderr
    report = json.loads(up.stdout)
    assert report["store"] == str(database(state)) and len(report["devices"]) == 6
    down = run_cli("downgrade", "base", "--store", str(state))
    assert down.returncode == 0, down.stderr
    assert dump(database(state)) == original  # every row as it was, to the byte
    assert hashlib.sha256(retired.read_bytes()).hexdigest() == retired_hash  # never edited


def test_other_tables_and_strict_typing_are_left_alone(tmp_path: Path) -> None:
    state = make_sqlite(tmp_path / "state", MIXED)
    conn = sqlite3.connect(database(state))
    conn.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, data TEXT) STRICT")
    conn.execute("INSERT INTO sessions (data) VALUES ('keep me')")
    conn.commit()
    conn.close()
    assert run_cli("upgrade", "head", "--store", str(state)).returncode == 0
    conn = sqlite3.connect(database(state))
    assert conn.execute("SELECT data FROM sessions").fetchall() == [("keep me",)]
    strict = conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'device_pairing_paired'"
    ).fetchone()[0]
    assert strict.rstrip().endswith("STRICT")
    types = conn.execute(
        "SELECT DISTINCT typeof(scopes_json), typeof(tokens_json) FROM device_pairing_paired "
        "WHERE scopes_json IS NOT NULL"
    ).fetchall()
    assert types == [("text", "text")]
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def test_both_generations_live_is_an_error_that_explains(tmp_path: Path) -> None:
    state = make_sqlite(tmp_path / "state", MIXED)
    live = state / "devices" / "paired.json"
    live.write_bytes((MIXED / "devices" / "paired.json").read_bytes())
    before = dump(database(state))
    result = run_cli("upgrade", "head", "--store", str(state))
    assert result.returncode == 3
    assert "doctor --fix" in result.stderr and "--store sqlite:" in result.stderr
    assert dump(database(state)) == before
    assert live.read_bytes() == (MIXED / "devices" / "paired.json").read_bytes()


def test_store_urls_choose_the_adapter(tmp_path: Path) -> None:
    state = make_sqlite(tmp_path / "state", MIXED)
    (state / "devices" / "paired.json").write_bytes(
        (MIXED / "devices" / "paired.json").read_bytes()
    )
    (state / "devices" / "pending.json").write_bytes(
        (MIXED / "devices" / "pending.json").read_bytes()
    )
    by_sqlite = run_cli("current", "--json", "--store", f"sqlite:{database(state)}")
    assert json.loads(by_sqlite.stdout)["store"] == str(database(state))
    by_dir = run_cli("current", "--json", "--store", f"sqlite:{state}")
    assert json.loads(by_dir.stdout)["store"] == str(database(state))
    by_json = run_cli("upgrade", "head", "--json", "--store", f"openclaw-json:{state}")
    assert by_json.returncode == 0 and json.loads(by_json.stdout)["store"] == str(state)
    missing = run_cli("upgrade", "head", "--store", f"sqlite:{state}/nope.sqlite")
    assert missing.returncode == 6 and "no SQLite database" in missing.stderr
    unknown = run_cli("current", "--store", "mysql://host/db")
    assert unknown.returncode == 3 and "postgresql://" in unknown.stderr


def test_sqlite_lock_timeout_when_another_writer_holds_the_database(tmp_path: Path) -> None:
    state = make_sqlite(tmp_path / "state", MIXED)
    holder = sqlite3.connect(database(state), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        result = run_cli("upgrade", "head", "--store", str(state), "--lock-timeout", "0.5")
        assert time.monotonic() - started < 20
    finally:
        holder.rollback()
        holder.close()
    assert result.returncode == 7 and "gave up after 0.5s" in result.stderr
    assert run_cli("upgrade", "head", "--store", str(state)).returncode == 0


def test_bad_sqlite_json_text_names_table_row_and_column(tmp_path: Path) -> None:
    state = make_sqlite(tmp_path / "state", MIXED)
    device = "ba9c736f19e7f60b7f6764adb0b7908c0a2b394e09b6c09863528c7f2bc86095"
    conn = sqlite3.connect(database(state))
    with conn:
        conn.execute(
            "UPDATE device_pairing_paired SET tokens_json = '{\"operator\": ' WHERE device_id = ?",
            (device,),
        )
    conn.close()
    before = dump(database(state))
    result = run_cli("upgrade", "head", "--store", str(state))
    assert result.returncode == 5
    assert (
        f"table device_pairing_paired, row {device}: tokens_json: not valid JSON" in result.stderr
    )
    assert dump(database(state)) == before


def test_postgres_runs_from_many_hosts_serialise_on_the_advisory_lock(pg_url: str) -> None:
    import psycopg

    load_postgres(pg_url, MIXED)
    with psycopg.connect(pg_url) as other_host:
        other_host.execute("SELECT pg_advisory_xact_lock(hashtext('x'))")  # unrelated: no wait
        from scopemigrate.stores.postgres import ADVISORY_KEY

        other_host.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_KEY,))
        started = time.monotonic()
        blocked = run_cli("upgrade", "head", "--store", pg_url, "--lock-timeout", "0.5")
        assert time.monotonic() - started < 20
    assert blocked.returncode == 7 and "another run holds the registry" in blocked.stderr
    assert run_cli("upgrade", "head", "--store", pg_url).returncode == 0


def test_postgres_holds_gateway_writes_until_commit_and_loses_none(pg_url: str) -> None:
    """A gateway stamping a token during the run waits for our commit, then lands."""
    import psycopg

    load_postgres(pg_url, MIXED)
    device = "31a26516362262a5cc9331078bce2e53ad724023e222894ff9fb96f18db4d223"
    run = subprocess.Popen(
        [cli_path(), "upgrade", "head", "--store", pg_url, *FIRST],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with psycopg.connect(pg_url, autocommit=True) as gateway:
        gateway.execute(
            "UPDATE device_pairing_paired SET tokens_json = jsonb_set(tokens_json, "
            "'{operator,lastUsedAtMs}', '1900000000000') WHERE device_id = %s",
            (device,),
        )
    assert run.wait(timeout=60) == 0, run.stderr.read() if run.stderr else ""
    with psycopg.connect(pg_url) as conn:
        tokens = conn.execute(
            "SELECT tokens_json FROM device_pairing_paired WHERE device_id = %s", (device,)
        ).fetchone()[0]
    assert tokens["operator"]["lastUsedAtMs"] == 1900000000000
    assert {"operator.read", "operator.write"} <= set(tokens["operator"]["scopes"])


def test_postgres_url_passwords_never_appear(pg_url: str) -> None:
    load_postgres(pg_url, MIXED)
    secret_url = pg_url.replace("postgres@", "postgres:hunter2@")
    result = run_cli("upgrade", "head", "--json", "--store", secret_url)
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert ":***@" in json.loads(result.stdout)["store"]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sql_stores_keep_token_values_out_of_output(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "sqlite":
        spec = str(make_sqlite(tmp_path / "state", MIXED))
    else:
        spec = request.getfixturevalue("pg_url")
        load_postgres(spec, MIXED)
    paired = json.loads((MIXED / "devices" / "paired.json").read_text())
    tokens = [t["token"] for r in paired.values() for t in r.get("tokens", {}).values()]
    outputs = []
    for args in (("upgrade", "head", "-v"), ("history", "-v"), ("downgrade", "base", "--json")):
        result = run_cli(*args, "--store", spec)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    assert not any(token in output for token in tokens for output in outputs)


def test_postgres_runs_are_set_based_with_provenance_beside_the_rows(pg_url: str) -> None:
    """No row goes through the engine: the edits are recorded in the registry itself."""
    import psycopg

    load_postgres(pg_url, MIXED)
    up = run_cli("upgrade", "head", "--json", "--store", pg_url)
    assert up.returncode == 0, up.stderr
    report = json.loads(up.stdout)
    assert len(report["devices"]) == 6 and report["pending_removed"] == 2
    with psycopg.connect(pg_url) as conn:
        edits = conn.execute(
            "SELECT count(DISTINCT device_id) FROM scopemigrate_provenance"
        ).fetchone()[0]
        ledger = json.loads(conn.execute("SELECT document FROM scopemigrate_ledger").fetchone()[0])
    assert edits == 6
    assert all(entry["provenance"] == [] for entry in ledger["applied"].values())
    down = run_cli("downgrade", "base", "--json", "--store", pg_url)
    assert json.loads(down.stdout)["pending_restored"] == 2
    with psycopg.connect(pg_url) as conn:
        left = conn.execute("SELECT count(*) FROM scopemigrate_provenance").fetchone()[0]
    assert left == 0


def test_postgres_dry_run_reports_the_real_run_and_keeps_nothing(pg_url: str) -> None:
    import psycopg

    load_postgres(pg_url, MIXED)

    def rows() -> list[tuple[object, ...]]:
        with psycopg.connect(pg_url) as conn:
            return (
                conn.execute("SELECT * FROM device_pairing_paired ORDER BY device_id").fetchall()
                + conn.execute(
                    "SELECT * FROM device_pairing_pending ORDER BY request_id"
                ).fetchall()
            )

    before = rows()
    dry = run_cli("upgrade", "head", "--dry-run", "--json", "--store", pg_url)
    assert dry.returncode == 0, dry.stderr
    assert rows() == before
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('scopemigrate_ledger')").fetchone()[0] is None
    real = run_cli("upgrade", "head", "--json", "--store", pg_url)
    planned, done = json.loads(dry.stdout), json.loads(real.stdout)
    assert planned["dry_run"] is True
    assert planned["devices"] == done["devices"] and planned["revisions"] == done["revisions"]
    dry_down = run_cli("downgrade", "base", "--dry-run", "--json", "--store", pg_url)
    assert len(json.loads(dry_down.stdout)["devices"]) == len(done["devices"])


@pytest.mark.parametrize(
    ("column", "value", "named"),
    [
        ("scopes_json", ["operator.admin", 7], "scopes_json"),
        ("scopes_json", {"a": 1}, "scopes_json"),
        ("approved_scopes_json", [None], "approved_scopes_json"),
        ("roles_json", "operator", "roles_json"),
        ("tokens_json", ["operator"], "tokens_json"),
        ("tokens_json", {"operator": "tok"}, "tokens_json"),
        ("tokens_json", {"operator": {"scopes": "operator.admin"}}, "tokens_json"),
        ("tokens_json", {"operator": {"scopes": ["operator.admin", ["x"]]}}, "tokens_json"),
        ("tokens_json", {"node": {"scopes": []}, "operator": {"scopes": [1]}}, "tokens_json"),
    ],
)
def test_postgres_refuses_every_bad_shape_before_writing(
    pg_url: str, column: str, value: object, named: str
) -> None:
    """The registry is validated by one query before the set-based run writes anything."""
    import psycopg
    from psycopg.types.json import Jsonb

    load_postgres(pg_url, MIXED)
    with psycopg.connect(pg_url) as conn:
        device = conn.execute(
            "SELECT device_id FROM device_pairing_paired ORDER BY device_id LIMIT 1 OFFSET 3"
        ).fetchone()[0]
        conn.execute(
            f"UPDATE device_pairing_paired SET {column} = %s WHERE device_id = %s",
            (Jsonb(value), device),
        )
        before = conn.execute("SELECT * FROM device_pairing_paired ORDER BY device_id").fetchall()
    result = run_cli("upgrade", "head", "--store", pg_url)
    assert result.returncode == 5, result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and device in line and named in line
    with psycopg.connect(pg_url) as conn:
        after = conn.execute("SELECT * FROM device_pairing_paired ORDER BY device_id").fetchall()
    assert after == before


def test_postgres_counts_without_listing_when_no_report_is_wanted(pg_url: str) -> None:
    """Plain text output needs a count only; the count equals the listed report."""
    import psycopg

    from scopemigrate import commands
    from scopemigrate.config import load_config

    load_postgres(pg_url, MIXED)
    up = run_cli("upgrade", "head", "--store", pg_url)
    assert up.returncode == 0 and "6 device(s) changed" in up.stdout, up.stdout
    with psycopg.connect(pg_url) as conn:
        ledger = json.loads(conn.execute("SELECT document FROM scopemigrate_ledger").fetchone()[0])
    assert ledger["history"][-1]["devices_changed"] == 6
    config = load_config(store=pg_url, env={}, locations=[str(FIRST_CHAIN)])
    down = commands.downgrade(config, "base", report=False)
    assert (down.devices, down.unreported_devices, down.devices_changed) == ([], 6, 6)
    again = commands.upgrade(config, "head")  # the Python API lists by default
    assert len(again.devices) == again.devices_changed == 6 and again.unreported_devices == 0


def test_postgres_counts_net_changes_across_statements(pg_url: str, tmp_path: Path) -> None:
    """A chain granting a scope and revoking it again changes no device by it."""
    import shutil

    from conftest import FIRST_CHAIN

    from scopemigrate import commands
    from scopemigrate.config import load_config

    chain = tmp_path / "chain"
    shutil.copytree(FIRST_CHAIN, chain)
    grant = (
        'revision = "b7d1e0c2a9f4"\ndown_revision = "4f2c19a0b7e1"\nrelease = "2026.3.1"\n'
        'message = "talk"\n\n[[operations]]\nkind = "grant"\nrole = "operator"\n'
        'scopes = ["operator.talk"]\n'
    )
    (chain / "2026.3.1_talk.toml").write_text(grant)
    (chain / "2026.3.2_no_talk.toml").write_text(
        grant.replace("b7d1e0c2a9f4", "c0ffee123456")
        .replace('"4f2c19a0b7e1"', '"b7d1e0c2a9f4"')
        .replace("2026.3.1", "2026.3.2")
        .replace('"grant"', '"revoke"')
    )
    load_postgres(pg_url, MIXED)
    config = load_config(store=pg_url, locations=[str(chain)], env={})
    commands.upgrade(config, "4f2c19a0b7e1")
    counted = commands.upgrade(config, "head", report=False)
    commands.downgrade(config, "4f2c19a0b7e1")
    listed = commands.upgrade(config, "head")
    json_config = load_config(
        store=str(copy_store("2026.2.15-mixed", tmp_path)), locations=[str(chain)], env={}
    )
    commands.upgrade(json_config, "4f2c19a0b7e1")
    on_json = commands.upgrade(json_config, "head")
    assert counted.revisions == ["b7d1e0c2a9f4", "c0ffee123456"]
    assert counted.devices_changed == len(listed.devices) == len(on_json.devices) == 0
