"""Backups bounded by size, plugins' independent chains, and a store of another chain
(issue 14), each through the installed CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from scopemigrate.config import load_config, parse_size
from scopemigrate.errors import ConfigError
from scopemigrate.migration_files import MigrationFiles, shipped_migrations_dir

# The shipped chain's one head, read from the shipped files (it moves with each release).
(SHIPPED_HEAD,) = MigrationFiles([shipped_migrations_dir()]).graph().heads


def write_revision(
    folder: Path,
    rev: str,
    *,
    parent: str | None = None,
    label: str | None = None,
    scope: str = "clawplugin.use",
    release: str = "2026.3.1",
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f'revision = "{rev}"',
        f'release = "{release}"',
        f'message = "grant {scope}"',
    ]
    if parent:
        lines.append(f'down_revision = ["{parent}"]')
    if label:
        lines.append(f'branch_labels = ["{label}"]')
    lines += [
        "",
        "[[operations]]",
        'kind = "grant"',
        'role = "operator"',
        f'scopes = ["{scope}"]',
    ]
    (folder / f"{release}_{rev}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- backups bounded by total size ----------------------------------------------------------


def backups(store: Path) -> list[Path]:
    root = store / "devices" / "scopemigrate-backups"
    return sorted(root.iterdir()) if root.is_dir() else []


def backup_bytes(store: Path) -> int:
    seen, total = set(), 0
    for folder in backups(store):
        for path in folder.iterdir():
            st = path.stat()
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_size
    return total


def churn(store: Path, *args: str, runs: int = 4) -> None:
    """Runs that each replace the store's files (and so each keep a backup)."""
    for _ in range(runs):
        for verb in (("upgrade", "head"), ("downgrade", "base")):
            done = run_cli(*verb, "--store", str(store), *args)
            assert done.returncode == 0, done.stderr


def test_backups_are_bounded_by_count_alone_below_the_size_bound(mixed: Path) -> None:
    churn(mixed)
    assert len(backups(mixed)) == 5  # the default count; the 1G default is far away


@pytest.mark.parametrize("how", ["flag", "configuration"])
def test_backups_are_bounded_by_total_size_too(mixed: Path, tmp_path: Path, how: str) -> None:
    one = sum(p.stat().st_size for p in (mixed / "devices").glob("*.json"))
    bound = f"{2 * one + one // 2}"  # room for two backups of these files, not three
    if how == "flag":
        args: tuple[str, ...] = ("--backups-max-size", bound)
    else:
        config = tmp_path / "scopemigrate.toml"
        config.write_text(f'backups_max_size = "{bound}"\n', encoding="utf-8")
        args = ("--config", str(config))
    churn(mixed, *args)
    assert 1 <= len(backups(mixed)) <= 2
    assert backup_bytes(mixed) <= int(bound) + one  # the newest may be counted before commit


def test_the_newest_backup_is_kept_whatever_the_size_bound(mixed: Path) -> None:
    churn(mixed, "--backups-max-size", "1", runs=2)
    kept = backups(mixed)
    assert len(kept) == 1
    assert {p.name for p in kept[0].iterdir()} >= {"paired.json", "pending.json"}


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 0), ("512", 512), ("500K", 500 * 2**10), ("1.5G", 3 * 2**29), ("2GiB", 2**31)],
)
def test_sizes_are_read_with_binary_units(text: str, size: int) -> None:
    assert parse_size(text, "x") == size


def test_a_bad_size_names_where_it_came_from(tmp_path: Path, mixed: Path) -> None:
    with pytest.raises(ConfigError, match="--backups-max-size: 'lots' is not a size"):
        load_config(backups_max_size="lots", env={})
    config = tmp_path / "scopemigrate.toml"
    config.write_text('backups_max_size = "-1"\n', encoding="utf-8")
    done = run_cli("upgrade", "--store", str(mixed), "--config", str(config))
    assert done.returncode == 3
    assert f"{config}: 'backups_max_size': '-1' is not a size" in done.stderr


