"""Concurrent runs, and a live gateway rewriting the store during upgrades and downgrades."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIRST, cli_path, load_json
from storegen import make_store

REVISION = "4f2c19a0b7e1"
HERE = Path(__file__).parent


def devices_file(state: Path) -> dict[str, dict]:
    return load_json(state / "devices" / "paired.json")


def is_admin_operator(record: dict) -> bool:
    return "operator" in record.get("roles", []) and "operator.admin" in record.get("scopes", [])


def migrated(record: dict) -> bool:
    token = record["tokens"]["operator"]["scopes"]
    return all(s in record["scopes"] and s in token for s in ("operator.read", "operator.write"))


def untouched_by_migration(record: dict) -> bool:
    token = record["tokens"]["operator"]["scopes"]
    return not any(s in record["scopes"] or s in token for s in ("operator.read", "operator.write"))


def slow_cycles(log: dict, run_ends: list[float]) -> list[str]:
    """Gateway cycles that read before one of our runs ended and wrote after it.

    Such a write is stale and lands when scopemigrate has exited: no tool can
    see it. scopemigrate waits out a settle window after publishing; a failure
    here with a cycle longer than that window means the machine stalled the
    gateway beyond the window, not that a write was lost during the run.
    """
    return [
        f"cycle of {1000 * (end - start):.0f} ms straddled a run's end"
        for start, end in log.get("cycles", [])
        for run_end in run_ends
        if start < run_end < end
    ]


def test_two_runs_at_once_apply_the_migration_exactly_once(tmp_path: Path) -> None:
    state = make_store(tmp_path / "state", 3000)
    runs = [
        subprocess.Popen(
            [cli_path(), "upgrade", "head", "--json", "--store", str(state), *FIRST],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [json.loads(run.communicate(timeout=120)[0]) for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert sorted(r["changed"] for r in results) == [False, True]  # one applied, one waited
    ledger = load_json(state / "devices" / "scopemigrate-ledger.json")
    assert ledger["heads"] == [REVISION]
    assert [run["direction"] for run in ledger["history"]] == ["upgrade"]
    for record in devices_file(state).values():
        assert len(record.get("scopes", [])) == len(set(record.get("scopes", [])))
        if is_admin_operator(record):
            assert migrated(record)


@pytest.mark.soak
def test_a_live_gateway_loses_nothing_and_every_device_ends_migrated(tmp_path: Path) -> None:
    state = make_store(tmp_path / "state", 400)
    original = set(devices_file(state))
    stop, log_path = tmp_path / "stop", tmp_path / "gateway-log.json"
    run_ends: list[float] = []
    unmigrated: list[str] = []  # checked once the gateway stopped and wrote its log
    gateway = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "gateway_writer.py"),
            str(state),
            str(stop),
            str(log_path),
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert gateway.stdout is not None
    # Where it listens, as a gateway's configuration says: the run probes it there.
    port = gateway.stdout.readline().split()[1]
    env = {**os.environ, "OPENCLAW_GATEWAY_PORT": port}
    try:
        time.sleep(0.3)
        for round_ in range(4):
            for verb, target in (("upgrade", "head"), ("downgrade", "base")):
                run = subprocess.run(
                    [cli_path(), verb, target, "-q", "--store", str(state), *FIRST],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env=env,
                )
                run_ends.append(time.monotonic())
                assert run.returncode == 0, (round_, verb, run.stderr)
                time.sleep(0.2)  # the gateway goes on writing between runs
                if verb == "upgrade":
                    # Every admin operator device present now is migrated, also those
                    # the gateway paired during the run.
                    current = devices_file(state)
                    unmigrated += [
                        d for d, r in current.items() if is_admin_operator(r) and not migrated(r)
                    ]
    finally:
        stop.touch()
        gateway.wait(timeout=30)
    log = load_json(log_path)
    final = devices_file(state)
    assert log["unreadable"] == 0, "the gateway read a torn file"
    assert log["iterations"] > 50, "the gateway hardly ran; the test proves nothing"
    assert unmigrated == [], (unmigrated, slow_cycles(log, run_ends))
    # No device lost: ours, and every one the gateway paired.
    assert original | set(log["added"]) <= set(final)
    # No stamp lost: every token holds the last stamp the gateway gave it.
    for key, stamp in log["stamps"].items():
        device_id, role = key.split("/")
        assert final[device_id]["tokens"][role]["lastUsedAtMs"] == stamp, key
    # After the last downgrade, every device is as old as before, except those the
    # gateway paired with the new scopes itself while the store was at head.
    for device_id, record in final.items():
        if is_admin_operator(record) and log["added"].get(device_id) != "new":
            assert untouched_by_migration(record), (device_id, slow_cycles(log, run_ends))
    ledger = load_json(state / "devices" / "scopemigrate-ledger.json")
    assert ledger["heads"] == []
    assert not list((state / "devices").glob(".*scopemigrate-tmp"))
