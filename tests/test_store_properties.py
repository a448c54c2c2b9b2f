"""Store-level properties on real files, through the public Python API.

For any generated OpenClaw store and chain of migration files:
- ``upgrade head`` then ``downgrade base`` gives back paired.json and
  pending.json byte for byte;
- one composed run to head writes the same bytes as one run per revision.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_engine import chains

from scopemigrate import commands
from scopemigrate.config import load_config
from scopemigrate.migration import Migration

SCOPES = ["operator.read", "operator.write", "operator.admin", "operator.talk", "node.exec"]


@st.composite
def records(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """A paired.json record with OpenClaw's key order and conventions."""
    device_id = f"{index:064x}"
    roles = sorted(draw(st.sets(st.sampled_from(["operator", "node"]), min_size=1)))
    record: dict[str, Any] = {"deviceId": device_id, "publicKey": f"pk{index}"}
    if draw(st.booleans()):
        record["displayName"] = f"Ana’s phone ☎ {index}"
    record |= {
        "platform": "linux",
        "clientId": "cli",
        "clientMode": draw(st.sampled_from(["cli", "webchat"])),
        "role": roles[0],
        "roles": roles,
    }
    scope_list = st.lists(st.sampled_from(SCOPES), min_size=1, max_size=4, unique=True)
    for key in ("scopes", "approvedScopes"):
        if draw(st.booleans()):  # OpenClaw writes an empty list as an absent key
            record[key] = draw(scope_list)
    record["remoteIp"] = "127.0.0.1"
    record["tokens"] = {
        role: {
            "token": f"secret-token-{index}-{role}",
            "role": role,
            "scopes": sorted(draw(st.lists(st.sampled_from(SCOPES), max_size=3, unique=True))),
            "createdAtMs": 1771000000000 + index,
        }
        for role in roles
        if draw(st.booleans())
    }
    record |= {"createdAtMs": 1771000000000 + index, "approvedAtMs": 1771000000000 + index}
    if draw(st.booleans()):
        record["x-unknown"] = {"kept": [1, "two", None]}
    return record


@st.composite
def stores(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    paired = {}
    for index in range(draw(st.integers(1, 6))):
        record = draw(records(index))
        paired[record["deviceId"]] = record
    ids = sorted(paired)
    pending = {}
    for n in range(draw(st.integers(0, 3))):
        request_id = f"00000000-0000-4000-8000-{n:012d}"
        pending[request_id] = {
            "requestId": request_id,
            "deviceId": draw(st.sampled_from(ids)),
            "publicKey": "pk",
            "role": "operator",
            "scopes": draw(st.lists(st.sampled_from(SCOPES), min_size=1, max_size=2, unique=True)),
            "isRepair": draw(st.booleans()),
            "ts": 1771000000000,
        }
    return paired, pending


def write_store(root: Path, paired: dict[str, Any], pending: dict[str, Any]) -> Path:
    devices = root / "state" / "devices"
    devices.mkdir(parents=True)
    for name, value in (("paired.json", paired), ("pending.json", pending)):
        (devices / name).write_text(json.dumps(value, indent=2, ensure_ascii=False), "utf-8")
        os.chmod(devices / name, 0o600)
    return root / "state"


def write_chain(folder: Path, chain: list[Migration]) -> None:
    folder.mkdir()
    for migration in chain:
        (folder / f"{migration.revision}.toml").write_text(
            tomli_w.dumps(migration.to_document()), "utf-8"
        )


def store_bytes(state: Path) -> tuple[bytes, bytes]:
    devices = state / "devices"
    return (devices / "paired.json").read_bytes(), (devices / "pending.json").read_bytes()


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(store=stores(), chain=chains())
def test_upgrade_then_downgrade_is_the_identity_on_disk(
    store: tuple[dict[str, Any], dict[str, Any]], chain: list[Migration]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        state = write_store(root, *store)
        write_chain(root / "migrations", chain)
        config = load_config(
            store=str(state), locations=[str(root / "migrations")], keep_backups=0, env={}
        )
        original = store_bytes(state)
        up = commands.upgrade(config, "head")
        event(f"devices changed: {min(len(up.devices), 2)}")
        assert up.to_heads == [chain[-1].revision]
        paired_after = (state / "devices" / "paired.json").read_text("utf-8")
        assert "secret-token" not in json.dumps(up.to_json())
        commands.downgrade(config, "base")
        assert store_bytes(state) == original
        # Token strings and unknown fields survived the round trip inside the upgrade too.
        assert json.loads(paired_after).keys() == store[0].keys()


@PROPERTY
@given(store=stores(), chain=chains())
def test_one_composed_run_writes_what_one_run_per_revision_writes(
    store: tuple[dict[str, Any], dict[str, Any]], chain: list[Migration]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_chain(root / "migrations", chain)
        composed = write_store(root / "composed", *store)
        stepwise = write_store(root / "stepwise", *store)
        settings_ = {"locations": [str(root / "migrations")], "keep_backups": 0, "env": {}}
        commands.upgrade(load_config(store=str(composed), **settings_), "head")
        for _ in chain:
            commands.upgrade(load_config(store=str(stepwise), **settings_), "+1")
        assert store_bytes(composed) == store_bytes(stepwise)
