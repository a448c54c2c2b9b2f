"""The post-install hook and ``sync``, through the installed CLI, and the integration
examples of docs/integration.md run for real (npm, Debian postinst, systemd, Python)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from conftest import FIXTURES, cli_path, load_json, run_cli, token_values
from filelock import FileLock
from sqlstores import make_sqlite

from scopemigrate import commands
from scopemigrate.cli import main as cli_main
from scopemigrate.config import load_config
from scopemigrate.quick.argv import FLAG_OPTIONS, VALUE_OPTIONS
from scopemigrate.quick.argv import parse_options as parse_hook_args
from scopemigrate.quick.verdicts import at_release as already_synced

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "integration"
EXPECTED = FIXTURES / "2026.2.15-mixed" / "expected-2026.2.19" / "devices"
ORIGINAL = FIXTURES / "2026.2.15-mixed" / "devices"


def hook(
    store: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli("hook", "--store", str(store), *args, env=env)


def store_bytes(store: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((store / "devices").glob("*.json"))}


def assert_repaired(store: Path) -> None:
    for name in ("paired.json", "pending.json"):
        assert (store / "devices" / name).read_bytes() == (EXPECTED / name).read_bytes(), name


def assert_original(store: Path) -> None:
    for name in ("paired.json", "pending.json"):
        assert (store / "devices" / name).read_bytes() == (ORIGINAL / name).read_bytes(), name


def test_a_fresh_install_is_quiet_success(tmp_path: Path) -> None:
    # Found by OpenClaw's own rules (a --store naming a missing path is an error).
    env = {"OPENCLAW_STATE_DIR": str(tmp_path / "no-state-yet")}
    result = run_cli("hook", "--installed-version", "2026.2.19", env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert not (tmp_path / "no-state-yet").exists()


def test_repairs_once_in_one_line_then_stays_quiet(mixed: Path) -> None:
    first = hook(mixed, "--installed-version", "2026.2.19")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == 1 and "release 2026.2.19" in lines[0] and "6 device(s)" in lines[0]
    assert not any(token in first.stdout + first.stderr for token in token_values(mixed))
    assert_repaired(mixed)
    before = {p: p.stat().st_mtime_ns for p in (mixed / "devices").glob("*.json")}
    again = hook(mixed, "--installed-version", "2026.2.19")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert before == {p: p.stat().st_mtime_ns for p in (mixed / "devices").glob("*.json")}


def test_the_quick_answer_is_the_full_answer_and_skips_pydantic(mixed: Path) -> None:
    assert hook(mixed, "--installed-version", "2026.2.19").returncode == 0
    args = ["hook", "--store", str(mixed), "--installed-version", "2026.2.19", "--json"]
    quick = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scopemigrate", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "pydantic" not in quick.stderr and "click" not in quick.stderr
    full = subprocess.run(
        [sys.executable, "-c", "from scopemigrate.cli import run; run()", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(quick.stdout) == json.loads(full.stdout)
    assert json.loads(quick.stdout)["changed"] is False


def test_the_quick_parser_knows_exactly_the_hook_options() -> None:
    command = cli_main.commands["hook"]
    click_names = {name for p in command.params if isinstance(p, click.Option) for name in p.opts}
    assert set(VALUE_OPTIONS) | set(FLAG_OPTIONS) == click_names
    flags = {
        name
        for p in command.params
        if isinstance(p, click.Option) and (p.is_flag or p.count)
        for name in p.opts
    }
    assert set(FLAG_OPTIONS) == flags
    assert parse_hook_args(["--store=x", "--json", "--migrations", "a", "--migrations", "b"]) == {
        "--store": ["x"],
        "--json": [""],
        "--migrations": ["a", "b"],
    }
    for unusual in (["--store"], ["-vv"], ["--json=1"], ["--help"], ["extra"]):
        assert parse_hook_args(unusual) is None, unusual


def test_package_downgrade_rolls_back_without_the_newer_files(mixed: Path, tmp_path: Path) -> None:
    assert hook(mixed, "--installed-version", "2026.2.19").returncode == 0
    older_package = tmp_path / "older-package-migrations"
    older_package.mkdir()  # 2026.2.15 shipped no migration at all
    down = hook(mixed, "--installed-version", "2026.2.15", "--migrations", str(older_package))
    assert down.returncode == 0, down.stderr
    assert "release 2026.2.15" in down.stdout and len(down.stdout.splitlines()) == 1
    assert_original(mixed)
    assert load_json(mixed / "devices" / "scopemigrate-ledger.json")["heads"] == []


@pytest.mark.parametrize(
    ("version", "migrated"),
    [("2026.2.19-beta.1", True), ("2026.2.19-2", True), ("2026.2.18", False), ("2026.3.1", True)],
)
def test_prereleases_and_correction_builds(mixed: Path, version: str, migrated: bool) -> None:
    result = run_cli("sync", "--store", str(mixed), "--installed-version", version, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["changed"] is migrated and report["installed"] == version
    (assert_repaired if migrated else assert_original)(mixed)


def test_a_store_ahead_of_the_code_says_what_to_do(mixed: Path) -> None:
    ledger = {"format": 1, "heads": ["f00dfeed"], "applied": {}, "history": []}
    (mixed / "devices" / "scopemigrate-ledger.json").write_text(json.dumps(ledger))
    before = store_bytes(mixed)
    result = hook(mixed, "--installed-version", "2026.2.19")
    assert result.returncode == 8
    assert "f00dfeed" in result.stderr and "install that release" in result.stderr
    assert store_bytes(mixed) == before


def test_the_lock_wait_is_bounded(mixed: Path) -> None:
    before = store_bytes(mixed)
    with FileLock(str(mixed / "devices" / ".scopemigrate.lock")):
        started = time.monotonic()
        result = hook(mixed, "--installed-version", "2026.2.19", "--timeout", "0.5")
        elapsed = time.monotonic() - started
    assert result.returncode == 7 and "lock" in result.stderr
    assert elapsed < 20  # bounded by --timeout, not by the default of 30 s
    assert store_bytes(mixed) == before


def test_bad_versions_are_a_configuration_error(mixed: Path) -> None:
    before = store_bytes(mixed)
    result = hook(mixed, "--installed-version", "twenty-six")
    assert result.returncode == 3 and "twenty-six" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert store_bytes(mixed) == before


def test_the_last_resort_version_warns(mixed: Path, tmp_path: Path) -> None:
    env = {"PATH": str(Path(cli_path()).parent), "HOME": str(tmp_path)}
    result = hook(mixed, env=env)  # only openclaw.json says 2026.2.15
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.startswith("warning:") and "lastTouchedVersion" in result.stderr


# -- the integration examples, run for real ----------------------------------------


def integration_env(store: Path, tmp_path: Path, extra_path: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SCOPEMIGRATE_STORE", None)
    paths = [str(extra_path)] if extra_path else []
    env["PATH"] = os.pathsep.join([*paths, str(Path(cli_path()).parent), env.get("PATH", "")])
    env["OPENCLAW_STATE_DIR"] = str(store)
    env["HOME"] = str(tmp_path / "home")
    return env


def test_docs_show_every_example_verbatim() -> None:
    page = (ROOT / "docs" / "integration.md").read_text(encoding="utf-8")
    for example in sorted(p for p in EXAMPLES.rglob("*") if p.is_file()):
        assert example.read_text(encoding="utf-8").rstrip() in page, example


def test_npm_postinstall_repairs_the_store(mixed: Path, tmp_path: Path) -> None:
    assert shutil.which("npm"), "this test needs npm (.ci/run installs it)"
    env = integration_env(mixed, tmp_path)
    env["npm_config_cache"] = str(tmp_path / "npm-cache")
    package = tmp_path / "package"
    shutil.copytree(EXAMPLES / "npm-package", package)
    subprocess.run(
        ["npm", "pack", str(package), "--pack-destination", str(tmp_path)],
        env=env,
        check=True,
        capture_output=True,
    )
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "app", "version": "1.0.0", "private": true}')
    install = subprocess.run(
        [
            "npm",
            "install",
            "--offline",
            "--no-audit",
            "--no-fund",
            "--foreground-scripts",
            str(tmp_path / "openclaw-2026.2.19.tgz"),
        ],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert "brought to release 2026.2.19" in install.stdout + install.stderr
    assert_repaired(mixed)


def test_debian_postinst_repairs_the_store(mixed: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dpkg_query = bin_dir / "dpkg-query"
    dpkg_query.write_text("#!/bin/sh\nprintf '2026.2.19'\n")  # as for: -W -f='${Version}' openclaw
    dpkg_query.chmod(0o755)
    env = integration_env(mixed, tmp_path, bin_dir)
    for _ in range(2):  # dpkg may configure twice; the second run changes nothing
        done = subprocess.run(
            ["sh", str(EXAMPLES / "debian" / "postinst"), "configure", "2026.2.15"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert_repaired(mixed)
    assert done.stdout == ""


def test_systemd_exec_start_pre_repairs_the_store(mixed: Path, tmp_path: Path) -> None:
    unit = (EXAMPLES / "systemd" / "openclaw-gateway.service").read_text()
    line = re.search(r"^ExecStartPre=(\S+) (.*)$", unit, re.MULTILINE)
    assert line and line.group(1).endswith("/scopemigrate")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "openclaw"
    program.write_text("#!/bin/sh\necho 'OpenClaw 2026.2.19 (abc1234)'\n")
    program.chmod(0o755)
    env = integration_env(mixed, tmp_path, bin_dir)
    done = subprocess.run(
        [cli_path(), *line.group(2).split()], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "brought to release 2026.2.19" in done.stdout
    assert_repaired(mixed)


def test_python_application_repairs_the_store_at_start(mixed: Path, tmp_path: Path) -> None:
    env = integration_env(mixed, tmp_path)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "python" / "app.py")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "brought to release 2026.2.19" in done.stdout
    assert_repaired(mixed)


def test_the_startup_benchmark_runs_and_reports_ratios() -> None:
    """The benchmark itself must keep working; its numbers are read, not asserted."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "startup.py"), "--rounds", "1", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout)
    assert {"hook_vs_python", "hook_vs_stack_import", "hook_vs_full_cli"} <= set(report)
    assert all(report[f"{name}_ms"] > 0 for name in ("python", "hook_noop", "full_cli_noop"))


@pytest.mark.parametrize("at_head", [False, True])
@pytest.mark.parametrize(
    "version",
    ["2026.2.15", "2026.2.18", "2026.2.19-beta.1", "2026.2.19", "2026.2.19-2", "2027.1.1"],
)
@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_the_quick_verdict_agrees_with_a_full_dry_run(
    mixed: Path, tmp_path: Path, version: str, at_head: bool, kind: str
) -> None:
    store = mixed if kind == "json" else make_sqlite(tmp_path / "sqlite-state", ORIGINAL.parent)
    config = load_config(store=str(store), env={})
    if at_head:
        commands.upgrade(config, "head")
    synced, _ = already_synced(config, version)
    assert synced == (not commands.sync(config, version, dry_run=True).runs)
