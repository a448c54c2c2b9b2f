"""Installed-version detection: every source, in its order, and clear errors."""

from __future__ import annotations

import json
import os
import shutil
from importlib import metadata
from pathlib import Path

import pytest
from conftest import fake_program

from scopemigrate.errors import ConfigError
from scopemigrate.installed import ENV_VAR, VersionSources, detect

NOTHING = VersionSources(npm_package=None, program=None)


def npm_package(folder: Path, name: str, version: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"name": name, "version": version}))
    return folder


def test_explicit_wins_over_the_environment(tmp_path: Path) -> None:
    env = {ENV_VAR: "2026.2.15"}
    found = detect(VersionSources(explicit="2026.2.19"), env=env, cwd=tmp_path)
    assert (found.version, found.source) == ("2026.2.19", "--installed-version")
    found = detect(NOTHING, env=env, cwd=tmp_path)
    assert (found.version, found.source) == ("2026.2.15", ENV_VAR)


def test_python_distribution_metadata(tmp_path: Path) -> None:
    found = detect(VersionSources(distribution="click", npm_package=None, program=None), env={})
    assert found.version == metadata.version("click") and "click" in found.source


def test_npm_package_json_local_upwards_and_global(tmp_path: Path) -> None:
    npm_package(tmp_path / "node_modules" / "openclaw", "openclaw", "2026.2.19")
    deep = tmp_path / "srv" / "app"
    deep.mkdir(parents=True)
    found = detect(VersionSources(program=None), env={}, cwd=deep)
    assert found.version == "2026.2.19"
    assert found.source == str(tmp_path / "node_modules" / "openclaw" / "package.json")

    shutil.rmtree(tmp_path / "node_modules")  # now only the global folder has it
    prefix = tmp_path / "prefix"
    npm_package(prefix / "lib" / "node_modules" / "openclaw", "openclaw", "2026.2.19-2")
    found = detect(
        VersionSources(program=None), env={"npm_config_prefix": str(prefix)}, cwd=tmp_path / "x"
    )
    assert found.version == "2026.2.19-2"


def test_npm_own_package_inside_its_install_script(tmp_path: Path) -> None:
    own = npm_package(tmp_path / "pkg", "openclaw", "2026.2.23-beta.1")
    found = detect(VersionSources(program=None), env={}, cwd=own)
    assert found.version == "2026.2.23-beta.1"


def test_another_package_of_the_same_folder_name_is_not_taken(tmp_path: Path) -> None:
    npm_package(tmp_path / "node_modules" / "openclaw", "not-openclaw", "9.9.9")
    with pytest.raises(ConfigError, match="cannot tell which release is installed"):
        detect(VersionSources(program=None), env={}, cwd=tmp_path)


def test_program_version_output(tmp_path: Path) -> None:
    fake_program(tmp_path / "bin", "openclaw", "OpenClaw 2026.3.14 (abc1234)")
    env = {"PATH": str(tmp_path / "bin")}
    found = detect(VersionSources(npm_package=None), env=env, cwd=tmp_path)
    assert (found.version, found.source) == ("2026.3.14", "'openclaw --version'")


def test_program_without_a_version_is_a_clear_error(tmp_path: Path) -> None:
    fake_program(tmp_path / "bin", "openclaw", "command not understood", code=2)
    with pytest.raises(ConfigError, match=r"'openclaw --version': printed no version \(exit 2"):
        detect(VersionSources(npm_package=None), env={"PATH": str(tmp_path / "bin")})


def test_openclaw_config_is_the_last_resort_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "openclaw.json").write_text(
        json.dumps({"meta": {"lastTouchedVersion": "2026.2.15"}})
    )
    sources = VersionSources(npm_package=None, program=None, state_dir=tmp_path)
    found = detect(sources, env={}, cwd=tmp_path)
    assert found.version == "2026.2.15" and found.warning and "lastTouchedVersion" in found.warning


def test_order_npm_before_program_before_config(tmp_path: Path) -> None:
    (tmp_path / "openclaw.json").write_text(
        json.dumps({"meta": {"lastTouchedVersion": "2026.1.1"}})
    )
    fake_program(tmp_path / "bin", "openclaw", "OpenClaw 2026.2.1 (abc)")
    env = {"PATH": str(tmp_path / "bin")}
    sources = VersionSources(state_dir=tmp_path)
    assert detect(sources, env=env, cwd=tmp_path).version == "2026.2.1"
    npm_package(tmp_path / "node_modules" / "openclaw", "openclaw", "2026.3.1")
    assert detect(sources, env=env, cwd=tmp_path).version == "2026.3.1"


@pytest.mark.parametrize("bad", ["banana", "", "v2026..1"])
def test_unparseable_versions_name_their_source(tmp_path: Path, bad: str) -> None:
    npm_package(tmp_path / "node_modules" / "openclaw", "openclaw", bad or "x y")
    with pytest.raises(ConfigError) as caught:
        detect(VersionSources(program=None), env={}, cwd=tmp_path)
    message = str(caught.value)
    assert "package.json" in message and "is not a release version" in message
    assert len(message.splitlines()) == 1


def test_nothing_found_says_what_was_tried(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        detect(VersionSources(), env={"PATH": os.devnull}, cwd=tmp_path)
    message = str(caught.value)
    assert "npm package openclaw" in message and "'openclaw --version'" in message
    assert "--installed-version" in message
