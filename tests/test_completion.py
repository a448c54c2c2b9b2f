"""Shell completion through the installed entry point (``scopemigrate.quick:main``).

A shell asks with ``_SCOPEMIGRATE_COMPLETE=bash_complete`` (``zsh_complete``,
``fish_complete``) and the words typed in ``COMP_WORDS``/``COMP_CWORD``; each
answer line is ``type,value`` for bash (zsh adds each value's help line).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIRST_CHAIN, run_cli

from scopemigrate.cli.completion import COMPLETE_VAR
from scopemigrate.migration_files import MigrationFiles, shipped_migrations_dir


def ask(words: str, shell: str = "bash", argv: tuple[str, ...] = ()) -> list[str]:
    """The completion lines for ``words`` (the word under the cursor is the last)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {COMPLETE_VAR: f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    answered = run_cli(*argv, env=env)
    assert answered.returncode == 0 and answered.stderr == "", answered.stderr
    return answered.stdout.splitlines()


@pytest.fixture(scope="module")
def branches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two branches from base, labelled alpha and beta: {label: revision}."""
    migrations = tmp_path_factory.mktemp("branches")
    found: dict[str, str] = {"dir": str(migrations)}
    for label in ("alpha", "beta"):
        written = run_cli(
            "revision",
            *("-m", f"{label} scopes", "--release", "2026.3.1", "--head", "base"),
            *("--branch-label", label, "--grant", f"operator:operator.{label}"),
            *("--migrations", str(migrations), "--json"),
        )
        assert written.returncode == 0, written.stderr
        found[label] = written.stdout.split('"revision": "')[1][:12]
    return found


def test_upgrade_completes_heads_revisions_and_labels(branches: dict[str, str]) -> None:
    lines = ask(f"scopemigrate upgrade --migrations {branches['dir']} ")
    assert lines[:2] == ["plain,head", "plain,heads"]
    assert {f"plain,{branches['alpha']}", f"plain,{branches['beta']}"} <= set(lines)
    assert {"plain,alpha", "plain,beta"} <= set(lines)
    assert "plain,base" not in lines  # upgrading to base names nothing to do


def test_each_command_offers_the_names_it_takes(branches: dict[str, str]) -> None:
    where = f"--migrations {branches['dir']}"
    names = {
        "downgrade": ["base"],
        "stamp": ["head", "heads", "base"],
        "show": ["head", "current"],
        "merge": [],
        "revision --head": ["base"],
    }
    for command, offered in names.items():
        lines = ask(f"scopemigrate {command.split()[0]} {where} {' '.join(command.split()[1:])} ")
        shown = [line.split(",", 1)[1] for line in lines]
        assert shown[: len(offered)] == offered, command
        assert branches["alpha"] in shown and "beta" in shown, command


def test_the_word_typed_narrows_and_zsh_gets_each_revision_described(
    branches: dict[str, str],
) -> None:
    assert ask(f"scopemigrate downgrade --migrations {branches['dir']} al") == ["plain,alpha"]
    zsh = ask(f"scopemigrate stamp --migrations {branches['dir']} {branches['beta'][:6]}", "zsh")
    assert zsh == ["plain", branches["beta"], "2026.3.1: beta scopes"]


def test_the_configured_files_are_completed_by_default() -> None:
    lines = ask("scopemigrate upgrade ")
    for rev in MigrationFiles([shipped_migrations_dir()]).graph().migrations:
        assert f"plain,{rev}" in lines


def test_files_that_do_not_load_complete_to_the_names_alone(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("revision = [")
    assert ask(f"scopemigrate stamp --migrations {tmp_path} ") == [
        "plain,head",
        "plain,heads",
        "plain,base",
    ]


def test_a_request_reaches_click_past_the_quick_paths_and_under_python_m() -> None:
    # The console script answers hook, sync and upgrade head quickly: a request
    # holding such words still gets click's answer.
    # (FIRST_CHAIN: no revision id there begins with "h" or "b".)
    words = f"scopemigrate upgrade --migrations {FIRST_CHAIN} h"
    assert ask(words, argv=("hook",)) == ["plain,head", "plain,heads"]
    env = dict(os.environ, **{COMPLETE_VAR: "bash_complete"})
    env.update(COMP_WORDS=f"scopemigrate downgrade --migrations {FIRST_CHAIN} b", COMP_CWORD="4")
    answered = subprocess.run(
        [sys.executable, "-m", "scopemigrate"], env=env, capture_output=True, text=True, check=False
    )
    assert answered.stdout.splitlines() == ["plain,base"], answered.stderr
