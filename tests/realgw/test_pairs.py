"""Pair on OpenClaw 2026.2.17, start a newer release on the same state, repair it live.

For each pair the newer gateway runs while scopemigrate repairs the store:
every call that failed must succeed at once, without a restart, and again
after one. 2.22 is the negative control (nothing fails, nothing a user
notices changes); 8.1 imports the JSON store into SQLite at startup, so the
repair edits rows and must never touch the retired ``*.migrated`` files.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness import Home, Releases, report, scopemigrate

OLD = "2026.2.17"
READ, WRITE = "operator.read", "operator.write"


@dataclass(frozen=True)
class Probe:
    name: str
    args: tuple[str, ...]
    cli: bool  # the release's own CLI, else a least-privilege call through its callGateway


# What real clients do: the CLI (devices list as a CLI-mode caller; health as
# a backend caller, least privilege from 2.19), and agent tools asking for
# exactly the read or write scope of the method they call.
PROBES = (
    Probe("openclaw devices list", ("devices", "list", "--json"), cli=True),
    Probe("openclaw health", ("health",), cli=True),
    Probe("health [operator.read]", ("call", "health", READ), cli=False),
    Probe(
        "agent.wait [operator.write]",
        ("call", "agent.wait", WRITE, json.dumps({"runId": "probe", "timeoutMs": 1})),
        cli=False,
    ),
)

# Observed (HISTORY.md section 5): what each release refuses of a 2.17 store.
PAIRS = {
    "2026.2.19": {"openclaw health", "health [operator.read]", "agent.wait [operator.write]"},
    "2026.2.21": {"agent.wait [operator.write]"},
    "2026.2.22": set(),
    "2026.8.1": set(),
}


def failure(done: subprocess.CompletedProcess[str]) -> str | None:
    if done.returncode == 0:
        return None
    text = (done.stdout + done.stderr).splitlines()
    for line in text:
        if "1008" in line or "pairing required" in line:
            return line.strip()
    return (text or [f"exit {done.returncode}"])[-1].strip()


def run_probes(home: Home, version: str) -> dict[str, str | None]:
    """Each probe's failure line, or None when it succeeded."""
    results: dict[str, str | None] = {}
    for probe in PROBES:
        if probe.cli:
            results[probe.name] = failure(home.openclaw(version, *probe.args))
        else:
            answer = home.shipped(version, *probe.args)
            results[probe.name] = None if answer.get("ok") else str(answer.get("error"))
    return results


def device_rows(home: Home) -> dict[str, dict[str, object]]:
    """The paired devices as the live store holds them (JSON or SQLite)."""
    database = home.state / "state" / "openclaw.sqlite"
    paired = home.state / "devices" / "paired.json"
    if paired.exists():
        return dict(json.loads(paired.read_text()))
    with sqlite3.connect(database) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT device_id, scopes_json, approved_scopes_json, tokens_json "
            "FROM device_pairing_paired"
        ).fetchall()
    return {
        row["device_id"]: {
            "scopes": json.loads(row["scopes_json"] or "null"),
            "approvedScopes": json.loads(row["approved_scopes_json"] or "null"),
            "tokens": json.loads(row["tokens_json"] or "{}"),
        }
        for row in rows
    }


def retired(home: Home) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (home.state / "devices").glob("*.migrated")}


def keep_fixture(home: Home, name: str) -> None:
    """With SCOPEMIGRATE_REALGW_FIXTURES set, keep the store as the new gateway
    left it before the repair (tests/fixtures/openclaw-chain is made this way)."""
    folder = os.environ.get("SCOPEMIGRATE_REALGW_FIXTURES")
    if not folder:
        return
    target = Path(folder) / name
    shutil.rmtree(target, ignore_errors=True)
    for part in ("devices", "state/openclaw.sqlite"):
        source = home.state / part
        if source.is_dir():
            shutil.copytree(source, target / part)
        elif source.exists():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)


@pytest.mark.parametrize("new", list(PAIRS))
def test_pair_repaired_live(new: str, releases: Releases, tmp_path: Path) -> None:
    home = Home(tmp_path / "home", releases)
    with home.gateway(OLD):
        paired = home.openclaw(OLD, "devices", "list", "--json")
        assert paired.returncode == 0, paired.stderr
    records = device_rows(home)
    assert len(records) == 1
    ((device_id, record),) = records.items()
    assert record["scopes"] == ["operator.admin", "operator.approvals", "operator.pairing"]
    token = record["tokens"]["operator"]["token"]  # type: ignore[index]

    with home.gateway(new) as gateway:
        before = run_probes(home, new)
        failed = {name for name, error in before.items() if error}
        audits_before = len(gateway.audit_lines())
        assert failed == PAIRS[new], before
        # Refused the way users saw it, not failing for some other reason.
        assert all("pairing required" in str(before[name]) for name in failed), before
        migrated_files = retired(home)
        keep_fixture(home, f"{OLD}-to-{new}")
        if new == "2026.8.1":
            # The startup import: rows in SQLite, the JSON files renamed, not edited.
            assert set(migrated_files) >= {"paired.json.migrated"}
            assert not (home.state / "devices" / "paired.json").exists()

        up = scopemigrate("upgrade", "head", "--store", str(home.state), "--json")
        assert up.returncode == 0, up.stderr
        after_upgrade = run_probes(home, new)
        assert not any(after_upgrade.values()), after_upgrade

        hook = scopemigrate("hook", "--installed-version", new, "--store", str(home.state))
        assert hook.returncode == 0, hook.stderr
        after_hook = run_probes(home, new)
        assert not any(after_hook.values()), after_hook
        audits_after = len(gateway.audit_lines())

    with home.gateway(new):
        after_restart = run_probes(home, new)
    assert not any(after_restart.values()), after_restart

    rows = device_rows(home)
    assert set(rows) == {device_id}  # no device paired again
    repaired = rows[device_id]
    assert repaired["tokens"]["operator"]["token"] == token  # type: ignore[index]
    assert {READ, WRITE} <= set(repaired["scopes"])  # type: ignore[arg-type]
    assert {READ, WRITE} <= set(repaired["tokens"]["operator"]["scopes"])  # type: ignore[index]
    assert retired(home) == migrated_files  # *.migrated never touched
    if not PAIRS[new]:
        # Negative control: no failure, no new audit line, no new request.
        assert audits_after == audits_before == 0
    report(
        f"{OLD} -> {new}: before: "
        + ("; ".join(f"{name}: {before[name]}" for name in sorted(failed)) or "nothing fails")
    )
    report(
        f"{OLD} -> {new}: after upgrade head, hook {new}, restart: "
        + ", ".join(f"{name} ok" for name in after_restart)
        + (
            f" (store: SQLite rows edited, {len(migrated_files)} *.migrated untouched)"
            if migrated_files
            else " (store: paired.json)"
        )
    )
