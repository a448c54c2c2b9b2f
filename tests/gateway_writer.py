"""A stand-in for a running OpenClaw gateway, for concurrency tests.

Rewrites devices/paired.json and pending.json in a loop the way OpenClaw does
(re-read on every check, no lock, JSON.stringify(value, null, 2) to a temp file
at mode 0600, rename over the target): stamps a token's lastUsedAtMs on each
iteration and, every few iterations, pairs a new device with the scopes that
the gateway's version grants (old ones while the ledger is at base, the
2026.2.19 set once it is at head). Stops when the stop file appears and writes
a log of every stamp and device it wrote, and every unreadable file it saw.

Usage: python gateway_writer.py STATE_DIR STOP_FILE LOG_FILE SEED [PAUSE]

``PAUSE`` (seconds, default 0.03) is the mean pause between two cycles: a
busy gateway stamps tokens back to back, a quieter one a few times a second.

Driven (``STOP_FILE`` is ``-``): no loop; each line on stdin is a command,
answered by ``ok`` on stdout once done, so a test puts each write exactly
where it wants it: ``read`` (read both files and make this cycle's changes in
memory), ``write`` (write what the last ``read`` made: a stale write-back if
the files changed since), ``cycle`` (both), ``stop`` (write the log, exit).

Either way it announces itself as a gateway does: it listens on loopback
(a free port, printed first as ``port N``; tests hand it to the run as
``OPENCLAW_GATEWAY_PORT``, the variable OpenClaw's own gateway reads).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

ADMIN = ["operator.admin", "operator.approvals", "operator.pairing"]
NEW = [*ADMIN, "operator.read", "operator.write"]


def write_like_openclaw(path: Path, value: Any) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{random.random():.12f}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        # orjson's two-space indent is JSON.stringify(value, null, 2) for these
        # records, and about as fast as node's: a gateway's write takes tens of
        # milliseconds at 10k devices, not the second the standard library takes.
        handle.write(orjson.dumps(value, option=orjson.OPT_INDENT_2))
    os.rename(tmp, path)


def read_json(path: Path, log: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError:
        log["unreadable"] += 1  # what OpenClaw would read as empty: a torn file
        raise


def ledger_at_head(devices: Path) -> bool:
    try:
        return bool(json.loads((devices / "scopemigrate-ledger.json").read_text())["heads"])
    except (FileNotFoundError, ValueError, KeyError):
        return False


def new_device(index: int, migrated: bool, now: int) -> dict[str, Any]:
    device_id = hashlib.sha256(f"gateway-paired-{index}".encode()).hexdigest()
    scopes = list(NEW if migrated else ADMIN)
    return {
        "deviceId": device_id,
        "publicKey": f"gateway-pk-{index}",
        "platform": "linux",
        "clientId": "cli",
        "clientMode": "cli",
        "role": "operator",
        "roles": ["operator"],
        "scopes": scopes,
        "tokens": {
            "operator": {
                "token": f"gateway-secret-{index}",
                "role": "operator",
                "scopes": sorted(scopes),
                "createdAtMs": now,
            }
        },
        "createdAtMs": now,
        "approvedAtMs": now,
    }


class Gateway:
    """One gateway's cycles: read and change in memory, then write (as OpenClaw does)."""

    def __init__(self, devices: Path, rng: random.Random, log: dict[str, Any]):
        self.devices, self.rng, self.log = devices, rng, log
        self.stamp = 1_800_000_000_000
        self.held: tuple[dict[str, Any], dict[str, Any], dict[str, int], dict[str, str]] | None
        self.held = None

    def read(self) -> None:
        migrated = ledger_at_head(self.devices)
        paired = read_json(self.devices / "paired.json", self.log)
        pending = read_json(self.devices / "pending.json", self.log)
        self.stamp += 1
        stamps: dict[str, int] = {}
        device_id = self.rng.choice(sorted(paired))
        for role, token in paired[device_id].get("tokens", {}).items():
            token["lastUsedAtMs"] = self.stamp
            stamps[f"{device_id}/{role}"] = self.stamp
        added: dict[str, str] = {}
        if self.rng.random() < 0.5:
            record = new_device(len(self.log["added"]) + self.stamp, migrated, self.stamp)
            paired[record["deviceId"]] = record
            added[record["deviceId"]] = "new" if migrated else "old"
        self.held = (paired, pending, stamps, added)

    def write(self) -> None:
        assert self.held is not None, "write before read"
        paired, pending, stamps, added = self.held
        write_like_openclaw(self.devices / "paired.json", paired)
        write_like_openclaw(self.devices / "pending.json", pending)
        # Only what landed counts; a later write that read an older file may drop
        # it again, as OpenClaw's own last-writer-wins does (the log keeps the last).
        self.log["stamps"].update(stamps)
        self.log["added"].update(added)
        self.log["iterations"] += 1
        self.held = None


