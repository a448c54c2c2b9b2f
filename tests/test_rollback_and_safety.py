"""Exact rollback, stamp, verify, backups, symlinks and crash recovery of the JSON store."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from conftest import FIXTURES, copy_store, load_json
from conftest import run_first as run_cli

from scopemigrate import commands
from scopemigrate.config import load_config

CLI_DEVICE = "31a26516362262a5cc9331078bce2e53ad724023e222894ff9fb96f18db4d223"
PHONE = "45569da57f4b7bf472d7a864ef4781451cae6383fee9fb0ae40c59aa1ce475b7"
LEDGER = "scopemigrate-ledger.json"


def paired(store: Path) -> dict[str, dict]:
    return load_json(store / "devices" / "paired.json")


def write_paired(store: Path, data: dict[str, dict]) -> None:
    (store / "devices" / "paired.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))


def test_downgrade_keeps_scopes_held_before_and_granted_after(mixed: Path) -> None:
    data = paired(mixed)
    # Held before the upgrade: the upgrade adds only operator.write here.
    data[CLI_DEVICE]["scopes"].append("operator.read")
    write_paired(mixed, data)
    assert run_cli("upgrade", "--store", str(mixed)).returncode == 0
    data = paired(mixed)
    # Granted by hand after the upgrade, and a device paired after it.
    data[PHONE]["scopes"].append("operator.talk")
    newcomer = json.loads(json.dumps(data[CLI_DEVICE]))
    newcomer["deviceId"] = "f" * 64
    data["f" * 64] = newcomer
    write_paired(mixed, data)
    assert run_cli("downgrade", "base", "--store", str(mixed)).returncode == 0
    after = paired(mixed)
    assert after[CLI_DEVICE]["scopes"][-1] == "operator.read"
    assert "operator.write" not in after[CLI_DEVICE]["scopes"]
    assert "operator.talk" in after[PHONE]["scopes"]
    assert "operator.write" not in after[PHONE]["scopes"]
    assert after["f" * 64] == newcomer  # never part of the provenance: untouched


def test_downgrade_works_after_the_migration_files_are_gone(mixed: Path, tmp_path: Path) -> None:
    assert run_cli("upgrade", "--store", str(mixed)).returncode == 0
    empty = tmp_path / "older-package-migrations"
    empty.mkdir()
    current = run_cli("current", "--json", "--migrations", str(empty), "--store", str(mixed))
    assert json.loads(current.stdout)["heads"] == ["4f2c19a0b7e1"]
    down = run_cli("downgrade", "base", "--migrations", str(empty), "--store", str(mixed))
    assert down.returncode == 0, down.stderr
    original = FIXTURES / "2026.2.15-mixed" / "devices" / "paired.json"
    assert (mixed / "devices" / "paired.json").read_bytes() == original.read_bytes()


def test_stamp_records_without_touching_devices_and_verify_reports(mixed: Path) -> None:
    before = (mixed / "devices" / "paired.json").read_bytes()
    stamped = run_cli("stamp", "head", "--json", "--store", str(mixed))
    assert stamped.returncode == 0, stamped.stderr
    assert json.loads(stamped.stdout)["to_heads"] == ["4f2c19a0b7e1"]
    assert (mixed / "devices" / "paired.json").read_bytes() == before
    # Stamped but not migrated: verify lists the six devices and fails with its own code.
    checked = run_cli("verify", "--json", "--store", str(mixed))
    assert checked.returncode == 10
    report = json.loads(checked.stdout)
    assert report["ok"] is False and len(report["devices"]) == 6
    assert "do not satisfy" in checked.stderr
    # Back to base by stamp, then a real upgrade: verify passes.
    assert run_cli("stamp", "base", "--store", str(mixed)).returncode == 0
    assert run_cli("upgrade", "--store", str(mixed)).returncode == 0
    ok = run_cli("verify", "--store", str(mixed))
    assert ok.returncode == 0 and "satisfies" in ok.stdout


def test_backups_are_private_bounded_and_optional(mixed: Path) -> None:
    original = (mixed / "devices" / "paired.json").read_bytes()
    assert run_cli("upgrade", "--store", str(mixed)).returncode == 0
    root = mixed / "devices" / "scopemigrate-backups"
    (first,) = list(root.iterdir())
    assert (first / "paired.json").read_bytes() == original
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    for f in first.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    for _ in range(4):
        assert run_cli("downgrade", "base", "--store", str(mixed)).returncode == 0
        assert run_cli("upgrade", "--store", str(mixed)).returncode == 0
    assert len(list(root.iterdir())) == 5  # the bound
    shutil.rmtree(root)
    assert run_cli("downgrade", "base", "--no-backup", "--store", str(mixed)).returncode == 0
    assert not root.exists()


def test_symlinked_paired_json_is_refused(tmp_path: Path) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path)
    elsewhere = tmp_path / "someone-elses.json"
    shutil.move(store / "devices" / "paired.json", elsewhere)
    os.symlink(elsewhere, store / "devices" / "paired.json")
    before = elsewhere.read_bytes()
    result = run_cli("upgrade", "--store", str(store))
    assert result.returncode == 5
    assert "symbolic link" in result.stderr
    assert elsewhere.read_bytes() == before


def test_recovery_rolls_back_an_unpublished_commit(mixed: Path) -> None:
    """A journal whose first temp file still exists: nothing was published."""
    devices = mixed / "devices"
    original = (devices / "paired.json").read_bytes()
    tmp = devices / ".paired.json.deadbeef.scopemigrate-tmp"
    tmp.write_text("{}")
    journal = {"files": [{"name": "paired.json", "tmp": tmp.name, "old": None}]}
    (devices / "scopemigrate-journal.json").write_text(json.dumps(journal))
    result = run_cli("verify", "--store", str(mixed))
    assert result.returncode == 0, result.stderr
    assert (devices / "paired.json").read_bytes() == original
    assert not tmp.exists() and not (devices / "scopemigrate-journal.json").exists()


def test_recovery_rolls_forward_a_published_commit(mixed: Path) -> None:
    """paired.json already replaced, ledger not yet: the next run completes the commit."""
    devices = mixed / "devices"
    expected = FIXTURES / "2026.2.15-mixed" / "expected-2026.2.19" / "devices" / "paired.json"
    shutil.copy(expected, devices / "paired.json")
    ledger_tmp = devices / ".scopemigrate-ledger.json.cafe.scopemigrate-tmp"
    ledger_tmp.write_text(json.dumps({"format": 1, "heads": ["4f2c19a0b7e1"]}))
    journal = {
        "files": [
            {"name": "paired.json", "tmp": ".paired.json.gone.scopemigrate-tmp", "old": None},
            {"name": LEDGER, "tmp": ledger_tmp.name, "old": None},
        ]
    }
    (devices / "scopemigrate-journal.json").write_text(json.dumps(journal))
    result = run_cli("upgrade", "--json", "--store", str(mixed))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["changed"] is False  # already at head once recovered
    assert load_json(devices / LEDGER)["heads"] == ["4f2c19a0b7e1"]


def test_backup_keeps_the_bytes_read_when_a_gateway_replaced_the_file(
    mixed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux will not link a file a concurrent rename just unlinked (ENOENT)."""
    pending_before = (mixed / "devices" / "pending.json").read_bytes()
    real_link = os.link

    def racing_link(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        if Path(src).name == "pending.json":
            raise FileNotFoundError(2, "No such file or directory", str(src))
        real_link(src, dst)

    monkeypatch.setattr(os, "link", racing_link)
    result = commands.upgrade(load_config(store=str(mixed), env={}), "head")
    assert result.changed
    (backup,) = (mixed / "devices" / "scopemigrate-backups").iterdir()
    assert (backup / "pending.json").read_bytes() == pending_before
    assert stat.S_IMODE((backup / "pending.json").stat().st_mode) == 0o600
