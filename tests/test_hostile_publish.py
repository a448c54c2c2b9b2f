"""A gateway's write placed between every two file operations of a publish and its settle.

``test_hostile_writers.py`` places a real gateway's writes at four steps of a
run. Here every file operation the commit makes from the start of its publish
to the end of the run (each swap, stat, read, temp write, rename, unlink,
flush and the settle wait) is a point, and a real gateway process
(``gateway_writer.py``, driven by barriers) renames its whole new file over
``paired.json`` just before it: having read the store before the publish (a
stale write-back), just before the point (a fresh write), or one point earlier
(a write built on whatever the publish had exposed). Nothing the gateway wrote
may be lost, and each run either leaves the store migrated with the ledger at
head, or exits 16 with the ledger as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import FIRST_CHAIN, load_json, run_cli
from gateway_writer import DrivenGateway
from storegen import make_store

from scopemigrate import commands, load_config
from scopemigrate.errors import GatewayRewroteError
from scopemigrate.stores.openclaw_json import gateway, journal
from scopemigrate.stores.openclaw_json import store as store_module

REVISION = "4f2c19a0b7e1"
READ_WRITE = ("operator.read", "operator.write")
DEVICES = 40
# The file operations of the commit, by the names its modules call them.
HOOKED = (
    "exchange",
    "identity",
    "read_regular",
    "read_bytes",
    "write_temp",
    "write_private",
    "fsync_dir",
    "unlink",
    "reveal",
    "publish_over",
)


# point -> the gateway's commands there (``read``, ``write``, ``cycle``: both)
Plan = dict[int, list[str]]


class Points:
    """Counts the file operations from the start of the publish; runs the plan's
    gateway commands before the operation of each planned point."""

    def __init__(self, plan: Plan | None, gateway_process: DrivenGateway | None):
        self.plan, self.gateway_process = plan, gateway_process
        self.active = False
        self.count = 0
        self.wrote = False
        self.names: list[str] = []  # each point's operation, to name a failure

    def point(self, name: str) -> None:
        if not self.active:
            return
        self.names.append(name)
        here = self.count
        self.count += 1
        if self.plan is None or self.gateway_process is None:
            return
        self.active = False  # the gateway's own work is not ours to count
        try:
            for command in self.plan.pop(here, []):
                self.gateway_process.do(command)
                self.wrote = self.wrote or command != "read"
        finally:
            self.active = True


def counted(points: Points, real: Callable[..., Any], name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        points.point(name)
        return real(*args, **kwargs)

    return call


@contextmanager
def hooked(points: Points) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for module in (journal, gateway, store_module):
            for name in HOOKED:
                if hasattr(module, name):
                    patch.setattr(module, name, counted(points, getattr(module, name), name))
        for name in ("replace", "rename", "unlink", "link"):
            patch.setattr(os, name, counted(points, getattr(os, name), name))
        patch.setattr(Path, "unlink", counted(points, Path.unlink, "unlink"))
        patch.setattr(gateway.time, "sleep", lambda seconds: points.point("settle"))
        real_publish = journal.Journal.publish

        def publish(self: journal.Journal, *args: Any, **kwargs: Any) -> Any:
            points.active = True
            points.point("publish")  # point 0: the publish starts
            return real_publish(self, *args, **kwargs)

        patch.setattr(journal.Journal, "publish", publish)
        yield
    points.active = False


def upgrade(state: Path, points: Points, port: int | None) -> str:
    with pytest.MonkeyPatch.context() as env:
        if port is not None:
            env.setenv("OPENCLAW_GATEWAY_PORT", str(port))
        with hooked(points):
            try:
                commands.upgrade(
                    load_config(store=str(state), locations=[str(FIRST_CHAIN)], env={}), "head"
                )
            except GatewayRewroteError:
                return "rewritten"
    return "migrated"


def count_points(root: Path) -> list[str]:
    """How many points a run with no gateway write has (the gateway only listening)."""
    state = make_store(root / "count", DEVICES, seed=1)
    listener = DrivenGateway(state, root / "count-log.json", 1)
    points = Points(None, None)
    assert upgrade(state, points, listener.port) == "migrated"
    listener.stop()
    return points.names


def lost(state: Path, log: dict[str, Any]) -> tuple[int, int]:
    final = load_json(state / "devices" / "paired.json")
    devices = len(set(log["added"]) - set(final))
    stamps = 0
    for key, stamp in log["stamps"].items():
        device_id, role = key.split("/")
        token = final.get(device_id, {}).get("tokens", {}).get(role, {})
        stamps += token.get("lastUsedAtMs") != stamp
    return devices, stamps


def unmigrated(state: Path) -> list[str]:
    return [
        device_id
        for device_id, record in load_json(state / "devices" / "paired.json").items()
        if "operator" in record.get("roles", [])
        and "operator.admin" in record.get("scopes", [])
        and not all(scope in record["scopes"] for scope in READ_WRITE)
    ]


def trial(root: Path, name: str, plan: Plan, seed: int) -> tuple[bool, list[str]]:
    """Whether the gateway's write landed, and what went wrong (nothing, when right)."""
    state = make_store(root / name, DEVICES, seed=seed)
    gateway_process = DrivenGateway(state, root / f"{name}-log.json", seed)
    points = Points(plan, gateway_process)
    outcome = upgrade(state, points, gateway_process.port)
    log = gateway_process.stop()  # a write the run never reached never lands
    ledger = state / "devices" / "scopemigrate-ledger.json"
    heads = load_json(ledger)["heads"] if ledger.exists() else []
    problems = []
    devices, stamps = lost(state, log)
    if devices or stamps:
        problems.append(f"lost {devices} devices and {stamps} stamps the gateway wrote")
    if outcome == "migrated" and heads != [REVISION]:
        problems.append(f"exit 0 with the ledger at {heads}")
    if outcome == "migrated" and unmigrated(state):
        problems.append("exit 0 with devices unmigrated")  # not what the run reported
    if outcome == "rewritten" and heads:
        problems.append("exit 16 with the ledger claiming head")
    if list((state / "devices").glob(".*scopemigrate-tmp")):
        problems.append("temp files left behind")
    return points.wrote, problems


