"""``heads`` answered by the console script's quick path from the validation cache.

The quick answer must be the full CLI's, byte for byte and exit code for exit
code: on the shipped chain, on a branched one, and after every kind of change
to the files (an edit, a file added, removed, renamed, a file made invalid
after it was cached: the full path reports it again). The cache itself is
trusted only when it is the user's own, and a cache that cannot be used is a
miss, never a failure (scopemigrate/validation_cache.py, docs/cache.md).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from test_quick_everyday import full, quick, took_the_quick_path

from scopemigrate import validation_cache
from scopemigrate.cli import main as cli_main
from scopemigrate.errors import MigrationFileError
from scopemigrate.migration_files import MigrationFiles, files_digest, shipped_migrations_dir
from scopemigrate.quick import argv

BASE = 'revision = "a1"\nrelease = "2026.3.1"\nmessage = "base"\n'
GRANT = '[[operations]]\nkind = "grant"\nrole = "operator"\nscopes = ["operator.read"]\n'


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def branched(tmp_path: Path) -> Path:
    """a1 <- b1, a1 <- c1, a1 <- d1 (which depends_on b1): three heads, two real ones.
    d1 is not plain TOML (a multi-line array): its graph fields come from tomllib."""
    folder = tmp_path / "migrations"
    write(folder, "a1.toml", BASE + GRANT)
    write(folder, "b1.toml", 'revision = "b1"\ndown_revision = "a1"\nrelease = "2026.3.2"\n')
    write(folder, "c1.toml", 'revision = "c1"\ndown_revision = ["a1"]\nrelease = "2026.3.2"\n')
    write(
        folder,
        "d1.toml",
        'revision = "d1"\ndown_revision = "a1"\ndepends_on = [\n  "b1",\n]\n'
        'release = "2026.3.10"\nmessage = "needs b1, café"\n' + GRANT,
    )
    return folder


def records(cache: Path) -> list[str]:
    folder = cache / "scopemigrate" / "validated"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def same_as_full(*args: str) -> subprocess.CompletedProcess[str]:
    """``heads`` through the console script, held equal to the full CLI's (exit code,
    stdout, and the error line when there is one)."""
    fast, slow = quick("heads", *args), full("heads", *args)
    assert (fast.returncode, fast.stdout) == (slow.returncode, slow.stdout)
    assert errors(fast) == errors(slow)
    return fast


def errors(done: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without ``-X importtime``'s lines."""
    return [line for line in done.stderr.splitlines() if not line.startswith("import time:")]


def test_the_quick_heads_parser_knows_the_heads_options_but_store_json_and_verbose() -> None:
    command = cli_main.commands["heads"]
    names = {name for p in command.params if isinstance(p, click.Option) for name in p.opts}
    left_to_the_full_cli = {"--store", "--json", "-v", "--verbose"}
    assert set(argv.HEADS_VALUE_OPTIONS) | set(argv.HEADS_FLAG_OPTIONS) == (
        names - left_to_the_full_cli
    )
    assert left_to_the_full_cli <= names


@pytest.mark.parametrize("extra", [(), ("-q",), ("--resolve-dependencies",)])
def test_the_shipped_chain_is_answered_quickly_once_validated(
    own_cache: Path, extra: tuple[str, ...]
) -> None:
    cold = same_as_full(*extra)
    assert cold.returncode == 0 and not took_the_quick_path(cold)
    assert len(records(own_cache)) == 1  # written by the full path's load
    warm = same_as_full(*extra)
    assert took_the_quick_path(warm), warm.stderr[-2000:]
    graph = MigrationFiles([shipped_migrations_dir()]).graph()
    heads = graph.real_heads if extra else graph.heads
    shown = [f"{r} {graph.migrations[r].release}: {graph.migrations[r].message}" for r in heads]
    assert warm.stdout.splitlines() == ([] if extra == ("-q",) else shown)


