"""Hostile layouts: links, hard links, FIFOs and foreign owners inside the store's folder.

Whatever the store's folder holds, nothing outside it is opened for writing,
created, renamed, deleted or changed (docs/threat-model.md), and a layout the
tool refuses is a one-line error with the store left as it was.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_path, copy_store, run_cli
from hostile import assert_clean_refusal, tree_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from unprivileged import give_store, reachable_dir, unprivileged_user

from scopemigrate import commands, load_config
from scopemigrate.errors import BadStoreError, ScopemigrateError

BAD_STORE = 5
RUN_FAILED = 9
NAMES = ("paired.json", "pending.json", "scopemigrate-ledger.json")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Files and folders outside the store that a hostile store points at."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim.json").write_text('{"precious": true}')
    os.chmod(folder / "victim.json", 0o644)
    (folder / "20990101T000000.000000Z").mkdir()
    (folder / "20990101T000000.000000Z" / "keep.txt").write_text("keep")
    return folder


def upgraded(store: Path) -> Path:
    assert run_cli("upgrade", "head", "--store", str(store)).returncode == 0
    return store


def refused(store: Path, outside: Path, *verb: str, code: int = BAD_STORE) -> str:
    before, around = tree_state(store), tree_state(outside)
    done = run_cli(*(verb or ("upgrade", "head")), "--store", str(store))
    assert_clean_refusal(done, code)
    assert tree_state(store) == before
    assert tree_state(outside) == around
    return done.stderr


def test_devices_linked_to_another_store_is_refused(tmp_path: Path, outside: Path) -> None:
    other = copy_store("2026.2.15-mixed", outside)
    store = tmp_path / "state"
    store.mkdir()
    (store / "devices").symlink_to(other / "devices")
    assert "symbolic link" in refused(store, outside)


@pytest.mark.parametrize("name", NAMES)
def test_a_store_file_linked_outside_is_refused(mixed: Path, outside: Path, name: str) -> None:
    upgraded(mixed)
    target = mixed / "devices" / name
    shutil.copyfile(target, outside / "copy.json")
    target.unlink()
    target.symlink_to(outside / "copy.json")
    for verb in (("downgrade", "base"), ("verify",)):
        assert "symbolic link" in refused(mixed, outside, *verb)


@pytest.mark.parametrize("name", NAMES)
def test_a_store_file_hard_linked_outside_is_refused(mixed: Path, outside: Path, name: str) -> None:
    upgraded(mixed)
    target = mixed / "devices" / name
    os.link(target, outside / "hardlink.json")
    os.chmod(outside / "hardlink.json", 0o644)  # the mode a chmod on the store file would change
    assert "hard links" in refused(mixed, outside, "downgrade", "base")


def test_a_killed_runs_backup_link_is_not_a_hostile_hard_link(mixed: Path) -> None:
    """A run killed between its backup and its publish leaves paired.json linked
    into the latest backup: that second link is the store's own."""
    upgraded(mixed)
    folder = mixed / "devices" / "scopemigrate-backups" / "20991231T235959.999999Z"
    folder.mkdir()
    os.link(mixed / "devices" / "paired.json", folder / "paired.json")
    assert run_cli("downgrade", "base", "--store", str(mixed)).returncode == 0


def test_a_backups_folder_linked_outside_is_refused(mixed: Path, outside: Path) -> None:
    (mixed / "devices" / "scopemigrate-backups").symlink_to(outside)
    assert "symbolic link" in refused(mixed, outside)


def test_pruning_never_deletes_through_a_link(mixed: Path, outside: Path) -> None:
    backups = mixed / "devices" / "scopemigrate-backups"
    backups.mkdir()
    # Named as a backup, and older than any: the first a pruning would delete.
    (backups / "20000101T000000.000000Z").symlink_to(outside / "20990101T000000.000000Z")
    (backups / "not-a-backup").mkdir()
    around = tree_state(outside)
    config = load_config(store=str(mixed), keep_backups=1, env={})
    for _ in range(3):
        commands.upgrade(config, "head")
        commands.downgrade(config, "base")
    assert tree_state(outside) == around
    assert (backups / "not-a-backup").is_dir()
    assert (
        len([p for p in backups.iterdir() if p.name.startswith("20") and not p.is_symlink()]) == 1
    )


