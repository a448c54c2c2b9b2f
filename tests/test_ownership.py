"""Runs keep the store usable by the program that owns it (issues 14 and 18).

As root on a store an unprivileged user owns, the installed CLI acts with that
user's rights: every file it replaces keeps its owner, group and mode, and
every file it creates is that user's. Run for real, with a real user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, cli_path, fake_program, run_cli, run_with, store_files
from test_hook import EXAMPLES, assert_original, assert_repaired
from unprivileged import as_user, chown_tree, give_store, reachable_dir, unprivileged_user

from scopemigrate.cli import EXIT_CODES
from scopemigrate.config import load_config
from scopemigrate.errors import StorePermissionError
from scopemigrate.ownership import act_for_store
from scopemigrate.stores.atomic import write_private

MIXED = "2026.2.15-mixed"
PERMISSION_EXIT = dict(EXIT_CODES)[StorePermissionError]
# Run by the user with /bin/sh (the test's Python may live where only root can
# read): open every file for reading and writing, list every folder.
CHECK_READ_WRITE = """
for p in "$@"; do
    if [ -d "$p" ]; then ls "$p" >/dev/null || exit 1; [ -w "$p" ] || exit 1
    else exec 3<>"$p" || exit 1; exec 3>&-
    fi
done
"""


@pytest.fixture
def user() -> pwd.struct_passwd:
    return unprivileged_user()


@pytest.fixture
def shared() -> Iterator[Path]:
    with reachable_dir() as folder:
        yield folder


def every_path(store: Path) -> list[Path]:
    return [store, *sorted(store.rglob("*"))]


def assert_all_the_users(store: Path, user: pwd.struct_passwd, shared: Path) -> None:
    """Every file and folder is the user's, and the user can read and write each."""
    for path in every_path(store):
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == (user.pw_uid, user.pw_gid), path
    targets = [str(p) for p in every_path(store)]
    done = as_user(user, "/bin/sh", "-c", CHECK_READ_WRITE, "check", *targets, cwd=shared)
    assert done.returncode == 0, done.stderr


def test_a_root_hook_leaves_every_file_to_the_stores_owner(
    user: pwd.struct_passwd, shared: Path
) -> None:
    store = give_store(MIXED, shared, user)
    paired = store / "devices" / "paired.json"
    os.chmod(paired, 0o640)  # a group-readable store stays group-readable
    result = run_cli("hook", "--installed-version", "2026.2.19", "--store", str(store))
    assert result.returncode == 0, result.stderr
    assert_repaired(store)
    names = {p.name for p in (store / "devices").iterdir()}
    assert {"scopemigrate-ledger.json", ".scopemigrate.lock", "scopemigrate-backups"} <= names
    assert stat.S_IMODE(os.stat(paired).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(store / "devices" / "pending.json").st_mode) == 0o600
    assert_all_the_users(store, user, shared)
    # Whatever needs only the owner's rights works: a rollback, which (as root)
    # gives up root for them first.
    back = run_cli("downgrade", "base", "--store", str(store), "--no-backup")
    assert back.returncode == 0, back.stderr
    assert_original(store)


@pytest.mark.parametrize(
    "argv",
    [
        ("upgrade", "head"),
        ("upgrade", "head", "-q"),  # click builds a lazily imported error for short options
        ("hook", "--installed-version", "2026.2.19", "-q"),
        ("sync", "--installed-version", "2026.2.19"),
        ("stamp", "head"),
        ("verify",),
    ],
)
def test_every_verb_run_as_root_acts_as_the_owner(
    user: pwd.struct_passwd, shared: Path, argv: tuple[str, ...]
) -> None:
    store = give_store(MIXED, shared, user)
    result = run_cli(*argv, "--store", str(store))
    assert result.returncode in (0, 10), result.stderr  # verify of an old store: 10
    assert_all_the_users(store, user, shared)


@pytest.fixture
def home_store(user: pwd.struct_passwd) -> Iterator[Path]:
    """The user's store where OpenClaw's rules find it for them (~/.openclaw)."""
    store = Path(user.pw_dir) / ".openclaw"
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(FIXTURES / MIXED, store)
    chown_tree(store, user)
    try:
        yield store
    finally:
        shutil.rmtree(store, ignore_errors=True)


def test_a_postinst_names_the_service_users_store(
    user: pwd.struct_passwd, shared: Path, home_store: Path
) -> None:
    """dpkg runs the postinst as root with HOME=/root: --as-user finds the user's store."""
    store = home_store
    bin_dir = shared / "bin"
    fake_program(bin_dir, "dpkg-query", "1:2026.2.19-1", newline=False)  # its ${Version}
    env = {
        "HOME": "/root",
        "PATH": os.pathsep.join([str(bin_dir), str(Path(cli_path()).parent), "/usr/bin:/bin"]),
        "OPENCLAW_USER": user.pw_name,
    }
    for _ in range(2):  # dpkg may configure twice; the second run changes nothing
        done = run_with(
            ["sh", str(EXAMPLES / "debian" / "postinst-service-user"), "configure", "x"],
            env=env,
            cwd=shared,
        )
        assert done.returncode == 0, done.stderr
        assert_repaired(store)
    assert done.stdout == ""
    assert_all_the_users(store, user, shared)
    assert not Path("/root/.openclaw/devices/scopemigrate-ledger.json").exists()