def test_a_gateway_write_between_any_two_file_operations_of_the_publish_loses_nothing(
    tmp_path: Path,
) -> None:
    names = count_points(tmp_path)
    total = len(names)
    assert total >= 8, names  # the publish, its checks and the settle: many steps
    plans = {}
    for point in range(1, total):
        plans[f"stale-{point}"] = {0: ["read"], point: ["write"]}
        plans[f"fresh-{point}"] = {point: ["cycle"]}
        if point > 1:
            # A write built on what the publish exposed one operation earlier.
            plans[f"built-on-{point}"] = {point - 1: ["read"], point: ["write"]}
            # Two writes, one operation apart (before and after a swap, say).
            plans[f"twice-{point}"] = {point - 1: ["cycle"], point: ["cycle"]}
    failures: dict[str, list[str]] = {}
    written = 0
    for seed, (name, plan) in enumerate(plans.items()):
        wrote, problems = trial(tmp_path, name, plan, seed)
        written += wrote
        if problems:
            failures[name] = problems
    assert failures == {}, (names, failures)
    # Nearly every planned write landed inside the run (a conflict adds points).
    assert written >= len(plans) * 3 // 4, (written, len(plans))


def test_a_version_a_killed_run_had_set_aside_is_kept_and_named(tmp_path: Path) -> None:
    """Killed while rebasing onto a gateway's write: that write is never cleaned up."""
    state = make_store(tmp_path / "state", DEVICES, seed=3)
    devices = state / "devices"
    kept = devices / ".paired.json.0a1b2c3d4e5f.scopemigrate-displaced"
    kept.write_bytes((devices / "paired.json").read_bytes())
    stale_temp = devices / ".paired.json.0a1b2c3d4e5f.scopemigrate-tmp"
    stale_temp.write_bytes(b"{}")
    done = run_cli("upgrade", "head", "-v", "--store", str(state), "--migrations", str(FIRST_CHAIN))
    assert done.returncode == 0, done.stderr
    assert kept.exists() and not stale_temp.exists()
    assert str(kept) in done.stderr and "kept" in done.stderr