# --- plugins: chains with their own base --------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The recommended layout: the shipped chain plus a plugin's chain with its own base."""
    root = tmp_path / "project"
    shipped = Path(__file__).resolve().parent.parent / "migrations"
    write_revision(root / "plugin", "c1a0000000a1", label="clawplugin")
    write_revision(root / "plugin", "c1a0000000a2", parent="c1a0000000a1", scope="clawplugin.x")
    (root / "scopemigrate.toml").write_text(
        f'locations = ["{shipped}", "plugin"]\nindependent_branches = ["clawplugin"]\n',
        encoding="utf-8",
    )
    return root


def cli_in(folder: Path, *args: str) -> tuple[int, str, str]:
    done = run_cli(*args, "--config", str(folder / "scopemigrate.toml"))
    return done.returncode, done.stdout, done.stderr


def test_independent_chains_pass_check_and_upgrade_head(project: Path, mixed: Path) -> None:
    code, out, err = cli_in(project, "check", "--json")
    assert code == 0, out + err
    assert sorted(json.loads(out)["heads"]) == sorted([SHIPPED_HEAD, "c1a0000000a2"])
    code, out, err = cli_in(project, "upgrade", "head", "--store", str(mixed))
    assert code == 0, err
    code, out, _ = cli_in(project, "current", "--store", str(mixed), "--json")
    assert sorted(json.loads(out)["heads"]) == sorted([SHIPPED_HEAD, "c1a0000000a2"])
    code, out, err = cli_in(project, "upgrade", "head", "--store", str(mixed))
    assert (code, "nothing to do" in out) == (0, True), err


def test_undeclared_bases_still_count_as_several_heads(project: Path, mixed: Path) -> None:
    config = project / "scopemigrate.toml"
    config.write_text(config.read_text().splitlines()[0] + "\n", encoding="utf-8")
    code, out, _ = cli_in(project, "check")
    assert code == 11
    assert "declare a chain with its own base independent" in out
    code, _, err = cli_in(project, "upgrade", "head", "--store", str(mixed))
    assert code == 4 and "several heads" in err


def test_two_heads_inside_one_declared_chain_are_still_ambiguous(
    project: Path, mixed: Path
) -> None:
    write_revision(project / "plugin", "c1a0000000b2", parent="c1a0000000a1", scope="y.z")
    code, _, _ = cli_in(project, "check")
    assert code == 11
    code, _, err = cli_in(project, "upgrade", "head", "--store", str(mixed))
    assert code == 4 and "c1a0000000a2" in err and "c1a0000000b2" in err


@pytest.mark.parametrize(
    ("declared", "message"),
    [("nolabel", "no revision carries that label"), ("second", "only a chain with its own base")],
)
def test_a_declared_branch_must_be_a_labelled_base(
    project: Path, declared: str, message: str
) -> None:
    write_revision(project / "plugin", "c1a0000000a3", parent="c1a0000000a2", label="second")
    config = project / "scopemigrate.toml"
    text = config.read_text().replace('["clawplugin"]', f'["{declared}"]')
    config.write_text(text, encoding="utf-8")
    code, out, err = cli_in(project, "check")
    assert code == 4 and message in out + err


# --- a store migrated by another chain --------------------------------------------------


def test_a_store_of_another_chain_is_ahead_not_several_heads(mixed: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-chain"
    write_revision(other, "0be0000000a1", scope="other.use", release="2026.1.1")
    first = run_cli("upgrade", "head", "--store", str(mixed), "--migrations", str(other))
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in (mixed / "devices").glob("*.json")}
    heads = run_cli("heads", "--json")
    assert [h["revision"] for h in json.loads(heads.stdout)["heads"]] == [SHIPPED_HEAD]
    done = run_cli("upgrade", "head", "--store", str(mixed))
    assert done.returncode == 8, done.stderr
    assert "0be0000000a1" in done.stderr and "another chain" in done.stderr
    assert before == {p.name: p.read_bytes() for p in (mixed / "devices").glob("*.json")}
