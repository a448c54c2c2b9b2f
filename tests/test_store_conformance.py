"""One conformance suite that every store adapter passes, through the installed CLI:
upgrade, no-op, downgrade with provenance, failure rollback, concurrent runs, bad data.

Each adapter starts from the same devices (the mixed 2026.2.15 example store):
the JSON files as they are, OpenClaw's SQLite generation built from them, and
a PostgreSQL registry on a real server started for the session.
"""

from __future__ import annotations

import copy
import json
import resource
import signal
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import FIRST, FIXTURES, cli_path, copy_store
from conftest import run_first as run_cli
from sqlstores import load_postgres, make_sqlite, view

MIXED = FIXTURES / "2026.2.15-mixed"
EXPECTED = MIXED / "expected-2026.2.19"
CLI_DEVICE = "31a26516362262a5cc9331078bce2e53ad724023e222894ff9fb96f18db4d223"
PROBE = "ba9c736f19e7f60b7f6764adb0b7908c0a2b394e09b6c09863528c7f2bc86095"
KINDS = ["json", "sqlite", "postgres"]


@dataclass
class Case:
    kind: str
    spec: str  # what --store gets

    def view(self) -> tuple[dict[str, Any], list[str]]:
        return view(self.kind, self.spec)

    def set_field(self, device_id: str, column: str, value: Any) -> None:
        """Edit one JSON column of a device directly, as a human or a gateway would."""
        if self.kind == "json":
            path = Path(self.spec) / "devices" / "paired.json"
            paired = json.loads(path.read_text(encoding="utf-8"))
            key = {"scopes_json": "scopes"}[column]
            paired[device_id][key] = value
            path.write_text(json.dumps(paired, indent=2, ensure_ascii=False), encoding="utf-8")
        elif self.kind == "sqlite":
            self.sql(
                f"UPDATE device_pairing_paired SET {column} = ? WHERE device_id = ?",
                (json.dumps(value), device_id),
            )
        else:
            self.sql(
                f"UPDATE device_pairing_paired SET {column} = %s::jsonb WHERE device_id = %s",
                (json.dumps(value), device_id),
            )

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        if self.kind == "sqlite":
            conn = sqlite3.connect(Path(self.spec) / "state" / "openclaw.sqlite")
            with conn:
                conn.execute(statement, params)
            conn.close()
        else:
            import psycopg

            with psycopg.connect(self.spec, autocommit=True) as conn:
                conn.execute(statement, params)


@pytest.fixture(params=KINDS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    if request.param == "json":
        return Case("json", str(copy_store("2026.2.15-mixed", tmp_path)))
    if request.param == "sqlite":
        return Case("sqlite", str(make_sqlite(tmp_path / "state", MIXED)))
    url = request.getfixturevalue("pg_url")
    load_postgres(url, MIXED)
    return Case("postgres", url)


def cli(case: Case, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--store", case.spec)


def test_upgrade_gives_the_expected_devices(case: Case) -> None:
    result = cli(case, "upgrade", "head", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["changed"] is True
    devices, pending = case.view()
    expected_devices, expected_pending = view("json", str(EXPECTED))
    assert devices == expected_devices  # scopes, and token values and stamps untouched
    assert pending == expected_pending  # satisfied repair requests removed


def test_a_second_run_changes_nothing(case: Case) -> None:
    assert cli(case, "upgrade", "head").returncode == 0
    before = case.view()
    again = cli(case, "upgrade", "head", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["changed"] is False
    assert case.view() == before
    history = json.loads(cli(case, "history", "--json").stdout)["runs"]
    assert [run["direction"] for run in history] == ["upgrade"]


def test_downgrade_undoes_exactly_what_the_upgrade_did(case: Case) -> None:
    original = case.view()
    assert cli(case, "upgrade", "head").returncode == 0
    upgraded_cli = case.view()[0][CLI_DEVICE]["scopes"]
    case.set_field(CLI_DEVICE, "scopes_json", [*upgraded_cli, "operator.talk"])  # by hand
    result = cli(case, "downgrade", "base")
    assert result.returncode == 0, result.stderr
    devices, pending = case.view()
    want = copy.deepcopy(original[0])
    want[CLI_DEVICE]["scopes"] = [*want[CLI_DEVICE]["scopes"], "operator.talk"]
    assert devices == want  # the hand-made grant stays, the probe keeps operator.read
    assert devices[PROBE]["scopes"] == ["operator.read"]
    assert pending == original[1]  # removed repair requests are back


def _disk_full() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_a_failed_run_leaves_the_store_as_it_was(case: Case) -> None:
    before = case.view()
    preexec: Callable[[], None] | None = None
    if case.kind == "postgres":
        case.sql(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
        )
        case.sql(
            "CREATE TRIGGER refuse BEFORE UPDATE ON device_pairing_paired "
            f"FOR EACH ROW WHEN (NEW.device_id = '{CLI_DEVICE}') EXECUTE FUNCTION refuse()"
        )
    else:
        preexec = _disk_full  # writes past 4 KiB fail with EFBIG, as on a full disk
    result = subprocess.run(
        [cli_path(), "upgrade", "head", "--store", case.spec, *FIRST],
        capture_output=True,
        text=True,
        preexec_fn=preexec,
        check=False,
    )
    assert result.returncode == 9, result.stderr
    assert "as it was" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert case.view() == before
    current = json.loads(cli(case, "current", "--json").stdout)
    assert current["heads"] == []


def test_two_runs_at_once_apply_the_migration_once(case: Case) -> None:
    runs = [
        subprocess.Popen(
            [cli_path(), "upgrade", "head", "--json", "--store", case.spec, *FIRST],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [json.loads(run.communicate(timeout=120)[0]) for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert sorted(r["changed"] for r in results) == [False, True]
    assert case.view()[0] == view("json", str(EXPECTED))[0]


def test_bad_data_is_refused_naming_the_record(case: Case) -> None:
    case.set_field(CLI_DEVICE, "scopes_json", "operator.admin")  # a string, not a list
    before = case.view() if case.kind != "json" else None
    result = cli(case, "upgrade", "head")
    assert result.returncode == 5, result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and CLI_DEVICE in line and "scopes" in line
    if before is not None:
        assert case.view() == before
    assert json.loads(cli(case, "current", "--json").stdout)["heads"] == []