@pytest.mark.parametrize("extra", [(), ("--resolve-dependencies",), ("--quiet",)])
def test_a_branched_chain_is_answered_quickly_in_the_full_commands_words(
    branched: Path, extra: tuple[str, ...]
) -> None:
    args = ("--migrations", str(branched), *extra)
    assert not took_the_quick_path(same_as_full(*args))
    warm = same_as_full(*args)
    assert took_the_quick_path(warm), warm.stderr[-2000:]
    expected = {
        (): ["b1 2026.3.2: ", "c1 2026.3.2: ", "d1 2026.3.10: needs b1, café"],
        ("--resolve-dependencies",): ["c1 2026.3.2: ", "d1 2026.3.10: needs b1, café"],
        ("--quiet",): [],
    }[extra]
    assert warm.stdout.splitlines() == expected


def _edit(folder: Path) -> None:
    write(folder, "c1.toml", 'revision = "c1"\ndown_revision = "a1"\nrelease = "2026.3.3"\n')


def _add(folder: Path) -> None:
    write(folder, "e1.toml", 'revision = "e1"\ndown_revision = "c1"\nrelease = "2026.3.4"\n')


def _remove(folder: Path) -> None:
    (folder / "d1.toml").unlink()


def _rename(folder: Path) -> None:
    (folder / "c1.toml").rename(folder / "c1-renamed.toml")


def _rename_hidden(folder: Path) -> None:  # a hidden *.toml file is loaded too
    (folder / "c1.toml").rename(folder / ".c1.toml")


@pytest.mark.parametrize("change", [_edit, _add, _remove, _rename, _rename_hidden])
def test_each_change_to_the_files_goes_to_the_full_path_once(
    branched: Path, change: Callable[[Path], None]
) -> None:
    args = ("--migrations", str(branched))
    same_as_full(*args)
    assert took_the_quick_path(same_as_full(*args))
    change(branched)
    after = same_as_full(*args)
    assert after.returncode == 0 and not took_the_quick_path(after)
    assert took_the_quick_path(same_as_full(*args))  # the new files' record


# test_authoring's refused files, each first cached in a valid form of the same
# file (same name, same graph fields), then made invalid.
INVALID = [
    ("kind", BASE + '[[operations]]\nkind = "explode"\nrole = "operator"\n', "explode"),
    (
        "scope",
        BASE + '[[operations]]\nkind = "grant"\nrole = "operator"\nscopes = ["has space"]\n',
        "not well formed",
    ),
    ("field", BASE + 'colour = "red"\n', "colour"),
    ("revision id", BASE.replace('"a1"', '"a 1"'), "revision id"),
    ("release", BASE.replace("2026.3.1", "twenty"), "release"),
    ("toml", BASE + "release = 2026.3.1.\n", "malformed TOML"),
    ("utf-8", None, "not UTF-8"),
]


@pytest.mark.parametrize(("case", "text", "needle"), INVALID, ids=[c[0] for c in INVALID])
def test_a_file_made_invalid_after_it_was_cached_is_reported_again(
    tmp_path: Path, case: str, text: str | None, needle: str
) -> None:
    folder = tmp_path / "migrations"
    path = write(folder, "a1.toml", BASE + GRANT)
    args = ("--migrations", str(folder))
    same_as_full(*args)
    assert took_the_quick_path(same_as_full(*args))
    if text is None:
        path.write_bytes(BASE.encode() + b'message = "\xff"\n')
    else:
        write(folder, "a1.toml", text)
    for _ in range(2):  # a refusal is never cached: reported every time
        refused = same_as_full(*args)
        assert refused.returncode == 4 and not took_the_quick_path(refused)
        (line,) = errors(refused)
        assert "a1.toml" in line and needle in line, line


