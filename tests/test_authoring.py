"""Authoring through the installed CLI: init, revision, merge, check, heads, branches, show,
history ranges, migration-file errors naming the file, and plugin entry points."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import tomllib
from pathlib import Path

import pytest
from conftest import copy_store, load_json, run_cli


def cli_in(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI from inside ``project``, as an author would."""
    cwd = os.getcwd()
    os.chdir(project)
    try:
        return run_cli(*args, env=env)
    finally:
        os.chdir(cwd)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "gateway"  # a comment that must survive\n\n[tool.other]\nkeep = 1\n'
    )
    assert cli_in(tmp_path, "init").returncode == 0
    return tmp_path


def test_init_appends_to_pyproject_without_disturbing_it(project: Path) -> None:
    text = (project / "pyproject.toml").read_text()
    assert text.startswith(
        '[project]\nname = "gateway"  # a comment that must survive\n\n[tool.other]\nkeep = 1\n'
    )
    document = tomllib.loads(text)
    assert document["tool"]["scopemigrate"] == {"locations": ["migrations"]}
    assert document["tool"]["other"] == {"keep": 1}
    assert (project / "migrations").is_dir()
    again = cli_in(project, "init")
    assert again.returncode == 0 and text == (project / "pyproject.toml").read_text()


def test_init_without_pyproject_writes_scopemigrate_toml(tmp_path: Path) -> None:
    result = cli_in(tmp_path, "init", "scopes", "--json")
    assert result.returncode == 0, result.stderr
    assert tomllib.loads((tmp_path / "scopemigrate.toml").read_text()) == {"locations": ["scopes"]}
    assert json.loads(result.stdout)["migrations"].endswith("scopes")


def revision(project: Path, *args: str) -> dict:
    result = cli_in(project, "revision", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_revision_writes_a_valid_file_on_the_current_head(project: Path) -> None:
    first = revision(
        project,
        "-m",
        "Tools need read and write",
        "--release",
        "2026.3.1",
        "--grant",
        "operator:operator.read,operator.write",
        "--if-any",
        "operator.admin",
    )
    assert first["down_revision"] == []
    document = tomllib.loads(Path(first["path"]).read_text())
    assert document["operations"] == [
        {
            "kind": "grant",
            "role": "operator",
            "scopes": ["operator.read", "operator.write"],
            "if_any": ["operator.admin"],
        }
    ]
    second = revision(
        project, "-m", "rename", "--release", "2026.3.2", "--rename", "operator:operator.x=op.y"
    )
    assert second["down_revision"] == [first["revision"]]
    check = cli_in(project, "check", "--json")
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout)["heads"] == [second["revision"]]


def test_revision_refuses_bad_input_without_writing(project: Path) -> None:
    revision(project, "-m", "one", "--release", "2026.3.2", "--rev-id", "one")
    for args, message in (
        (["--grant", "operator:Not A Scope"], "not well formed"),
        (["--grant", "operatorscope"], "ROLE:SCOPE"),
        (["--release", "2026.3.1"], "release goes backwards"),
        (["--release", "banana"], "release"),
        (["--head", "nope"], "no revision 'nope'"),
    ):
        argv = ["revision", "-m", "bad", *args]
        if "--release" not in args:
            argv += ["--release", "2026.3.3"]
        result = cli_in(project, *argv)
        assert result.returncode == 4, (args, result.stderr)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in (project / "migrations").iterdir()) == ["2026.3.2_one.toml"]


