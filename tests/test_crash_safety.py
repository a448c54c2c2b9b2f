"""Real kill -9 of real scopemigrate processes at many instants of upgrades and downgrades.

After every kill, the next run's recovery must leave a store where every device
is present and either fully old or fully new, agreeing with the ledger, with no
torn file and no stray temp file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from conftest import FIRST, cli_path
from storegen import make_store

from scopemigrate.stores.openclaw_json import OpenClawJsonStore

DEVICES = 2000
TRIALS = 200
REVISION = "4f2c19a0b7e1"


def add_repair_requests(store: Path) -> None:
    paired = json.loads((store / "devices" / "paired.json").read_text())
    admins = [d for d, r in paired.items() if "operator.admin" in r.get("scopes", [])][:3]
    pending = {
        f"00000000-0000-0000-0000-00000000000{i}": {
            "requestId": f"00000000-0000-0000-0000-00000000000{i}",
            "deviceId": device_id,
            "publicKey": paired[device_id]["publicKey"],
            "role": "operator",
            "scopes": ["operator.write"],
            "isRepair": True,
            "ts": 1771150000000,
        }
        for i, device_id in enumerate(admins)
    }
    (store / "devices" / "pending.json").write_text(json.dumps(pending, indent=2))


def state_of(record: dict) -> str:
    """'new', 'old', or 'torn' for a device the migration applies to."""
    scopes = record.get("scopes", [])
    token = record["tokens"]["operator"]["scopes"]
    has = ["operator.write" in scopes, "operator.read" in scopes, "operator.write" in token]
    return "new" if all(has) else "old" if not any(has) else "torn"


def check_consistent(store: Path, device_ids: set[str]) -> tuple[bool, str]:
    """Recover as the next run would, then check.

    Returns whether the store is migrated, and what the kill left behind for
    the recovery: "journal" (a commit past its point of no return, to roll
    forward or back), "temps" (a commit still writing its temp files), or "".
    """
    devices = store / "devices"
    left = (
        "journal"
        if (devices / "scopemigrate-journal.json").exists()
        else "temps"
        if list(devices.glob(".*scopemigrate-tmp"))
        else ""
    )
    with OpenClawJsonStore(store).lock(10):
        pass
    assert not (devices / "scopemigrate-journal.json").exists()
    assert not list(devices.glob(".*scopemigrate-tmp")), "stray temp file"
    paired = json.loads((devices / "paired.json").read_text())  # never torn
    pending = json.loads((devices / "pending.json").read_text())
    assert set(paired) == device_ids, "a device was lost"
    ledger_path = devices / "scopemigrate-ledger.json"
    heads = json.loads(ledger_path.read_text())["heads"] if ledger_path.exists() else []
    states = {state_of(r) for r in paired.values() if "operator.admin" in r.get("scopes", [])}
    expected = "new" if heads == [REVISION] else "old"
    assert states == {expected}, f"ledger says {heads}, devices are {states}"
    assert (len(pending) == 0) == (expected == "new")
    return expected == "new", left


def wait_for_commit(store: Path, proc: subprocess.Popen[bytes]) -> None:
    """Return once the run has written its first temp file (or has ended)."""
    devices = store / "devices"
    while proc.poll() is None:
        if any(name.endswith("scopemigrate-tmp") for name in os.listdir(devices)):
            return
        time.sleep(0.0002)


def wait_for_journal(store: Path, proc: subprocess.Popen[bytes]) -> None:
    """Return once the run has written its journal (or has ended).

    The journal lives only while the files are swapped in, a millisecond or
    less, so this polls without sleeping; a fixed delay after the first temp
    file misses that window on a disk whose fsyncs are slower than the delay.
    """
    journal = store / "devices" / "scopemigrate-journal.json"
    while proc.poll() is None:
        if journal.exists():
            return


def test_kill_at_any_instant_leaves_old_or_new(tmp_path: Path) -> None:
    store = make_store(tmp_path / "state", DEVICES)
    add_repair_requests(store)
    device_ids = set(json.loads((store / "devices" / "paired.json").read_text()))
    durations = {"upgrade": 0.0, "downgrade": 0.0}
    for _ in range(2):  # calibrate: how long each direction takes here, unkilled
        for args in (["upgrade", "head"], ["downgrade", "base"]):
            started = time.monotonic()
            subprocess.run([cli_path(), *args, "-q", "--store", str(store), *FIRST], check=True)
            durations[args[0]] = max(durations[args[0]], time.monotonic() - started)
    migrated, _ = check_consistent(store, device_ids)
    rng = random.Random(2026)
    outcomes = {"killed": 0, "finished": 0, "journal": 0, "temps": 0}
    for trial in range(TRIALS):
        args = ["downgrade", "base"] if migrated else ["upgrade", "head"]
        if trial % 4 == 1:
            args.append("--no-backup")
        proc = subprocess.Popen([cli_path(), *args, "-q", "--store", str(store), *FIRST])
        if trial % 2 == 0:
            # Anywhere in the run.
            time.sleep(rng.uniform(0, durations[args[0]] * 1.1))
        elif trial % 4 == 1:
            # Inside the commit: from the first temp file on, a few ms later.
            wait_for_commit(store, proc)
            time.sleep(rng.uniform(0, 0.004))
        else:
            # Past the point of no return: as soon as the journal exists.
            wait_for_journal(store, proc)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            outcomes["killed"] += 1
        else:
            outcomes["finished"] += 1
        proc.wait()
        migrated, left = check_consistent(store, device_ids)
        if left:
            outcomes[left] += 1
    # Both kinds happened: kills mid-run and runs that completed.
    assert outcomes["killed"] > TRIALS // 4
    assert outcomes["finished"] > 0
    # Kills landed inside commits, both before and after the journal was written.
    assert outcomes["journal"] > 0, outcomes
    assert outcomes["journal"] + outcomes["temps"] > TRIALS // 10, outcomes
    print(outcomes)
