"""A PostgreSQL fleet registry as fleets run it (issue 14): a server that cannot be
reached has its own exit code, and a registry without a pending table (pending
requests kept gateway-local) is migrated, saying so once. Against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli
from sqlstores import load_postgres

from scopemigrate.cli import EXIT_CODES
from scopemigrate.errors import BadStoreError, StoreUnreachableError

MIXED = FIXTURES / "2026.2.15-mixed"
NOTE = "no device_pairing_pending table"


def scopes(url: str) -> dict[str, list[str]]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT device_id, scopes_json FROM device_pairing_paired").fetchall()
    return {device: list(held or []) for device, held in rows}


def test_a_server_that_cannot_be_reached_is_not_a_corrupt_row(tmp_path: Path) -> None:
    url = f"postgresql://postgres@/scopemigrate?host={tmp_path / 'no-server'}&port=1"
    done = run_cli("upgrade", "head", "--store", url)
    codes = dict(EXIT_CODES)
    assert done.returncode == codes[StoreUnreachableError] != codes[BadStoreError]
    assert done.stderr.startswith("error: ") and "cannot connect" in done.stderr
    assert len(done.stderr.splitlines()) == 1


@pytest.fixture
def without_pending(pg_url: str) -> str:
    import psycopg

    load_postgres(pg_url, MIXED)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE device_pairing_pending")
    return pg_url


def test_a_registry_without_pending_requests_is_migrated_and_says_so_once(
    without_pending: str,
) -> None:
    before = scopes(without_pending)
    up = run_cli("upgrade", "head", "--store", without_pending)
    assert up.returncode == 0, up.stderr
    assert up.stderr.count(NOTE) == 1, up.stderr
    after = scopes(without_pending)
    assert after != before
    assert sum(1 for d in after if "operator.write" in after[d]) >= 1
    down = run_cli("downgrade", "base", "--json", "--store", without_pending)
    assert down.returncode == 0, down.stderr
    report = json.loads(down.stdout)
    assert report["pending_restored"] == 0 and len(report["notes"]) == 1
    assert scopes(without_pending) == before


def test_a_sync_of_two_runs_says_it_once(without_pending: str) -> None:
    up = run_cli("upgrade", "head", "--store", without_pending, "-q")
    assert (up.returncode, up.stderr) == (0, "")  # quiet: nothing, note included
    # Installed release older than the head, then back: a downgrade and an upgrade.
    down = run_cli("sync", "--installed-version", "2026.2.15", "--store", without_pending)
    assert down.returncode == 0, down.stderr
    assert down.stderr.count(NOTE) == 1
    hook = run_cli("hook", "--installed-version", "2026.2.19", "--store", without_pending)
    assert hook.returncode == 0, hook.stderr
    assert hook.stderr.count(NOTE) == 1