def test_the_environment_names_the_user_for_sudo_npm(
    user: pwd.struct_passwd, shared: Path, home_store: Path
) -> None:
    store = home_store
    result = run_cli(
        "hook",
        "--installed-version",
        "2026.2.19",
        env={"HOME": "/root", "SCOPEMIGRATE_AS_USER": user.pw_name},
    )
    assert result.returncode == 0, result.stderr
    assert str(store) in result.stdout
    assert_repaired(store)
    assert_all_the_users(store, user, shared)


def test_as_user_on_a_store_another_user_owns_is_refused(
    user: pwd.struct_passwd, shared: Path
) -> None:
    store = give_store(MIXED, shared, user)
    chown_tree(store, pwd.getpwnam("root"))
    before = store_files(store)
    result = run_cli(
        "hook", "--installed-version", "2026.2.19", "--store", str(store), "--as-user", user.pw_name
    )
    assert result.returncode == PERMISSION_EXIT, result.stderr
    assert "not by --as-user" in result.stderr and len(result.stderr.splitlines()) == 1
    assert store_files(store) == before


def test_only_root_may_act_as_another_user(user: pwd.struct_passwd, shared: Path) -> None:
    store = give_store(MIXED, shared, user)
    config = load_config(store=str(store), env={})
    child = os.fork()
    if child == 0:  # as the user, in a child: giving up root is for good
        code = 1
        try:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            try:
                act_for_store(config, "root")
            except StorePermissionError as exc:
                code = 0 if "only root" in str(exc) else 2
            assert act_for_store(config, user.pw_name).env["HOME"] == user.pw_dir
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_file_root_left_in_the_users_store_is_refused(
    user: pwd.struct_passwd, shared: Path
) -> None:
    """An older release's root run left a root-owned ledger: say so, change nothing."""
    store = give_store(MIXED, shared, user)
    leftover = store / "devices" / "scopemigrate-ledger.json"
    leftover.write_text('{"format": 1, "heads": []}')
    before = store_files(store)
    result = run_cli("upgrade", "head", "--store", str(store))
    assert result.returncode == PERMISSION_EXIT, result.stderr
    assert str(leftover) in result.stderr and "chown -R" in result.stderr
    assert store_files(store) == before


def test_a_root_run_on_roots_own_store_keeps_modes(mixed: Path) -> None:
    """Backups are hard links: making them private must not change the live file."""
    paired = mixed / "devices" / "paired.json"
    os.chmod(paired, 0o644)
    result = run_cli("upgrade", "head", "--store", str(mixed))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(paired).st_mode) == 0o644
    assert any((mixed / "devices" / "scopemigrate-backups").iterdir())


def test_a_replaced_file_keeps_its_owner_group_and_mode(
    user: pwd.struct_passwd, shared: Path
) -> None:
    target = shared / "file.json"
    target.write_bytes(b"old")
    os.chown(target, user.pw_uid, user.pw_gid)
    os.chmod(target, 0o604)
    write_private(target, b"new")  # as root
    st = os.stat(target)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (user.pw_uid, user.pw_gid, 0o604)
    assert target.read_bytes() == b"new"
    fresh = shared / "new.json"
    write_private(fresh, b"x")
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o600


def test_migration_files_the_owner_cannot_read_are_refused(
    user: pwd.struct_passwd, shared: Path, tmp_path: Path
) -> None:
    """Acting as the owner, the run could not read them: say so before anything."""
    store = give_store(MIXED, shared, user)
    chain = tmp_path / "chain"  # pytest's tmp_path: root's alone
    shutil.copytree(Path(__file__).parent.parent / "migrations", chain)
    before = store_files(store)
    result = run_cli("upgrade", "head", "--store", str(store), "--migrations", str(chain))
    assert result.returncode == PERMISSION_EXIT, result.stderr
    assert str(chain) in result.stderr and len(result.stderr.splitlines()) == 1
    assert store_files(store) == before


def test_sudo_from_roots_own_folder_detects_the_version_as_the_owner(
    user: pwd.struct_passwd, shared: Path, tmp_path: Path
) -> None:
    """cwd is a folder only root can search (sudo from /root): the run, acting as the
    owner, neither re-reads the configuration there nor trips over node_modules."""
    store = give_store(MIXED, shared, user)
    bin_dir = shared / "bin"
    fake_program(bin_dir, "openclaw", "OpenClaw 2026.2.19 (abc1234)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCOPEMIGRATE_", "OPENCLAW_"))}
    env["PATH"] = os.pathsep.join([str(bin_dir), str(Path(cli_path()).parent), "/usr/bin:/bin"])
    env["HOME"] = "/root"
    for _ in range(2):  # the repair, then the no-op
        done = run_with(
            [cli_path(), "hook", "--store", str(store), "--as-user", user.pw_name],
            cwd=tmp_path,  # pytest's: root's alone
            env=env,
        )
        assert done.returncode == 0, done.stderr
        assert_repaired(store)
    assert_all_the_users(store, user, shared)