def test_a_lock_file_linked_anywhere_is_a_clean_error(mixed: Path, outside: Path) -> None:
    lock = mixed / "devices" / ".scopemigrate.lock"
    lock.symlink_to(outside / "victim.json")
    assert "lock file is a symbolic link" in refused(mixed, outside)
    lock.unlink()
    lock.symlink_to(outside / "created-by-the-lock")  # dangling: must not be created
    refused(mixed, outside)
    assert not (outside / "created-by-the-lock").exists()


def test_a_hard_linked_lock_file_is_refused(mixed: Path, outside: Path) -> None:
    os.link(outside / "victim.json", mixed / "devices" / ".scopemigrate.lock")
    assert "lock file" in refused(mixed, outside)


LAYOUTS = st.sampled_from(["plain", "symlink", "hardlink", "dangling", "fifo", "directory"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    layout=st.fixed_dictionaries(
        {name: LAYOUTS for name in (*NAMES, ".scopemigrate.lock", "scopemigrate-backups")}
    ),
    verb=st.sampled_from(["upgrade", "downgrade", "verify", "current"]),
)
def test_random_link_layouts_never_touch_anything_outside(
    tmp_path_factory: pytest.TempPathFactory, layout: dict[str, str], verb: str
) -> None:
    root = tmp_path_factory.mktemp("layout")
    store = copy_store("2026.2.15-mixed", root)
    config = load_config(store=str(store), env={})
    commands.upgrade(config, "head")
    outside = root / "outside"
    outside.mkdir()
    for name, kind in layout.items():
        target = store / "devices" / name
        victim = outside / f"{name}.victim"
        victim.write_bytes(target.read_bytes() if target.is_file() else b"{}")
        if kind == "plain":
            continue
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
        make: dict[str, Any] = {
            "symlink": lambda t=target, v=victim: t.symlink_to(v),
            "hardlink": lambda t=target, v=victim: os.link(v, t),
            "dangling": lambda t=target, v=victim: t.symlink_to(v.with_suffix(".none")),
            "fifo": lambda t=target: os.mkfifo(t),
            "directory": lambda t=target: t.mkdir(),
        }
        make[kind]()
    around = tree_state(outside)
    action = {
        "upgrade": lambda: commands.upgrade(config, "head"),
        "downgrade": lambda: commands.downgrade(config, "base"),
        "verify": lambda: commands.verify(config),
        "current": lambda: commands.current(config),
    }[verb]
    try:
        action()
    except ScopemigrateError as exc:
        assert "\n" not in str(exc)
    assert tree_state(outside) == around
    assert not list(outside.glob("*.none"))


def test_root_on_a_users_store_never_follows_their_link_to_roots_files(tmp_path: Path) -> None:
    user = unprivileged_user()
    with reachable_dir() as shared:
        store = give_store("2026.2.15-mixed", shared, user)
        secret = tmp_path / "root-only.json"
        secret.write_text('{"root": "secret"}')
        os.chmod(secret, 0o600)
        paired = store / "devices" / "paired.json"
        paired.unlink()
        os.symlink(secret, paired)
        os.lchown(paired, user.pw_uid, user.pw_gid)
        before = secret.stat()
        done = run_cli("upgrade", "head", "--store", str(store))
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        after = secret.stat()
        assert (after.st_mode, after.st_uid, after.st_mtime_ns) == (
            before.st_mode,
            before.st_uid,
            before.st_mtime_ns,
        )
        assert secret.read_text() == '{"root": "secret"}'


def test_root_on_a_users_store_linked_to_another_users_devices(tmp_path: Path) -> None:
    user = unprivileged_user()
    with reachable_dir() as shared:
        victim = copy_store("2026.2.15-mixed", shared / "root-store")
        store = shared / "user-state"
        store.mkdir()
        os.symlink(victim / "devices", store / "devices")
        os.lchown(store / "devices", user.pw_uid, user.pw_gid)
        os.chown(store, user.pw_uid, user.pw_gid)
        before = tree_state(victim)
        done = run_cli("upgrade", "head", "--store", str(store))
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert tree_state(victim) == before


def _mount_read_only_copy(tmp_path: Path) -> Path | None:
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    store = copy_store("2026.2.15-mixed", mount)
    assert run_cli("upgrade", "head", "--store", str(store)).returncode == 0
    (store / "devices" / ".scopemigrate.lock").unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    return store


READ_ONLY_VERBS = [
    ("current",),
    ("heads",),
    ("history",),
    ("verify",),
    ("upgrade", "head", "--dry-run"),
    ("downgrade", "base", "--dry-run"),
    ("upgrade", "head"),
]


def test_read_only_commands_work_on_a_read_only_mount(tmp_path: Path) -> None:
    store = _mount_read_only_copy(tmp_path)
    if store is None:
        read_only_by_injection(tmp_path)
        return
    try:
        for verb in READ_ONLY_VERBS:
            done = run_cli(*verb, "--store", str(store))
            assert done.returncode == 0, (verb, done.stderr)
        assert_clean_refusal(run_cli("downgrade", "base", "--store", str(store)), RUN_FAILED)
    finally:
        subprocess.run(["umount", str(store.parent)], check=False)


def read_only_by_injection(tmp_path: Path) -> None:
    """Where this machine may not mount: the file system's answer, at the OS seam."""
    store = copy_store("2026.2.15-mixed", tmp_path / "inj")
    config = load_config(store=str(store), env={})
    commands.upgrade(config, "head")
    (store / "devices" / ".scopemigrate.lock").unlink()
    real_open = os.open

    def read_only_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    before = tree_state(store)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "open", read_only_open)
        commands.current(config)
        assert commands.verify(config).ok
        commands.upgrade(config, "head", dry_run=True)
        commands.downgrade(config, "base", dry_run=True)
        with pytest.raises(ScopemigrateError):
            commands.downgrade(config, "base")
    assert tree_state(store) == before


