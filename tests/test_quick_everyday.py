"""The no-op answers of the commands a package runs on every install or start (issue 14).

``sync`` is answered by the quick path as ``hook`` is, with the full command's
exact words; a root run on a user's store settles the rights in the quick
entry and still answers quickly; an SQLite database named by its file is a
store, not "no store yet".
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import run_cli
from sqlstores import make_sqlite
from test_hook import ORIGINAL, assert_repaired
from unprivileged import give_store, reachable_dir, unprivileged_user

from scopemigrate.cli import main as cli_main
from scopemigrate.quick import argv

ROOT = Path(__file__).resolve().parent.parent
RELEASE = "2026.2.19"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OPENCLAW_STATE_DIR", "SCOPEMIGRATE_STORE", "SCOPEMIGRATE_INSTALLED_VERSION"):
        env.pop(name, None)
    return env


def quick(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script's way in, with the modules it imports listed on stderr."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scopemigrate", *args],
        capture_output=True,
        text=True,
        env=_env() | (env or {}),
        check=False,
        timeout=120,
    )


def full(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The full CLI alone, without any quick path."""
    return subprocess.run(
        [sys.executable, "-c", "from scopemigrate.cli import run; run()", *args],
        capture_output=True,
        text=True,
        env=_env() | (env or {}),
        check=False,
        timeout=120,
    )


def took_the_quick_path(done: subprocess.CompletedProcess[str]) -> bool:
    imported = done.stderr
    return "click" not in imported and "pydantic" not in imported


def _lines(done: subprocess.CompletedProcess[str]) -> tuple[int, str]:
    return done.returncode, done.stdout


@pytest.mark.parametrize("extra", [(), ("-q",), ("--dry-run",), ("--no-backup", "-v")])
def test_a_sync_at_the_release_is_answered_quickly_in_the_full_commands_words(
    mixed: Path, extra: tuple[str, ...]
) -> None:
    assert run_cli("sync", "--store", str(mixed), "--installed-version", RELEASE).returncode == 0
    args = ("sync", "--store", str(mixed), "--installed-version", RELEASE, *extra)
    fast, slow = quick(*args), full(*args)
    assert took_the_quick_path(fast), fast.stderr[-2000:]
    assert _lines(fast) == _lines(slow)
    assert fast.returncode == 0
    if "-q" not in extra:
        assert fast.stdout == f"{mixed} already matches release {RELEASE}.\n"


def test_a_fresh_install_sync_is_answered_quickly(tmp_path: Path) -> None:
    env = {"OPENCLAW_STATE_DIR": str(tmp_path / "no-state-yet")}
    args = ("sync", "--installed-version", RELEASE)
    fast, slow = quick(*args, env=env), full(*args, env=env)
    assert took_the_quick_path(fast)
    assert (
        _lines(fast)
        == _lines(slow)
        == (0, f"No device store at {tmp_path / 'no-state-yet'}: nothing to do.\n")
    )
    assert not (tmp_path / "no-state-yet").exists()


@pytest.mark.parametrize("named", ["state dir", "database file", "sqlite url"])
def test_an_sqlite_sync_at_the_release_is_answered_quickly(tmp_path: Path, named: str) -> None:
    state = make_sqlite(tmp_path / "state", ORIGINAL.parent)
    database = state / "state" / "openclaw.sqlite"
    spec = {
        "state dir": str(state),
        "database file": str(database),
        "sqlite url": f"sqlite:{database}",
    }[named]
    assert run_cli("sync", "--store", spec, "--installed-version", RELEASE).returncode == 0
    args = ("sync", "--store", spec, "--installed-version", RELEASE)
    fast, slow = quick(*args), full(*args)
    assert took_the_quick_path(fast), fast.stderr[-2000:]
    assert _lines(fast) == _lines(slow) == (0, f"{database} already matches release {RELEASE}.\n")


def test_a_sync_with_work_is_left_to_the_full_command(mixed: Path) -> None:
    done = quick("sync", "--store", str(mixed), "--installed-version", RELEASE)
    assert done.returncode == 0
    assert not took_the_quick_path(done)
    assert_repaired(mixed)