def listen() -> int:
    """Listen on a free loopback port, as a gateway listens on its own: accept and
    close every connection (a probe), from a daemon thread. Returns the port."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        while True:
            connection, _ = server.accept()
            connection.close()

    threading.Thread(target=answer, daemon=True).start()
    return int(server.getsockname()[1])


class DrivenGateway:
    """This script in driven mode, from a test: each command answered once done."""

    def __init__(self, state: Path, log: Path, seed: int):
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(state), "-", str(log), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline().split()[1])

    def do(self, command: str) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "ok", command  # the barrier

    def stop(self) -> dict[str, Any]:
        self.do("stop")
        self.process.wait(timeout=60)
        return dict(json.loads(self.log.read_text()))


def driven(state: Path, log_path: str, seed: str) -> None:
    log: dict[str, Any] = {"stamps": {}, "added": {}, "iterations": 0, "unreadable": 0}
    gateway = Gateway(state / "devices", random.Random(int(seed)), log)
    print(f"port {listen()}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "stop":
            break
        if command in ("read", "cycle"):
            gateway.read()
        if command in ("write", "cycle"):
            gateway.write()
        print("ok", flush=True)
    Path(log_path).write_text(json.dumps(log))
    print("ok", flush=True)


def main() -> None:
    state, stop, log_path, seed = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    if sys.argv[2] == "-":
        driven(state, log_path, seed)
        return
    print(f"port {listen()}", flush=True)
    rng = random.Random(int(seed))
    pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0.03
    devices = state / "devices"
    log: dict[str, Any] = {
        "stamps": {},
        "added": {},
        "iterations": 0,
        "unreadable": 0,
        "cycles": [],  # [read started, write done], time.monotonic(), to explain a failure
    }
    stamp = 1_800_000_000_000
    while not stop.exists():
        started = time.monotonic()
        migrated = ledger_at_head(devices)  # read with the state, as a gateway would
        try:
            paired = read_json(devices / "paired.json", log)
            pending = read_json(devices / "pending.json", log)
        except ValueError:
            continue
        stamp += 1
        device_id = rng.choice(sorted(paired))
        for role, token in paired[device_id].get("tokens", {}).items():
            token["lastUsedAtMs"] = stamp
            log["stamps"][f"{device_id}/{role}"] = stamp
        if log["iterations"] % 5 == 0:
            record = new_device(len(log["added"]), migrated, stamp)
            paired[record["deviceId"]] = record
            log["added"][record["deviceId"]] = "new" if migrated else "old"
        write_like_openclaw(devices / "paired.json", paired)
        write_like_openclaw(devices / "pending.json", pending)
        log["cycles"].append([started, time.monotonic()])
        log["iterations"] += 1
        time.sleep(rng.uniform(pause / 3, pause * 5 / 3))
    Path(log_path).write_text(json.dumps(log))


if __name__ == "__main__":
    main()
