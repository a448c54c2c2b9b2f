"""Synthetic OpenClaw stores with the device mix of the fixtures, for scale and crash tests."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

ADMIN = ["operator.admin", "operator.approvals", "operator.pairing"]


def _token(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(43))


def make_device(rng: random.Random, index: int) -> dict[str, Any]:
    device_id = hashlib.sha256(f"device-{index}".encode()).hexdigest()
    kind = rng.choices(
        ["cli", "ui", "node", "probe", "phone", "revoked", "both", "unknown"],
        weights=[30, 25, 15, 5, 10, 5, 5, 5],
    )[0]
    created = 1769000000000 + index * 1000
    record: dict[str, Any] = {"deviceId": device_id, "publicKey": _token(rng)}
    if kind == "phone":
        record["displayName"] = f"Phone ☎ {index}"
    record |= {
        "platform": "linux",
        "clientId": {"ui": "openclaw-control-ui", "node": "node-host"}.get(kind, "cli"),
        "clientMode": {"ui": "webchat", "node": "node", "probe": "probe"}.get(kind, "cli"),
        "role": "node" if kind == "node" else "operator",
        "roles": ["node"]
        if kind == "node"
        else (["operator", "node"] if kind == "both" else ["operator"]),
    }
    scopes = ["operator.read"] if kind == "probe" else list(ADMIN)
    if kind == "phone":
        scopes.append("operator.talk.secrets")
    if kind != "node":
        record["scopes"] = scopes
    role = "node" if kind == "node" else "operator"
    token: dict[str, Any] = {
        "token": _token(rng),
        "role": role,
        "scopes": [] if kind == "node" else sorted(scopes),
        "createdAtMs": created,
        "lastUsedAtMs": created + 86400000,
    }
    if kind == "revoked":
        token["revokedAtMs"] = created + 1000
    record["tokens"] = {role: token}
    if kind == "both":
        record["tokens"]["node"] = {
            "token": _token(rng),
            "role": "node",
            "scopes": [],
            "createdAtMs": created,
        }
    record |= {"createdAtMs": created, "approvedAtMs": created}
    if kind == "unknown":
        record["x-unknown"] = {"keep": [1, 2, 3]}
    return record


def make_store(state_dir: Path, devices: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    folder = state_dir / "devices"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    records = [make_device(rng, i) for i in range(devices)]
    paired = {r["deviceId"]: r for r in records}
    for name, value in (("paired.json", paired), ("pending.json", {})):
        path = folder / name
        path.write_text(json.dumps(value, indent=2, ensure_ascii=False), encoding="utf-8")
        os.chmod(path, 0o600)
    return state_dir
