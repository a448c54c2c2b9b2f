"""Every option that an environment variable stands in for names it in ``--help``.

The variables are read by the configuration (``config.load_config``,
``installed``, ``ownership``), which orders the layers and names the variable
in its errors; click only shows them. Both halves are checked through the
installed CLI: the help names each variable, and each named variable is the
one the tool reads (its error names the variable, not the option).
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from conftest import run_cli

from scopemigrate.cli import EnvOption, main

# The variable, a value the tool refuses, a command reading it, the exit code
# and what its one error line says.
READ = {
    "SCOPEMIGRATE_STORE": ("{tmp}/no-store", "current", 6, "{tmp}/no-store: no such file"),
    "SCOPEMIGRATE_LOCATIONS": ("{tmp}/no-dir", "heads", 4, "{tmp}/no-dir: migration location"),
    "SCOPEMIGRATE_CONFIG": ("{tmp}/no.toml", "heads", 3, "{tmp}/no.toml: cannot read"),
    "SCOPEMIGRATE_LOCK_TIMEOUT": ("soon", "current", 3, "SCOPEMIGRATE_LOCK_TIMEOUT: 'soon'"),
    "SCOPEMIGRATE_AS_USER": (
        "no-such-user-x",
        "current",
        3,
        "SCOPEMIGRATE_AS_USER no-such-user-x: no such user",
    ),
    "SCOPEMIGRATE_INSTALLED_VERSION": ("banana", "sync", 3, "SCOPEMIGRATE_INSTALLED_VERSION:"),
}


def named_in_help() -> dict[str, set[str]]:
    """Each variable the CLI shows, with the commands whose options show it."""
    found: dict[str, set[str]] = {}
    assert isinstance(main, click.Group)
    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param, EnvOption) and not param.hidden:
                assert isinstance(param.envvar, str)
                found.setdefault(param.envvar, set()).add(name)
    return found


def test_every_variable_the_tool_reads_is_shown_and_only_those() -> None:
    shown = named_in_help()
    assert set(shown) == set(READ)
    assert {"upgrade", "downgrade", "stamp", "current", "sync", "hook"} <= shown[
        "SCOPEMIGRATE_STORE"
    ]
    assert shown["SCOPEMIGRATE_INSTALLED_VERSION"] == {"sync", "hook"}


@pytest.mark.parametrize("variable", sorted(READ))
def test_help_names_the_variable_and_the_tool_reads_it(variable: str, tmp_path: Path) -> None:
    # One command's help through the installed CLI (each command's options are the
    # same EnvOption objects: the test above lists them all).
    shown = run_cli(min(named_in_help()[variable]), "--help")
    assert shown.returncode == 0
    # Words wrap at the terminal's width: compare with single spaces.
    assert f"[env var: {variable}" in " ".join(shown.stdout.split())
    value, command, code, says = (
        v.format(tmp=tmp_path) if isinstance(v, str) else v for v in READ[variable]
    )
    refused = run_cli(command, env={variable: value, "HOME": str(tmp_path)})
    assert refused.returncode == code, refused.stderr
    assert says in refused.stderr  # the configuration's words: click did not read it


@pytest.mark.parametrize("command", ["heads", "check"])
def test_a_store_given_to_a_files_only_command_is_said_to_be_ignored(
    command: str, tmp_path: Path
) -> None:
    # Accepted for scripts that pass --store everywhere, but never silently:
    # heads shows the files' heads, not what the named store holds.
    named = run_cli(command, "--store", str(tmp_path / "no-store"))
    assert named.returncode == 0, named.stderr
    assert f"warning: {command} reads only the migration files; --store is ignored" in named.stderr
    plain = run_cli(command)
    assert plain.returncode == 0 and "--store" not in plain.stderr
    assert plain.stdout == named.stdout
