"""Why checks by path suffice: no one but the owner (or root) can swap a store's folders.

The JSON store checks each name (``lstat``, ``O_NOFOLLOW``) and then uses it
by path. Between the two, only someone who can write to a folder on the way
can swap a name. Before writing, a run refuses a store when anyone but root
and the store's owner could (an owner of a folder above it, a group or others
with write access, no sticky bit); as root it acts with the owner's rights
(``ownership.py``), so the one who could still swap gains nothing.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest
from conftest import copy_store, run_cli
from hostile import assert_clean_refusal, tree_state
from unprivileged import as_user, give_store, reachable_dir, unprivileged_user

BAD_STORE = 5


def assert_refused_untouched(store: Path, folder: Path) -> None:
    before = tree_state(store)
    done = run_cli("upgrade", "head", "--store", str(store))
    assert_clean_refusal(done, BAD_STORE)
    assert str(folder) in done.stderr and "swap" in done.stderr
    assert tree_state(store) == before


@pytest.mark.parametrize("mode", [0o775, 0o757])
def test_a_folder_above_the_store_others_may_write_to_is_refused(tmp_path: Path, mode: int) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path / "shared")
    os.chmod(tmp_path / "shared", mode)
    assert_refused_untouched(store, tmp_path / "shared")


def test_a_sticky_folder_above_the_store_is_not_a_swap(tmp_path: Path) -> None:
    """In a sticky folder (``/tmp``) others may rename only their own entries."""
    store = copy_store("2026.2.15-mixed", tmp_path / "sticky")
    os.chmod(tmp_path / "sticky", 0o1777)
    assert run_cli("upgrade", "head", "--store", str(store)).returncode == 0


def test_a_store_below_a_folder_another_user_owns_is_refused() -> None:
    """That user could swap the store's folder under root's run: shown, then refused."""
    user = unprivileged_user()
    with reachable_dir() as shared:
        theirs = shared / "theirs"
        theirs.mkdir(mode=0o755)
        os.chown(theirs, user.pw_uid, user.pw_gid)
        store = copy_store("2026.2.15-mixed", theirs)  # root's store, in their folder
        moved = as_user(user, "mv", str(store), str(theirs / "swapped"), cwd=shared)
        assert moved.returncode == 0, moved.stderr  # they can swap it
        assert as_user(user, "mv", str(theirs / "swapped"), str(store), cwd=shared).returncode == 0
        assert_refused_untouched(store, theirs)


def test_only_the_owner_can_swap_the_folders_of_a_store_root_runs_on() -> None:
    """The supported layout: a user's store below folders root owns. Another user
    cannot rename the store's folders, and root's run (as the owner) goes ahead."""
    user = unprivileged_user()
    other = pwd.getpwnam("nobody")
    with reachable_dir() as shared:
        store = give_store("2026.2.15-mixed", shared, user)
        os.chmod(store, 0o755)  # reachable, as a home folder often is
        for victim in (store, store / "devices"):
            tried = as_user(other, "mv", str(victim), str(shared / "swapped"), cwd=shared)
            assert tried.returncode != 0 and "Permission denied" in tried.stderr
        assert (
            as_user(user, "mv", str(store / "devices"), str(store / "moved"), cwd=shared).returncode
            == 0
        )
        assert (
            as_user(user, "mv", str(store / "moved"), str(store / "devices"), cwd=shared).returncode
            == 0
        )
        done = run_cli("upgrade", "head", "--store", str(store))
        assert done.returncode == 0, done.stderr
        owners = {path.stat().st_uid for path in (store / "devices").iterdir()}
        assert owners == {user.pw_uid}  # it acted as the owner, who alone could swap
