"""Live writers: a gateway that undoes the repair is reported (exit 16), never hidden.

The gateway's writes land at the one point the run waits for them (its settle
wait): injected there, they are deterministic, whatever the machine's load.
"""

from __future__ import annotations

import json
import os
import random
import socket
from pathlib import Path
from typing import Any

import pytest
from conftest import FIRST_CHAIN, copy_store, load_json
from gateway_writer import DrivenGateway, listen
from storegen import make_store

from scopemigrate import cli, commands, load_config
from scopemigrate.errors import GatewayRewroteError
from scopemigrate.stores.openclaw_json import gateway, journal, records
from scopemigrate.stores.openclaw_json import store as store_module

READ_WRITE = ("operator.read", "operator.write")


def write_like_openclaw(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.gw.tmp")
    tmp.write_bytes(data)
    os.rename(tmp, path)


@pytest.fixture
def announced(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway announced as OpenClaw's is: answering on the port its configuration
    names (here ``OPENCLAW_GATEWAY_PORT``), so the run watches for its writes."""
    monkeypatch.setenv("OPENCLAW_GATEWAY_PORT", str(listen()))


@pytest.mark.usefixtures("announced")
def test_a_gateway_that_keeps_reverting_gets_exit_16_and_the_ledger_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path)
    paired = store / "devices" / "paired.json"
    original = paired.read_bytes()
    reverts: list[int] = []

    def stale_write_during_settle(seconds: float) -> None:
        write_like_openclaw(paired, original)  # what it read before our publish
        reverts.append(1)

    monkeypatch.setattr(gateway.time, "sleep", stale_write_during_settle)
    with pytest.raises(GatewayRewroteError) as raised:
        commands.upgrade(load_config(store=str(store), env={}), "head")
    assert cli.exit_code_for(raised.value) == 16
    message = str(raised.value)
    assert "\n" not in message and "ledger was left as it was" in message
    assert "gateway" in message and ("answers on" in message)
    assert len(reverts) == gateway.SETTLE_ROUNDS
    # The ledger never claims a state the devices do not hold.
    assert not (store / "devices" / "scopemigrate-ledger.json").exists()
    assert commands.current(load_config(store=str(store), env={})).heads == []


@pytest.mark.usefixtures("announced")
def test_a_gateway_that_reverts_once_is_repaired_and_its_stamp_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path)
    paired = store / "devices" / "paired.json"
    before: dict[str, Any] = load_json(paired)
    device_id = next(iter(before))
    stale = json.loads(json.dumps(before))
    stale[device_id]["tokens"]["operator"]["lastUsedAtMs"] = 1_900_000_000_000
    done: list[int] = []

    def one_stale_write(seconds: float) -> None:
        if not done:
            write_like_openclaw(paired, json.dumps(stale, indent=2).encode())
            done.append(1)

    monkeypatch.setattr(gateway.time, "sleep", one_stale_write)
    commands.upgrade(load_config(store=str(store), env={}), "head")
    after = load_json(paired)
    assert after[device_id]["tokens"]["operator"]["lastUsedAtMs"] == 1_900_000_000_000
    for record in after.values():
        if "operator.admin" in record.get("scopes", []):
            assert all(s in record["scopes"] for s in READ_WRITE)
    assert load_json(store / "devices" / "scopemigrate-ledger.json")["heads"]


# --- a real gateway process, its writes placed at each step of a run -------------------

REVISION = "4f2c19a0b7e1"
TRIALS = 60


# Where a gateway's writes land during a run, by the run's own steps: after our
# read ("read"), right before our swap ("swap"), once the swap is checked
# ("swapped"), and in the settle wait ("settle"). A stale pair reads at one
# point and writes at a later one. (Every file operation in between is a point
# of its own in test_hostile_publish.py.)
POINTS = ("read", "swap", "swapped", "settle")


def plan_of(rng: random.Random) -> dict[str, list[str]]:
    """For each point, the gateway commands run there (a trial's interleaving)."""
    plan: dict[str, list[str]] = {point: [] for point in POINTS}
    for point in POINTS:
        plan[point] += ["cycle"] * rng.randint(0, 2)
    if rng.random() < 0.5:  # a stale write-back across our publish
        start, end = sorted(rng.sample(range(len(POINTS)), 2))
        # One gateway, one cycle at a time: nothing of its own between the two.
        for between in POINTS[start + 1 : end]:
            plan[between] = []
        plan[POINTS[start]].append("read")
        plan[POINTS[end]].insert(0, "write")
    return plan


def run_trial(root: Path, seed: int) -> tuple[str, dict[str, Any]]:
    rng = random.Random(seed)
    state = make_store(root / f"t{seed}", 60, seed=seed)
    gateway_process = DrivenGateway(state, root / f"log{seed}.json", seed)
    plan = plan_of(rng)
    # One gateway in ten keeps writing back what it read before the repair.
    always_revert = rng.random() < 0.1
    if always_revert:
        plan = {point: [] for point in POINTS}
        plan["swap"] = ["read"]

    def at(point: str) -> None:
        for command in plan[point]:
            gateway_process.do(command)
        plan[point] = []

    real_read, real_exchange = records.read_regular, journal.exchange
    real_publish = journal.Journal._publish

    def read_then(path: Path) -> Any:
        found = real_read(path)
        if path.name == "pending.json":
            at("read")
        return found

    def exchange_at(a: Path, b: Path) -> bool:
        if b.name == "paired.json":
            at("swap")
        return real_exchange(a, b)

    def publish_then(self: journal.Journal, file: Any, **kwargs: Any) -> Any:
        try:
            return real_publish(self, file, **kwargs)
        finally:
            if file.name == "paired.json":
                at("swapped")

    def settle(seconds: float) -> None:
        at("settle")
        if always_revert:
            gateway_process.do("write")  # what it read before the repair
            gateway_process.do("read")  # its own write: the repair undone again

    outcome = "migrated"
    with pytest.MonkeyPatch.context() as patch:
        # Announced as a gateway announces itself: answering on its configured port.
        patch.setenv("OPENCLAW_GATEWAY_PORT", str(gateway_process.port))
        patch.setattr(records, "read_regular", read_then)
        patch.setattr(store_module, "read_regular", read_then)
        patch.setattr(journal, "exchange", exchange_at)
        patch.setattr(journal.Journal, "_publish", publish_then)
        patch.setattr(gateway.time, "sleep", settle)
        try:
            # The one-revision chain: the trial checks its one head in the ledger.
            config = load_config(store=str(state), locations=[str(FIRST_CHAIN)], env={})
            commands.upgrade(config, "head")
        except GatewayRewroteError:
            outcome = "rewritten"
    for point in POINTS:  # whatever the run did not reach still lands
        at(point)
    if always_revert:
        gateway_process.do("write")  # its last write lands after the run
    log = gateway_process.stop()
    return outcome, {"state": state, "log": log}


def test_a_live_gateway_loses_nothing_in_any_interleaving(tmp_path: Path) -> None:
    outcomes: dict[str, int] = {"migrated": 0, "rewritten": 0}
    lost_devices = lost_stamps = 0
    for seed in range(TRIALS):
        outcome, found = run_trial(tmp_path, seed)
        outcomes[outcome] += 1
        state, log = found["state"], found["log"]
        final = load_json(state / "devices" / "paired.json")
        lost_devices += len(set(log["added"]) - set(final))
        for key, stamp in log["stamps"].items():
            device_id, role = key.split("/")
            token = final.get(device_id, {}).get("tokens", {}).get(role, {})
            lost_stamps += token.get("lastUsedAtMs") != stamp
        ledger = state / "devices" / "scopemigrate-ledger.json"
        heads = load_json(ledger)["heads"] if ledger.exists() else []
        if outcome == "migrated":
            assert heads == [REVISION], seed
            unmigrated = [
                d
                for d, r in final.items()
                if "operator" in r.get("roles", [])
                and "operator.admin" in r.get("scopes", [])
                and not all(s in r["scopes"] for s in READ_WRITE)
            ]
            assert unmigrated == [], (seed, unmigrated)
        else:
            assert heads == [], seed  # the ledger never claims what the devices lack
        assert not list((state / "devices").glob(".*scopemigrate-tmp")), seed
    assert (lost_devices, lost_stamps) == (0, 0)
    assert outcomes["migrated"] >= TRIALS // 2 and outcomes["rewritten"] >= 1, outcomes


# --- the settle wait: paid only when a gateway may be writing ---------------------------


def closed_port() -> int:
    """A loopback port nothing answers on (bound, then closed again)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        return int(server.getsockname()[1])


def waits_of(store: Path, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(gateway.time, "sleep", waits.append)
    commands.upgrade(load_config(store=str(store), env={}), "head")
    assert load_json(store / "devices" / "scopemigrate-ledger.json")["heads"]
    return waits


def test_a_changing_run_with_no_gateway_answering_waits_for_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENCLAW_GATEWAY_PORT", str(closed_port()))
    assert waits_of(copy_store("2026.2.15-mixed", tmp_path), monkeypatch) == []


@pytest.mark.usefixtures("announced")
def test_a_changing_run_beside_an_answering_gateway_waits_for_its_write_backs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits = waits_of(copy_store("2026.2.15-mixed", tmp_path), monkeypatch)
    assert len(waits) == 1 and gateway.SETTLE_MIN_SECONDS <= waits[0] <= gateway.SETTLE_MAX_SECONDS


def test_a_write_met_by_the_publish_is_watched_for_even_with_no_gateway_answering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway the probe cannot see (another port, not on loopback) shows itself
    by writing: a write the swap displaces makes the run wait after all."""
    monkeypatch.setenv("OPENCLAW_GATEWAY_PORT", str(closed_port()))
    store = copy_store("2026.2.15-mixed", tmp_path)
    paired = store / "devices" / "paired.json"
    written = load_json(paired)
    device_id = next(iter(written))
    written[device_id]["tokens"]["operator"]["lastUsedAtMs"] = 1_900_000_000_000
    real_exchange = journal.exchange

    def write_first(a: Path, b: Path) -> bool:
        if b == paired and not hasattr(write_first, "done"):
            write_first.done = True  # type: ignore[attr-defined]
            write_like_openclaw(paired, json.dumps(written, indent=2).encode())
        return real_exchange(a, b)

    monkeypatch.setattr(journal, "exchange", write_first)
    assert len(waits_of(store, monkeypatch)) == 1
    after = load_json(paired)
    assert after[device_id]["tokens"]["operator"]["lastUsedAtMs"] == 1_900_000_000_000
    for record in after.values():
        if "operator.admin" in record.get("scopes", []):
            assert all(s in record["scopes"] for s in READ_WRITE)
