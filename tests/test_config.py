"""Configuration files: found upwards from a project's subfolder, and no key ignored."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import cli_path, copy_store

from scopemigrate.config import find_config_file, load_config
from scopemigrate.errors import ConfigError


def cli_at(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SCOPEMIGRATE_", "OPENCLAW_"))
    }
    full_env.update(env or {})
    return subprocess.run(
        [cli_path(), *args], cwd=cwd, env=full_env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with its own chain of one revision, under a repository root."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".git").mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "gateway"\n')
    assert cli_at(root, "init").returncode == 0
    made = cli_at(
        root,
        "revision",
        "--json",
        "-m",
        "Tools need read",
        "--release",
        "2026.3.1",
        "--grant",
        "operator:operator.read",
    )
    assert made.returncode == 0, made.stderr
    (root / "src" / "deep").mkdir(parents=True)
    return root


def test_the_nearest_file_upwards_is_found(project: Path, tmp_path: Path) -> None:
    deep = project / "src" / "deep"
    assert find_config_file(deep, {}) == project / "pyproject.toml"
    (project / "src" / "scopemigrate.toml").write_text("backups = 2\n")
    assert find_config_file(deep, {}) == project / "src" / "scopemigrate.toml"
    assert load_config(cwd=deep, env={}).keep_backups == 2


def test_the_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "scopemigrate.toml").write_text("backups = 2\n")
    inner = tmp_path / "other-repo" / "sub"
    inner.mkdir(parents=True)
    assert find_config_file(inner, {}) == tmp_path / "scopemigrate.toml"
    (tmp_path / "other-repo" / ".git").write_text("gitdir: elsewhere\n")  # a worktree's
    assert find_config_file(inner, {}) is None


def test_heads_from_a_subfolder_uses_the_projects_chain(project: Path) -> None:
    at_root = cli_at(project, "heads", "--json")
    below = cli_at(project / "src" / "deep", "heads", "--json")
    assert at_root.returncode == below.returncode == 0, below.stderr
    assert json.loads(below.stdout) == json.loads(at_root.stdout)
    assert "Tools need read" in below.stdout


def test_upgrade_head_from_a_subfolder_answers_as_from_the_project(
    project: Path, tmp_path: Path
) -> None:
    """The at-head mark of the shipped chain must not answer for the project's."""
    store = copy_store("2026.2.15-mixed", tmp_path)
    shipped = cli_at(tmp_path, "upgrade", "head", "--store", str(store))
    assert shipped.returncode == 0, shipped.stderr
    at_root = cli_at(project, "upgrade", "head", "--store", str(store))
    below = cli_at(project / "src" / "deep", "upgrade", "head", "--store", str(store))
    assert (below.returncode, below.stdout) == (at_root.returncode, at_root.stdout)
    assert below.stderr == at_root.stderr
    assert "nothing to do" not in below.stdout


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("scopemigrate.toml", "lock_timeot = 5\n"),
        ("scopemigrate.toml", "[scopemigrate]\nlock_timeot = 5\n"),
        ("pyproject.toml", "[tool.scopemigrate]\nlock_timeot = 5\n"),
    ],
)
@pytest.mark.parametrize(
    "argv",
    [
        ("heads",),
        ("upgrade", "head"),
        ("hook", "--installed-version", "2026.2.19"),
        ("current",),
    ],
)
def test_an_unknown_key_is_refused_naming_file_and_key(
    tmp_path: Path, name: str, text: str, argv: tuple[str, ...]
) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path)
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / name).write_text(text)
    result = cli_at(project / "sub", *argv, "--store", str(store))
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stderr.startswith("error:") and len(result.stderr.splitlines()) == 1
    assert str(project / name) in result.stderr and "'lock_timeot'" in result.stderr
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before


def test_keys_outside_the_scopemigrate_table_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "scopemigrate.toml"
    path.write_text('store = "x"\n[scopemigrate]\nbackups = 1\n')
    with pytest.raises(ConfigError, match="'store' outside"):
        load_config(config_file=path, env={})


@pytest.mark.parametrize(
    ("env", "text", "origin"),
    [
        ({"SCOPEMIGRATE_LOCK_TIMEOUT": "abc"}, "", "SCOPEMIGRATE_LOCK_TIMEOUT"),
        ({"SCOPEMIGRATE_LOCK_TIMEOUT": "-1"}, "", "SCOPEMIGRATE_LOCK_TIMEOUT"),
        ({}, "lock_timeout = -1\n", "'lock_timeout'"),
        ({}, "lock_timeout = true\n", "'lock_timeout'"),
        ({}, 'lock_timeout = "nan"\n', "'lock_timeout'"),
    ],
)
def test_a_bad_lock_timeout_names_where_it_came_from(
    tmp_path: Path, env: dict[str, str], text: str, origin: str
) -> None:
    path = tmp_path / "scopemigrate.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=origin):
        load_config(config_file=path, env=env)