def test_read_only_by_injection_too(tmp_path: Path) -> None:
    read_only_by_injection(tmp_path)


def test_the_cli_reports_a_fifo_store_file_without_hanging(mixed: Path) -> None:
    os.unlink(mixed / "devices" / "paired.json")
    os.mkfifo(mixed / "devices" / "paired.json")
    done = subprocess.run(
        [cli_path(), "verify", "--store", str(mixed)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr


def test_bad_store_errors_name_the_file(mixed: Path, outside: Path) -> None:
    (mixed / "devices" / "pending.json").unlink()
    (mixed / "devices" / "pending.json").symlink_to(outside / "victim.json")
    with pytest.raises(BadStoreError, match=r"pending\.json"):
        commands.upgrade(load_config(store=str(mixed), env={}), "head")


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory"])
def test_the_hooks_quick_answer_leaves_a_strange_paired_json_to_the_full_run(
    mixed: Path, outside: Path, kind: str
) -> None:
    paired = mixed / "devices" / "paired.json"
    shutil.copyfile(paired, outside / "paired-copy.json")
    paired.unlink()
    {
        "symlink": lambda: paired.symlink_to(outside / "paired-copy.json"),
        "fifo": lambda: os.mkfifo(paired),
        "directory": lambda: paired.mkdir(),
    }[kind]()
    done = run_cli("hook", "--installed-version", "2026.2.19", "--store", str(mixed))
    assert_clean_refusal(done, BAD_STORE)