def test_the_quick_sync_parser_knows_the_sync_options_but_json() -> None:
    command = cli_main.commands["sync"]
    names = {name for p in command.params if isinstance(p, click.Option) for name in p.opts}
    assert set(argv.SYNC_VALUE_OPTIONS) | set(argv.SYNC_FLAG_OPTIONS) | {"--json"} == names
    flags = {
        name
        for p in command.params
        if isinstance(p, click.Option) and (p.is_flag or p.count)
        for name in p.opts
    }
    assert set(argv.SYNC_FLAG_OPTIONS) | {"--json"} == flags


@pytest.mark.parametrize("verb", ["hook", "sync"])
def test_a_database_named_by_its_file_is_a_store_not_a_fresh_install(
    tmp_path: Path, verb: str
) -> None:
    state = make_sqlite(tmp_path / "state", ORIGINAL.parent)
    database = state / "state" / "openclaw.sqlite"
    before = database.read_bytes()
    done = run_cli(verb, "--store", str(database), "--installed-version", RELEASE)
    assert done.returncode == 0, done.stderr
    assert database.read_bytes() != before  # migrated, not "nothing to do"
    again = run_cli("current", "--store", str(database), "--json")
    # The shipped chain at 2026.2.19 ends with M1 revised.
    assert json.loads(again.stdout)["heads"] == ["a1d7e5c39b20"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the ownership case is root's")
@pytest.mark.parametrize("verb", ["hook", "sync"])
def test_root_on_a_users_store_at_the_release_is_answered_quickly(verb: str) -> None:
    user = unprivileged_user()
    with reachable_dir() as shared:
        store = give_store("2026.2.15-mixed", shared, user)
        first = run_cli("hook", "--store", str(store), "--installed-version", RELEASE)
        assert first.returncode == 0, first.stderr
        args = (verb, "--store", str(store), "--installed-version", RELEASE, "-q")
        done = quick(*args)
        assert (done.returncode, done.stdout) == (0, "")
        assert took_the_quick_path(done), done.stderr[-2000:]
        owners = {(p.stat().st_uid, p.stat().st_gid) for p in [store, *store.rglob("*")]}
        assert owners == {(user.pw_uid, user.pw_gid)}


@pytest.mark.skipif(os.geteuid() != 0, reason="the ownership case is root's")
def test_a_root_hook_with_work_after_the_quick_child_declined_acts_as_the_owner() -> None:
    """The quick answer's child (with the owner's rights) cannot vouch; the full run
    that follows, in the parent that kept root, settles the rights and does the work."""
    user = unprivileged_user()
    with reachable_dir() as shared:
        store = give_store("2026.2.15-mixed", shared, user)
        done = quick("hook", "--store", str(store), "--installed-version", RELEASE)
        assert done.returncode == 0, done.stderr[-2000:]
        assert_repaired(store)
        owners = {p.stat().st_uid for p in [store, *store.rglob("*")]}
        assert owners == {user.pw_uid}
        assert pwd.getpwuid(store.stat().st_uid).pw_name == user.pw_name


def test_the_startup_benchmark_reports_every_no_op_against_the_interpreter() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "startup.py"), "--rounds", "1", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout)
    for name in ("hook", "sync", "upgrade_head", "current"):
        assert report[f"{name}_noop_ms"] > 0, name
        assert report[f"{name}_vs_python"] > 0, name
    assert report["targets"]["hook_vs_python"] == report["targets"]["sync_vs_python"] == 3.0


# What the no-ops of hook and sync must not load: each costs the interpreter's
# start a noticeable share (measured by benchmarks/startup.py), and a plain
# no-op needs none of them.
HEAVY = ("re", "tomllib", "typing", "pathlib", "dataclasses", "json", "enum", "packaging")