@pytest.mark.parametrize(
    "setup",
    ["branch label", "independent branches", "store given", "json", "verbose"],
)
def test_what_the_quick_path_cannot_vouch_for_goes_to_the_full_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: str
) -> None:
    folder = tmp_path / "migrations"
    text = BASE + ('branch_labels = ["main"]\n' if setup != "store given" else "")
    write(folder, "a1.toml", text)
    args: tuple[str, ...] = ("--migrations", str(folder))
    if setup == "independent branches":
        config = write(tmp_path, "scopemigrate.toml", 'independent_branches = ["main"]\n')
        config.write_text('locations = ["migrations"]\nindependent_branches = ["main"]\n')
        args = ("--config", str(config))
        monkeypatch.chdir(tmp_path)
    args += {"store given": ("--store", str(tmp_path)), "json": ("--json",)}.get(setup, ())
    args += ("-v",) if setup == "verbose" else ()
    first = same_as_full(*args)
    again = same_as_full(*args)
    assert first.returncode == again.returncode
    assert not took_the_quick_path(again), setup


# -- the cache itself ------------------------------------------------------------------


def _warm(folder: Path) -> Path:
    """A folder of files the full path validated, and the one record it wrote."""
    write(folder, "a1.toml", BASE + GRANT)
    MigrationFiles([folder])
    digest = files_digest([str(folder)])
    assert digest is not None and validation_cache.validated(digest)
    cache = validation_cache.cache_folder()
    assert cache is not None
    (record,) = (Path(cache) / "validated").iterdir()
    return record


def test_the_record_names_exactly_the_bytes_validated_and_this_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "migrations"
    record = _warm(folder)
    digest = files_digest([str(folder)])
    assert digest is not None
    assert not validation_cache.validated(files_digest([str(tmp_path / "elsewhere")]) or "x")
    with monkeypatch.context() as patched:
        patched.setattr(validation_cache, "_identity", b"another build")
        assert not validation_cache.validated(digest)
    assert validation_cache.validated(digest)
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE(record.parent.stat().st_mode) == 0o700
    assert (
        (record.parent.parent / "CACHEDIR.TAG")
        .read_bytes()
        .startswith(b"Signature: 8a477f597d28d172789f06886806bc55")
    )
    assert [p.name for p in record.parent.iterdir()] == [record.name]  # no temp file left


def test_a_refused_file_is_never_recorded(tmp_path: Path, own_cache: Path) -> None:
    folder = tmp_path / "migrations"
    write(folder, "a1.toml", BASE + '[[operations]]\nkind = "explode"\nrole = "operator"\n')
    with pytest.raises(MigrationFileError):
        MigrationFiles([folder])
    assert records(own_cache) == []


def test_the_identity_changes_with_any_module_of_the_package(tmp_path: Path) -> None:
    package = tmp_path / "package"
    shutil.copytree(Path(validation_cache.__file__).parent, package)
    before = validation_cache._modules(str(package), "")
    module = package / "stores" / "base.py"
    module.write_text(module.read_text() + "\n")
    grown = validation_cache._modules(str(package), "")
    assert grown != before
    os.utime(module, ns=(0, 0))  # same size, other time: an edit in place
    assert validation_cache._modules(str(package), "") not in (before, grown)
    assert any(line.startswith("stores/base.py ") for line in grown)
    assert not any("__pycache__" in line for line in grown)


def _planted_by_another_user(record: Path) -> None:
    os.chown(record, 65534, 65534)  # nobody


