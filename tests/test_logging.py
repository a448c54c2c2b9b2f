"""The ``scopemigrate`` logger: silent unless asked, says what a run did, never a secret."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, copy_store, run_cli, token_values
from sqlstores import load_postgres

from scopemigrate import commands
from scopemigrate.config import load_config
from scopemigrate.logs import LOGGER_NAME
from scopemigrate.stores.openclaw_json.journal import Journal

INSTALL = ("--installed-version", "2026.2.19")
# the first revision alone: the one that edits devices (head goes on to checkpoints)
FIRST = "4f2c19a0b7e1"


def test_the_library_is_quiet_by_default(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # No logging configured: even a WARNING (a recovered commit) stays unprinted, which
    # Python's last-resort handler would print to stderr without our NullHandler.
    code = (
        "import logging, scopemigrate.run\n"
        "logging.getLogger('scopemigrate.stores.openclaw_json.store').warning('recovered')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == ""
    store = copy_store("2026.2.15-mixed", tmp_path)
    commands.upgrade(load_config(store=str(store)), "head")
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_an_application_sees_the_plan_the_counts_the_commit_and_the_backup(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path)
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        result = commands.upgrade(load_config(store=str(store)), FIRST)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith(LOGGER_NAME)]
    (rev,) = result.revisions
    assert any(f"upgrade from base to {rev}: {rev}" in m for m in messages), messages
    assert f"revision {rev}: 6 device(s) edited, 2 repair request(s) removed" in messages
    assert any("the replaced files are kept in" in m for m in messages)
    assert any(m.endswith(f"committed: 6 device(s) changed, now at {rev}") for m in messages)
    secrets = token_values(store)
    assert secrets and not any(secret in caplog.text for secret in secrets)


def test_a_recovered_commit_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path)
    published: list[object] = []
    publish = Journal._publish

    def killed_after_the_first(self: Journal, file: Any, *a: Any, **k: Any) -> None:
        if published:
            raise KeyboardInterrupt  # the run dies between two files, journal written
        published.append(file)
        publish(self, file, *a, **k)

    monkeypatch.setattr(Journal, "_publish", killed_after_the_first)
    with pytest.raises(KeyboardInterrupt):
        commands.upgrade(load_config(store=str(store)), "head")
    monkeypatch.setattr(Journal, "_publish", publish)
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        commands.current(load_config(store=str(store)))  # reads only: no lock, no recovery
        assert not caplog.records
        commands.upgrade(load_config(store=str(store)), "head")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [w.getMessage().endswith("rolled forward") for w in warnings] == [True]


def test_dash_v_logs_the_run_on_stderr(tmp_path: Path) -> None:
    store = str(copy_store("2026.2.15-mixed", tmp_path))
    quiet = run_cli("sync", *INSTALL, "--dry-run", "--store", store)
    assert quiet.returncode == 0 and quiet.stderr == ""
    once = run_cli("sync", *INSTALL, "--dry-run", "--store", store, "-v")
    assert "scopemigrate: INFO: " in once.stderr and "dry run: nothing written" in once.stderr
    assert "DEBUG" not in once.stderr
    assert "scopemigrate:" not in once.stdout  # stdout stays the command's own output


def test_dash_vv_logs_each_statement_and_never_a_password(pg_url: str) -> None:
    load_postgres(pg_url, FIXTURES / "2026.2.15-mixed")
    with_password = pg_url.replace("postgres@", "postgres:hunter2secret@", 1)
    once = run_cli("upgrade", "head", "--dry-run", "--store", with_password, "-v")
    assert "dry run, rolled back" in once.stderr and "DEBUG" not in once.stderr
    twice = run_cli("upgrade", FIRST, "--store", with_password, "-vv")
    assert twice.returncode == 0, twice.stderr
    assert "scopemigrate: DEBUG: revision " in twice.stderr and "edit(s)" in twice.stderr
    assert ":***@" in twice.stderr and "committed: 6 device(s) changed" in twice.stderr
    assert "hunter2secret" not in once.stderr + twice.stderr + twice.stdout
