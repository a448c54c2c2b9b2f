"""Small things of issue 17, each with the test that shows it fixed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import cli_path, copy_store, run_cli

from scopemigrate import authoring
from scopemigrate.errors import ConfigError


def test_python_dash_m_version_names_scopemigrate() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scopemigrate", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("scopemigrate, version ")


def test_a_truncated_string_reads_starting_at_line(tmp_path: Path) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path)
    (store / "devices" / "paired.json").write_text('{"a": {"deviceId": "x')
    done = run_cli("upgrade", "--store", str(store))
    assert done.returncode == 5
    assert "starting at line 1 column" in done.stderr and "at at" not in done.stderr


def test_init_with_a_folder_after_init_points_the_configuration_at_it(tmp_path: Path) -> None:
    authoring.init(Path("migrations"), tmp_path)
    result = authoring.init(Path("scopes"), tmp_path)
    config = tomllib.loads((tmp_path / "scopemigrate.toml").read_text())
    assert config["locations"] == ["scopes"] and (tmp_path / "scopes").is_dir()
    assert any("locations: scopes" in item for item in result.created)
    done = subprocess.run(
        [cli_path(), "revision", "-m", "m", "--release", "2026.3.1", "--grant", "operator:x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0 and "/scopes/" in done.stdout


def test_init_never_repoints_a_configuration_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.scopemigrate]\nlocations = ["migrations"]\n')
    before = (tmp_path / "pyproject.toml").read_bytes()
    with pytest.raises(ConfigError, match="does not include 'scopes'"):
        authoring.init(Path("scopes"), tmp_path)
    assert (tmp_path / "pyproject.toml").read_bytes() == before
    assert not (tmp_path / "scopes").exists()  # refused before anything was created


@pytest.mark.parametrize("command", [("heads",), ("check",), ("merge", "-m", "m"), ("show", "x")])
def test_graph_commands_take_no_lock_timeout(command: tuple[str, ...]) -> None:
    done = run_cli(*command, "--lock-timeout", "3")
    assert done.returncode == 2 and "--lock-timeout" in done.stderr


@pytest.mark.parametrize("command", ["heads", "check", "merge"])
def test_commands_that_read_no_store_do_not_offer_one(command: str) -> None:
    shown = run_cli(command, "--help").stdout
    assert "--store" not in shown and "--lock-timeout" not in shown


def test_hook_has_one_timeout_and_keeps_the_old_name_hidden(tmp_path: Path) -> None:
    shown = run_cli("hook", "--help").stdout
    assert "--timeout" in shown and "--lock-timeout" not in shown
    store = copy_store("2026.2.15-mixed", tmp_path)
    args = ("hook", "--installed-version", "2026.2.19", "--store", str(store))
    clash = run_cli(*args, "--lock-timeout", "5", "--timeout", "6")
    assert clash.returncode == 2 and "give one of them" in clash.stderr
    old = run_cli(*args, "--lock-timeout", "5")
    assert old.returncode == 0 and "deprecated; use --timeout" in old.stderr