@pytest.mark.parametrize(
    "spoil",
    [
        "record writable by the group",
        "record writable by others",
        "folder writable by the group",
        "records folder a symbolic link",
        "record a symbolic link",
        "garbage in the record",
        "record emptied",
        "record owned by another user",
    ],
)
def test_a_record_is_trusted_only_when_it_and_its_folder_are_the_users_own(
    tmp_path: Path, spoil: str
) -> None:
    if spoil == "record owned by another user" and os.geteuid() != 0:
        pytest.skip("only root can give a file away")
    folder = tmp_path / "migrations"
    record = _warm(folder)
    digest = files_digest([str(folder)])
    assert digest is not None
    records_folder = record.parent
    if spoil == "record writable by the group":
        record.chmod(0o620)
    elif spoil == "record writable by others":
        record.chmod(0o602)
    elif spoil == "folder writable by the group":
        records_folder.chmod(0o770)
    elif spoil == "records folder a symbolic link":
        moved = tmp_path / "elsewhere"
        records_folder.rename(moved)
        records_folder.symlink_to(moved)
    elif spoil == "record a symbolic link":
        target = tmp_path / "target"
        target.write_bytes(record.read_bytes())
        record.unlink()
        record.symlink_to(target)
    elif spoil == "garbage in the record":
        record.write_bytes(b"\x00garbage")
    elif spoil == "record emptied":
        record.write_bytes(b"")
    else:
        _planted_by_another_user(record)
    assert not validation_cache.validated(digest)
    args = ("--migrations", str(folder))
    assert not took_the_quick_path(same_as_full(*args))


def test_root_leaves_no_folder_in_another_users_cache(tmp_path: Path, own_cache: Path) -> None:
    """sudo keeping a user's $HOME: root's run validates, and records nothing there."""
    if os.geteuid() != 0:
        pytest.skip("runs as root in another user's folder: needs root (CI runs as root)")
    folder = tmp_path / "migrations"
    write(folder, "a1.toml", BASE + GRANT)
    _planted_by_another_user(own_cache)
    MigrationFiles([folder])
    assert list(own_cache.iterdir()) == []
    digest = files_digest([str(folder)])
    assert digest is not None and not validation_cache.validated(digest)


@pytest.mark.parametrize("where", ["a file in the way", "the variable relative", "turned off"])
def test_a_cache_that_cannot_be_used_is_a_miss_never_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    folder = tmp_path / "migrations"
    write(folder, "a1.toml", BASE)
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    env = {
        "a file in the way": {"SCOPEMIGRATE_CACHE_DIR": str(blocked)},
        "the variable relative": {"SCOPEMIGRATE_CACHE_DIR": "relative/cache"},
        "turned off": {"SCOPEMIGRATE_NO_CACHE": "1"},
    }[where]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    args = ("--migrations", str(folder))
    for _ in range(2):
        done = same_as_full(*args)
        assert done.returncode == 0 and done.stdout == "a1 2026.3.1: base\n"
        assert not took_the_quick_path(done)
    assert blocked.read_text() == "not a folder"
    assert not (tmp_path / "relative").exists()


def test_the_cache_folder_follows_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert validation_cache.cache_folder() == str(tmp_path / ".cache" / "scopemigrate")
    monkeypatch.setenv("XDG_CACHE_HOME", "not/absolute")  # ignored, as XDG says
    assert validation_cache.cache_folder() == str(tmp_path / ".cache" / "scopemigrate")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert validation_cache.cache_folder() == str(tmp_path / "xdg" / "scopemigrate")
    monkeypatch.setenv("SCOPEMIGRATE_CACHE_DIR", str(tmp_path / "own"))
    assert validation_cache.cache_folder() == str(tmp_path / "own")
    monkeypatch.setenv("SCOPEMIGRATE_NO_CACHE", "0")
    assert validation_cache.cache_folder() == str(tmp_path / "own")
    monkeypatch.setenv("SCOPEMIGRATE_NO_CACHE", "1")
    assert validation_cache.cache_folder() is None


def test_the_records_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation_cache, "_MAX_RECORDS", 6)
    monkeypatch.setattr(validation_cache, "_KEEP", 3)
    for number in range(10):
        validation_cache.record_validated(f"{number:064x}")
    cache = validation_cache.cache_folder()
    assert cache is not None
    kept = os.listdir(Path(cache) / "validated")
    assert 3 <= len(kept) <= 6
    assert validation_cache.validated(f"{9:064x}")  # the newest is kept