def imported_modules(done: subprocess.CompletedProcess[str]) -> set[str]:
    """The modules ``-X importtime`` reports as imported."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize("verb", ["hook", "sync"])
def test_a_plain_no_op_loads_no_heavy_module(mixed: Path, tmp_path: Path, verb: str) -> None:
    assert run_cli("hook", "--store", str(mixed), "--installed-version", RELEASE).returncode == 0
    args = [verb, "--store", str(mixed), "--installed-version", RELEASE, "-q"]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scopemigrate", *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,  # no configuration file in view, as in a postinst
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = imported_modules(done)
    assert "scopemigrate.quick.verdicts" in loaded  # it was the quick answer
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}, sorted(loaded)


def test_the_quick_current_parser_knows_the_current_options_but_json_and_verbose() -> None:
    command = cli_main.commands["current"]
    click_names = {name for p in command.params if isinstance(p, click.Option) for name in p.opts}
    left_to_the_full_cli = {"--json", "-v", "--verbose"}
    assert (
        set(argv.CURRENT_VALUE_OPTIONS) | set(argv.CURRENT_FLAG_OPTIONS)
        == click_names - left_to_the_full_cli
    )
    assert left_to_the_full_cli <= click_names


@pytest.mark.parametrize("state", ["no store", "nothing applied", "at the release", "at head"])
@pytest.mark.parametrize("extra", [(), ("-q",)])
def test_current_is_answered_quickly_in_the_full_commands_words(
    mixed: Path, tmp_path: Path, state: str, extra: tuple[str, ...]
) -> None:
    store = tmp_path / "absent" if state == "no store" else mixed
    env = {"OPENCLAW_STATE_DIR": str(store)}  # an absent default store is no error
    if state == "at the release":
        assert run_cli("hook", "--installed-version", RELEASE, env=env).returncode == 0
    if state == "at head":
        assert run_cli("upgrade", "head", "-q", env=env).returncode == 0
    quick_done, full_done = quick("current", *extra, env=env), full("current", *extra, env=env)
    assert took_the_quick_path(quick_done), quick_done.stderr[-2000:]
    assert _lines(quick_done) == _lines(full_done)
    assert quick_done.returncode == 0 and (bool(quick_done.stdout) == (not extra))


@pytest.mark.parametrize("extra", [("--json",), ("-v",)])
def test_current_with_json_or_verbose_is_left_to_the_full_command(
    mixed: Path, extra: tuple[str, ...]
) -> None:
    assert run_cli("hook", "--store", str(mixed), "--installed-version", RELEASE).returncode == 0
    done = quick("current", "--store", str(mixed), *extra)
    assert done.returncode == 0 and not took_the_quick_path(done)


def test_the_quick_history_parser_knows_the_history_options_but_four() -> None:
    command = cli_main.commands["history"]
    click_names = {name for p in command.params if isinstance(p, click.Option) for name in p.opts}
    left_to_the_full_cli = {"--json", "-v", "--verbose", "-r", "--rev-range"}
    assert (
        set(argv.HISTORY_VALUE_OPTIONS) | set(argv.HISTORY_FLAG_OPTIONS)
        == click_names - left_to_the_full_cli
    )
    assert left_to_the_full_cli <= click_names


@pytest.mark.parametrize("state", ["no store", "at the release"])
@pytest.mark.parametrize("extra", [(), ("-i",), ("-q",)])
def test_history_is_answered_quickly_in_the_full_commands_words(
    mixed: Path, tmp_path: Path, state: str, extra: tuple[str, ...]
) -> None:
    store = tmp_path / "absent" if state == "no store" else mixed
    env = {"OPENCLAW_STATE_DIR": str(store)}
    if state == "at the release":
        assert run_cli("hook", "--installed-version", RELEASE, env=env).returncode == 0
    quick_done, full_done = quick("history", *extra, env=env), full("history", *extra, env=env)
    assert took_the_quick_path(quick_done), quick_done.stderr[-2000:]
    assert _lines(quick_done) == _lines(full_done)
    assert quick_done.returncode == 0 and bool(quick_done.stdout) == (extra != ("-q",))
    assert ("(current)" in quick_done.stdout) == (extra == ("-i",) and state != "no store")
