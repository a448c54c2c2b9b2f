"""--json: one document on stdout for every command, errors included, each with its
schema version, and each command's keys exactly as docs/json.md lists them."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, cli_path, copy_store, run_cli
from sqlstores import make_sqlite

from scopemigrate import cli, errors
from scopemigrate.results import SCHEMA_VERSION

DOC = Path(__file__).parent.parent / "docs" / "json.md"


def documented() -> dict[str, list[str]]:
    """Each ``### `name``` section's keys, from its table's first column."""
    sections = re.split(r"^### `([\w -]+)`$", DOC.read_text(encoding="utf-8"), flags=re.M)
    return {
        name: re.findall(r"^\| `(\w+)` \|", body, flags=re.M)
        for name, body in zip(sections[1::2], sections[2::2], strict=True)
    }


def document(*args: str, code: int = 0, cwd: Path | None = None) -> dict[str, Any]:
    """The one document a command prints, run in ``cwd`` (authoring writes a
    configuration there: never the repository's own pyproject.toml)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "SCOPEMIGRATE_"))}
    done = subprocess.run(
        [cli_path(), *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert done.returncode == code, done.stderr
    if code == 0:
        assert done.stderr == ""
    else:  # the person at the terminal still reads the error line
        error = json.loads(done.stdout)["error"]
        assert done.stderr.endswith(f"error: {error}\n")
    parsed: dict[str, Any] = json.loads(done.stdout)  # exactly one document
    assert next(iter(parsed)) == "schema_version" and parsed["schema_version"] == SCHEMA_VERSION
    return parsed


def test_every_command_prints_the_keys_its_schema_documents(tmp_path: Path) -> None:
    store = str(copy_store("2026.2.15-mixed", tmp_path))
    project = tmp_path / "project"
    project.mkdir()
    schemas = documented()
    seen: dict[str, dict[str, Any]] = {}
    seen["upgrade"] = document("upgrade", "head", "--dry-run", "--store", store, cwd=tmp_path)
    database = make_sqlite(tmp_path / "sqlite", FIXTURES / "2026.2.15-mixed")
    sqlite = f"sqlite:{database / 'state' / 'openclaw.sqlite'}"
    seen["upgrade --sql"] = document("upgrade", "--sql", "--store", sqlite, cwd=tmp_path)
    seen["sync"] = document(
        "sync", "--installed-version", "2026.2.19", "--dry-run", "--store", store, cwd=tmp_path
    )
    seen["hook"] = document(
        "hook", "--installed-version", "2026.2.19", "--store", store, cwd=tmp_path
    )
    seen["current"] = document("current", "--store", store, cwd=tmp_path)
    seen["history"] = document("history", "--store", store, cwd=tmp_path)
    # stamped where the hook brought it, so that verify finds every device satisfied
    hook_head = seen["hook"]["heads"][0]
    seen["stamp"] = document("stamp", hook_head, "--store", store, cwd=tmp_path)
    seen["verify"] = document("verify", "--store", store, cwd=tmp_path)
    seen["init"] = document("init", cwd=project)
    seen["revision"] = document(
        "revision", "-m", "m", "--release", "2026.3.1", "--grant", "operator:a.b", cwd=project
    )
    seen["heads"] = document("heads", cwd=project)
    seen["show"] = document("show", "head", cwd=project)
    seen["branches"] = document("branches", cwd=project)
    seen["check"] = document("check", cwd=project)
    assert set(seen) == set(schemas) - {"error"}, "document every command's JSON in docs/json.md"
    for name, parsed in seen.items():
        assert list(parsed) == schemas[name], f"{name}: update docs/json.md with its keys"


def test_an_error_is_one_json_document_on_stdout_with_its_exit_code(tmp_path: Path) -> None:
    missing = f"sqlite:{tmp_path / 'none.sqlite'}"
    parsed = document("upgrade", "head", "--store", missing, code=6, cwd=tmp_path)
    assert list(parsed) == documented()["error"]
    assert parsed["exit_code"] == 6 and parsed["kind"] == "StoreNotFoundError"
    assert "none.sqlite" in parsed["error"] and not parsed["error"].startswith("error:")
    # Without --json the same error stays one line on stderr.
    plain = run_cli("upgrade", "head", "--store", missing)  # no configuration involved
    assert plain.stdout == "" and plain.stderr == f"error: {parsed['error']}\n"


@pytest.mark.parametrize("args", [("upgrade", "--bogus"), ("frobnicate",), ("downgrade",)])
def test_a_usage_error_is_json_too(args: tuple[str, ...], tmp_path: Path) -> None:
    parsed = document(*args, code=cli.EXIT_USAGE, cwd=tmp_path)
    assert parsed["kind"] == "UsageError" and parsed["exit_code"] == cli.EXIT_USAGE
    assert parsed["error"]


def test_the_quick_hook_answer_carries_the_schema_version(tmp_path: Path) -> None:
    store = str(copy_store("2026.2.15-mixed", tmp_path))
    args = ("hook", "--installed-version", "2026.2.19", "--store", store)
    first = document(*args, cwd=tmp_path)
    assert first["changed"] is True
    again = document(*args, cwd=tmp_path)  # at the release: the quick path answers
    assert again["changed"] is False and list(again) == documented()["hook"]


def test_a_failed_check_prints_its_own_document_only(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    document("init", cwd=project)
    for message in ("one", "two"):  # two heads from base
        document("revision", "-m", message, "--release", "2026.3.1", "--head", "base", cwd=project)
    done = subprocess.run(
        [cli_path(), "check", "--json"], capture_output=True, text=True, cwd=project, check=False
    )
    assert done.returncode == cli.exit_code_for(errors.CheckFailedError("x"))
    parsed = json.loads(done.stdout)  # one document: the check's, not a second for the error
    assert parsed["ok"] is False and parsed["problems"]
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1


def test_check_prints_each_file_error_once(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    document("init", cwd=project)
    (project / "migrations" / "bad.toml").write_text('revision = "zz"\nbroken = [\n')

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [cli_path(), "check", *args], capture_output=True, text=True, cwd=project, check=False
        )

    shown = check()
    assert shown.returncode == cli.exit_code_for(errors.MigrationFileError("x"))
    both = shown.stdout + shown.stderr
    assert both.count("bad.toml") == 1 and "malformed TOML" in shown.stdout
    assert shown.stderr == "error: 1 problem(s) in the migration files, listed above\n"
    quiet = check("-q")  # nothing on stdout: the error line is the message itself
    assert quiet.stdout == "" and quiet.stderr.count("bad.toml") == 1