def test_branches_merge_heads_show_and_history_ranges(project: Path) -> None:
    revision(project, "-m", "a", "--release", "2026.3.1", "--rev-id", "a1")
    revision(project, "-m", "b", "--release", "2026.3.2", "--rev-id", "b1")
    revision(
        project,
        *("-m", "plugin", "--release", "2026.3.2", "--rev-id", "p1", "--head", "a1"),
        *("--branch-label", "plugin", "--grant", "node:node.exec"),
    )
    more = cli_in(project, "revision", "-m", "c", "--release", "2026.3.3")
    assert more.returncode == 4 and "several heads" in more.stderr and "--head" in more.stderr
    heads = json.loads(cli_in(project, "heads", "--json").stdout)["heads"]
    assert sorted(h["revision"] for h in heads) == ["b1", "p1"]
    failing = cli_in(project, "check")
    assert failing.returncode == 11 and "2 heads" in failing.stdout
    branches = json.loads(cli_in(project, "branches", "--json").stdout)
    assert branches["branch_points"][0]["revision"] == "a1"
    assert branches["labels"] == {"plugin": "p1"}
    shown = json.loads(cli_in(project, "show", "plugin@head", "--json").stdout)["revision"]
    assert shown["revision"] == "p1" and shown["operations"][0]["scopes"] == ["node.exec"]
    merge = cli_in(project, "merge", "-m", "join plugin", "--json")
    assert merge.returncode == 0, merge.stderr
    merged = json.loads(merge.stdout)
    assert sorted(merged["down_revision"]) == ["b1", "p1"] and merged["release"] == "2026.3.2"
    assert cli_in(project, "check").returncode == 0
    heads = json.loads(cli_in(project, "heads", "--json").stdout)["heads"]
    assert [h["revision"] for h in heads] == [merged["revision"]]
    ranged = json.loads(cli_in(project, "history", "-r", "a1:b1", "--json").stdout)
    assert [r["revision"] for r in ranged["revisions"]] == ["b1", "a1"]
    since = json.loads(cli_in(project, "history", "-r", "a1:", "--json").stdout)
    assert {r["revision"] for r in since["revisions"]} == {"a1", "b1", "p1", merged["revision"]}
    verbose = cli_in(project, "history", "--verbose")
    assert "node.exec" in verbose.stdout and "join plugin" in verbose.stdout


def test_one_branch_goes_up_and_down_on_a_real_store(project: Path, tmp_path: Path) -> None:
    """A plugin branch is applied and then undone alone, the main line untouched."""
    revision(project, "-m", "read", "--release", "2026.3.1", "--rev-id", "r1")
    revision(project, "-m", "read-write", "--release", "2026.3.1", "--rev-id", "r2")
    revision(
        project,
        *("-m", "plugin", "--release", "2026.3.1", "--rev-id", "p1", "--head", "base"),
        *("--branch-label", "plugin", "--grant", "operator:plugin.use"),
    )
    store = copy_store("2026.2.15-mixed", tmp_path)
    at = ("--store", str(store))
    refused = cli_in(project, "upgrade", "head", *at)
    assert refused.returncode == 4 and "heads" in refused.stderr
    assert cli_in(project, "upgrade", "plugin@head", *at).returncode == 0
    current = json.loads(cli_in(project, "current", "--json", *at).stdout)
    assert current["heads"] == ["p1"]
    paired = load_json(store / "devices" / "paired.json")
    assert all("plugin.use" in d["scopes"] for d in paired.values() if d.get("role") == "operator")
    assert cli_in(project, "upgrade", "heads", *at).returncode == 0
    assert sorted(json.loads(cli_in(project, "current", "--json", *at).stdout)["heads"]) == [
        "p1",
        "r2",
    ]
    down = cli_in(project, "downgrade", "plugin@-1", *at)
    assert down.returncode == 0, down.stderr
    assert json.loads(cli_in(project, "current", "--json", *at).stdout)["heads"] == ["r2"]
    paired = load_json(store / "devices" / "paired.json")
    assert not any("plugin.use" in d.get("scopes", []) for d in paired.values())


def write_file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_migration_file_errors_name_the_file(project: Path) -> None:
    folder = project / "migrations"
    good = 'revision = "a"\ndown_revision = []\nrelease = "2026.3.1"\n'
    cases = [
        ("broken.toml", 'revision = "a"\nrelease = 2026.3.1.\n', "line 2"),
        (
            "kind.toml",
            good + '[[operations]]\nkind = "explode"\nrole = "operator"\n',
            "explode",
        ),
        (
            "scope.toml",
            good + '[[operations]]\nkind = "grant"\nrole = "operator"\nscopes = ["has space"]\n',
            "not well formed",
        ),
    ]
    for name, text, needle in cases:
        path = write_file(folder, name, text)
        result = cli_in(project, "heads")
        assert result.returncode == 4, (name, result.stderr)
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1 and name in line and needle in line, line
        path.unlink()


def test_two_files_claiming_one_id_and_a_missing_parent(project: Path) -> None:
    folder = project / "migrations"
    body = 'revision = "same"\ndown_revision = []\nrelease = "2026.3.1"\n'
    write_file(folder, "one.toml", body)
    write_file(folder, "two.toml", body)
    result = cli_in(project, "check", "--json")
    assert result.returncode == 4  # graph errors keep the migration-file code
    report = json.loads(result.stdout)
    assert report["problems"][0]["kind"] == "graph"
    message = report["problems"][0]["message"]
    assert "one.toml" in message and "two.toml" in message and "same" in message
    (folder / "two.toml").unlink()
    write_file(
        folder, "two.toml", 'revision = "b"\ndown_revision = ["gone"]\nrelease = "2026.3.2"\n'
    )
    result = cli_in(project, "heads")
    assert result.returncode == 4 and "two.toml" in result.stderr and "gone" in result.stderr


