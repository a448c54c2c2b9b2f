"""End to end: the installed ``scopemigrate`` as a subprocess, on copies of real stores."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, copy_store, load_json, token_values
from conftest import run_first as run_cli

READ_WRITE = ["operator.read", "operator.write"]


def key_orders(value: Any) -> Any:
    """The key order of every object, recursively: parsed-equal is not enough."""
    if isinstance(value, dict):
        return [(k, key_orders(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [key_orders(v) for v in value]
    return None


def test_upgrade_head_produces_the_expected_store(mixed: Path) -> None:
    result = run_cli("upgrade", "head", "--store", str(mixed))
    assert result.returncode == 0, result.stderr
    expected = FIXTURES / "2026.2.15-mixed" / "expected-2026.2.19" / "devices"
    for name in ("paired.json", "pending.json"):
        got, want = load_json(mixed / "devices" / name), load_json(expected / name)
        assert got == want
        assert key_orders(got) == key_orders(want)
        # OpenClaw's writer: two-space JSON, no trailing newline, mode 0600.
        assert (mixed / "devices" / name).read_bytes() == (expected / name).read_bytes()
        mode = stat.S_IMODE((mixed / "devices" / name).stat().st_mode)
        assert mode == 0o600
    assert "6 device(s) changed" in result.stdout


def test_second_run_is_a_noop_that_does_not_rewrite(mixed: Path) -> None:
    assert run_cli("upgrade", "--store", str(mixed)).returncode == 0
    files = [mixed / "devices" / n for n in ("paired.json", "pending.json")]
    files.append(mixed / "devices" / "scopemigrate-ledger.json")
    before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in files]
    again = run_cli("upgrade", "head", "--store", str(mixed))
    assert again.returncode == 0
    assert "nothing to do" in again.stdout
    assert [(p.read_bytes(), p.stat().st_mtime_ns) for p in files] == before


def test_downgrade_base_gives_back_the_original_store(mixed: Path) -> None:
    original = FIXTURES / "2026.2.15-mixed" / "devices"
    assert run_cli("upgrade", "--store", str(mixed)).returncode == 0
    down = run_cli("downgrade", "base", "--store", str(mixed))
    assert down.returncode == 0, down.stderr
    for name in ("paired.json", "pending.json"):
        assert (mixed / "devices" / name).read_bytes() == (original / name).read_bytes()
    assert run_cli("current", "--json", "--store", str(mixed)).stdout
    current = json.loads(run_cli("current", "--json", "--store", str(mixed)).stdout)
    assert current["heads"] == []


def test_real_gateway_store(tmp_path: Path) -> None:
    store = copy_store("2026.2.17-real", tmp_path)
    before = load_json(store / "devices" / "paired.json")
    assert run_cli("upgrade", "--store", str(store)).returncode == 0
    after = load_json(store / "devices" / "paired.json")
    (device_id,) = before
    want = before[device_id]
    want["scopes"] = [*want["scopes"], *READ_WRITE]
    want["tokens"]["operator"]["scopes"] = sorted(want["tokens"]["operator"]["scopes"] + READ_WRITE)
    assert after == {device_id: want}
    assert key_orders(after) == key_orders({device_id: want})
    assert (store / "devices" / "pending.json").read_bytes() == b"{}"
    assert run_cli("downgrade", "base", "--store", str(store)).returncode == 0
    original = FIXTURES / "2026.2.17-real" / "devices" / "paired.json"
    assert (store / "devices" / "paired.json").read_bytes() == original.read_bytes()


def test_approved_scopes_store(tmp_path: Path) -> None:
    store = copy_store("2026.2.21-approved", tmp_path)
    before = load_json(store / "devices" / "paired.json")
    assert run_cli("upgrade", "--store", str(store)).returncode == 0
    after = load_json(store / "devices" / "paired.json")
    for device_id, record in before.items():
        want = json.loads(json.dumps(record))
        want["scopes"] += [s for s in READ_WRITE if s not in want["scopes"]]
        # approvedScopes is extended where it exists; a scope already approved stays once.
        want["approvedScopes"] += [s for s in READ_WRITE if s not in want["approvedScopes"]]
        token = want["tokens"]["operator"]
        token["scopes"] = sorted(set(token["scopes"]) | set(READ_WRITE))
        assert after[device_id] == want
        assert key_orders(after[device_id]) == key_orders(want)
    ui = after["202749d70cc58aa7319e107303b074e1610afe5a1e21be5567ebb28f6d93511c"]
    assert ui["approvedScopes"].count("operator.read") == 1
    assert run_cli("downgrade", "base", "--store", str(store)).returncode == 0
    original = FIXTURES / "2026.2.21-approved" / "devices" / "paired.json"
    assert (store / "devices" / "paired.json").read_bytes() == original.read_bytes()


def test_read_only_device_gains_nothing(mixed: Path) -> None:
    probe = "ba9c736f19e7f60b7f6764adb0b7908c0a2b394e09b6c09863528c7f2bc86095"
    node = "8ae84a3bb8d6b65c7b4b5543c9d2dad765e24dc443e82086aa069ee87470b92b"
    before = load_json(mixed / "devices" / "paired.json")
    assert run_cli("upgrade", "--store", str(mixed)).returncode == 0
    after = load_json(mixed / "devices" / "paired.json")
    assert after[probe] == before[probe]
    assert after[node] == before[node]


def test_dry_run_shows_a_plan_changes_nothing_and_hides_tokens(mixed: Path) -> None:
    paired = mixed / "devices" / "paired.json"
    before = paired.read_bytes()
    result = run_cli("upgrade", "--dry-run", "--store", str(mixed))
    assert result.returncode == 0
    assert paired.read_bytes() == before
    assert not (mixed / "devices" / "scopemigrate-ledger.json").exists()
    assert "Ana’s iPhone ☎" in result.stdout
    assert "31a26516362262a5cc9331078bce2e53ad724023e222894ff9fb96f18db4d223" in result.stdout
    assert "+operator.read" in result.stdout and "+operator.write" in result.stdout
    plan = json.loads(run_cli("upgrade", "--dry-run", "--json", "--store", str(mixed)).stdout)
    assert plan["dry_run"] is True and plan["changed"] is False
    assert len(plan["devices"]) == 6
    everything = result.stdout + result.stderr + json.dumps(plan)
    for token in token_values(mixed):
        assert token not in everything


def test_no_output_or_ledger_leaks_a_token(mixed: Path) -> None:
    tokens = token_values(mixed)
    outputs = [
        run_cli("upgrade", "-v", "--store", str(mixed)),
        run_cli("history", "-v", "--json", "--store", str(mixed)),
        run_cli("current", "-v", "--store", str(mixed)),
        run_cli("downgrade", "base", "-v", "--json", "--store", str(mixed)),
    ]
    text = "".join(o.stdout + o.stderr for o in outputs)
    text += (mixed / "devices" / "scopemigrate-ledger.json").read_text()
    for token in tokens:
        assert token not in text


def test_json_result_of_upgrade(mixed: Path) -> None:
    result = run_cli("upgrade", "--json", "--store", str(mixed))
    data = json.loads(result.stdout)
    assert data["changed"] is True
    assert data["from_heads"] == [] and data["to_heads"] == ["4f2c19a0b7e1"]
    assert data["pending_removed"] == 2
    history = json.loads(run_cli("history", "--json", "--store", str(mixed)).stdout)
    assert history["revisions"][0]["applied"] is True
    assert [run["direction"] for run in history["runs"]] == ["upgrade"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("truncated", "not valid JSON"),
        ("not-an-object", "expected a JSON object keyed by device id, found an array"),
        (
            "scopes-not-a-list",
            "record 31a26516362262a5cc9331078bce2e53ad724023e222894ff9fb96f18db4d223: "
            "field 'scopes': expected a list of strings, found a string",
        ),
        (
            "key-mismatch",
            "record 2cd7e476b240e9464b9674c7f425eb7f64e07f256a0bcd43e33758f06f6f0b6c: "
            "field 'deviceId'",
        ),
        ("not-utf8", "not UTF-8 text"),
    ],
)
def test_broken_stores_are_refused_unchanged(tmp_path: Path, name: str, expected: str) -> None:
    store = copy_store(f"broken/{name}", tmp_path)
    paired = store / "devices" / "paired.json"
    before = paired.read_bytes()
    for args in (["upgrade"], ["upgrade", "--dry-run"]):
        result = run_cli(*args, "--store", str(store))
        assert result.returncode == 5, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert str(paired) in lines[0]
        assert expected in lines[0]
        assert result.stdout == ""
    assert paired.read_bytes() == before
    assert sorted(p.name for p in (store / "devices").iterdir()) == [
        ".scopemigrate.lock",
        "paired.json",
    ]


def test_missing_store_is_success_with_nothing_to_do(tmp_path: Path) -> None:
    # Found by OpenClaw's own rules, an absent store is a fresh install (a --store
    # naming a path that is not there is a typo: tests/test_hook_safety.py).
    result = run_cli("upgrade", env={"OPENCLAW_STATE_DIR": str(tmp_path / "nowhere")})
    assert result.returncode == 0
    assert "nothing to do" in result.stdout
    assert not (tmp_path / "nowhere").exists()


def test_state_dir_from_environment(mixed: Path) -> None:
    result = run_cli("upgrade", env={"OPENCLAW_STATE_DIR": str(mixed)})
    assert result.returncode == 0, result.stderr
    assert "6 device(s) changed" in result.stdout


def test_store_ahead_of_code(mixed: Path) -> None:
    ledger = mixed / "devices" / "scopemigrate-ledger.json"
    ledger.write_text(json.dumps({"format": 1, "heads": ["feedfacecafe"]}))
    before = (mixed / "devices" / "paired.json").read_bytes()
    result = run_cli("upgrade", "--store", str(mixed))
    assert result.returncode == 8
    assert "feedfacecafe" in result.stderr and "newer release" in result.stderr
    assert (mixed / "devices" / "paired.json").read_bytes() == before


def test_lock_timeout_has_its_own_exit_code(mixed: Path) -> None:
    from filelock import FileLock

    before = (mixed / "devices" / "paired.json").read_bytes()
    with FileLock(str(mixed / "devices" / ".scopemigrate.lock")):
        result = run_cli("upgrade", "--lock-timeout", "0.2", "--store", str(mixed))
    assert result.returncode == 7
    assert "lock" in result.stderr
    assert (mixed / "devices" / "paired.json").read_bytes() == before


def test_python_dash_m_and_version() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "scopemigrate", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "0.1.0" in out.stdout


def test_unknown_target_is_a_clear_error(mixed: Path) -> None:
    result = run_cli("upgrade", "nonesuch", "--store", str(mixed))
    assert result.returncode == 4
    assert "no revision 'nonesuch'" in result.stderr


def test_release_version_target(mixed: Path) -> None:
    early = run_cli("upgrade", "2026.2.15", "--store", str(mixed))
    assert early.returncode == 0 and "nothing to do" in early.stdout
    beta = run_cli("upgrade", "2026.2.19-beta.1", "--json", "--store", str(mixed))
    assert json.loads(beta.stdout)["to_heads"] == ["4f2c19a0b7e1"]
