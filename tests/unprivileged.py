"""A real unprivileged user, for the tests of runs as root on a user's store.

CI is a fresh machine where the tests run as root: the user is created here,
once, with ``useradd`` (its home holds the store OpenClaw's rules find for it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import copy_store

USER_NAME = "scopemigrate-test"


def unprivileged_user() -> pwd.struct_passwd:
    """The test user, created when missing; skips unless the tests run as root."""
    if os.geteuid() != 0:
        pytest.skip("runs as root on another user's store: needs root (CI runs as root)")
    try:
        return pwd.getpwnam(USER_NAME)
    except KeyError:
        pass
    done = subprocess.run(
        ["useradd", "--create-home", "--user-group", "--shell", "/usr/sbin/nologin", USER_NAME],
        capture_output=True,
        text=True,
        check=False,
    )
    try:  # another test session may have created it meanwhile
        return pwd.getpwnam(USER_NAME)
    except KeyError:
        raise AssertionError(f"useradd {USER_NAME} failed: {done.stderr.strip()}") from None


def chown_tree(root: Path, user: pwd.struct_passwd) -> None:
    for folder, _dirs, files in os.walk(root):
        os.chown(folder, user.pw_uid, user.pw_gid)
        for name in files:
            os.chown(Path(folder) / name, user.pw_uid, user.pw_gid)


def give_store(name: str, dest: Path, user: pwd.struct_passwd) -> Path:
    """A copy of a fixture store owned by ``user``, with OpenClaw's modes."""
    target = copy_store(name, dest)
    chown_tree(target, user)
    return target


@contextmanager
def reachable_dir() -> Iterator[Path]:
    """A folder every user can reach (pytest's own tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="scopemigrate-owner-"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def as_user(user: pwd.struct_passwd, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with ``user``'s rights alone (the gateway's, say)."""
    env = {"HOME": user.pw_dir, "PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    env["XDG_CACHE_HOME"] = os.environ["XDG_CACHE_HOME"]  # the test's (conftest), not a home's
    return subprocess.run(
        list(argv),
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