def test_check_reports_parallel_conflicts_and_ungranted_revokes(project: Path) -> None:
    revision(project, "-m", "base", "--release", "2026.3.1", "--rev-id", "root")
    revision(
        project,
        "-m",
        "give",
        "--release",
        "2026.3.2",
        "--rev-id",
        "give",
        "--grant",
        "operator:operator.x",
    )
    revision(
        project,
        "-m",
        "take",
        "--release",
        "2026.3.2",
        "--rev-id",
        "take",
        "--head",
        "root",
        "--revoke",
        "operator:operator.x",
    )
    revision(
        project,
        "-m",
        "join",
        "--release",
        "2026.3.2",
        "--rev-id",
        "oops",
        "--head",
        "give",
        "--revoke",
        "operator:never.given",
    )
    result = cli_in(project, "check", "--json")
    assert result.returncode == 11
    kinds = sorted(p["kind"] for p in json.loads(result.stdout)["problems"])
    assert kinds == ["conflict", "heads", "revoke-ungranted", "revoke-ungranted"]
    text = cli_in(project, "check")
    assert text.returncode == 11
    assert "operator.x" in text.stdout and "never.given" in text.stdout


@pytest.mark.parametrize(
    ("revoke", "how"),
    [
        (("--revoke", "operator:operator.*"), "operator.x (by the pattern operator.*)"),
        (("--revoke-outside-role", "node"), "tool.x (outside role node's prefix node.)"),
    ],
)
def test_check_sees_a_pattern_revoke_clash_with_a_grant_on_a_parallel_branch(
    project: Path, revoke: tuple[str, ...], how: str
) -> None:
    scope = "operator:operator.x" if "operator" in revoke[1] else "node:tool.x"
    revision(project, "-m", "base", "--release", "2026.3.1", "--rev-id", "root")
    revision(project, "-m", "give", "--release", "2026.3.2", "--rev-id", "give", "--grant", scope)
    revision(
        project, "-m", "take", "--release", "2026.3.2", "--rev-id", "take", "--head", "root",
        *revoke,
    )  # fmt: skip
    result = cli_in(project, "check", "--json")
    assert result.returncode == 11, result.stderr
    conflicts = [p for p in json.loads(result.stdout)["problems"] if p["kind"] == "conflict"]
    assert [p["revisions"] for p in conflicts] == [["give", "take"]]
    assert f"give grants and take revokes {how}" in conflicts[0]["message"]


def test_a_plugin_registers_its_migrations_through_an_entry_point(
    project: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    package = site / "clawplugin_scopes"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    write_file(
        package,
        "2026.3.1_plugin.toml",
        """
        revision = "plugin1"
        down_revision = []
        release = "2026.3.1"
        branch_labels = ["clawplugin"]

        [[operations]]
        kind = "grant"
        role = "operator"
        scopes = ["clawplugin.use"]
        """,
    )
    dist = site / "clawplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: clawplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[scopemigrate.migrations]\nclawplugin = clawplugin_scopes\n"
    )
    revision(project, "-m", "own", "--release", "2026.3.1", "--rev-id", "own1")
    env = {"PYTHONPATH": str(site)}
    heads = json.loads(cli_in(project, "heads", "--json", env=env).stdout)["heads"]
    assert sorted(h["revision"] for h in heads) == ["own1", "plugin1"]
    shown = cli_in(project, "show", "clawplugin@head", "--json", env=env)
    assert json.loads(shown.stdout)["revision"]["source"].endswith("2026.3.1_plugin.toml")
    # An explicit --migrations replaces every other location, plugins included.
    only = cli_in(project, "heads", "--json", "--migrations", "migrations", env=env)
    assert [h["revision"] for h in json.loads(only.stdout)["heads"]] == ["own1"]


def test_revision_never_writes_into_the_shipped_chain(tmp_path: Path) -> None:
    result = cli_in(tmp_path, "revision", "-m", "x", "--release", "2026.3.1")
    assert result.returncode == 3 and "scopemigrate init" in result.stderr
    assert list(tmp_path.iterdir()) == []
