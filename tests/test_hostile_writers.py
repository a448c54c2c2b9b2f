"""Live writers: a gateway that undoes the repair is reported (exit 16), never hidden.

The gateway's writes land at the one point the run waits for them (its settle
wait): injected there, they are deterministic, whatever the machine's load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_store, load_json

from scopemigrate import cli, commands, load_config
from scopemigrate.errors import GatewayRewroteError
from scopemigrate.stores.openclaw_json import gateway

READ_WRITE = ("operator.read", "operator.write")


def write_like_openclaw(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.gw.tmp")
    tmp.write_bytes(data)
    os.rename(tmp, path)


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
