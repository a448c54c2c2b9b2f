"""The store's folder as a trust boundary (see docs/threat-model.md).

Everything in a state dir is written by a less trusted user than the one who
may run the tool (root, from an install step). Each name the JSON store
touches is a name inside ``devices/`` or its backups folder, and:

- ``devices/`` and the backups folder are real directories, never links (a
  ``devices/`` linked to another user's store would have that store migrated);
- a store file is a regular file opened without following a link
  (``jsontext.open_regular``), with one link and the folder's owner: a hard
  link shares its inode with a file elsewhere, which a run must never change.
  The links allowed besides are the store's own backups of it (a backup links
  the files of the store; a file a commit did not replace stays linked there);
- pruning deletes only backup folders, by the name a backup is given, never
  through a link;
- before anything is written, ``devices/`` and every folder above it (as the
  path resolves) is writable only by root or the store's owner, or is sticky
  (``/tmp``): the checks are by path, and only those who can write a folder
  can swap the names in it between a check and the use; the run acts with the
  owner's rights (``ownership.py``), so they would gain nothing.

Standard library only.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

from scopemigrate.errors import BadStoreError

__all__ = ["BACKUP_NAME", "backup_folders", "check_file", "check_folders", "prune", "real_dir"]

# What a backup folder is called: its UTC time (store.py names them so).
BACKUP_NAME = re.compile(r"\A\d{8}T\d{6}\.\d{6}Z\Z")


def real_dir(path: Path) -> os.stat_result | None:
    """``path``'s status when it is a real directory; None when absent; a link or
    anything else is refused."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        raise BadStoreError(
            f"{path}: is a symbolic link; scopemigrate works only inside the store's own "
            "folder and follows no link out of it (replace the link by the folder)"
        )
    if not stat.S_ISDIR(st.st_mode):
        raise BadStoreError(f"{path}: is not a directory; refused")
    return st


def backup_folders(root: Path) -> list[Path]:
    """The backup folders in ``root``, oldest first: real directories named as a
    backup is named (anything else there is not ours, and is left alone)."""
    if real_dir(root) is None:
        return []
    found = []
    for entry in os.scandir(root):
        if BACKUP_NAME.match(entry.name) and entry.is_dir(follow_symlinks=False):
            found.append(root / entry.name)
    return sorted(found)


def prune(root: Path, keep: int, max_bytes: int | None = None) -> None:
    """Delete all but the ``keep`` newest backup folders of ``root``, then, oldest
    first, while the rest hold more than ``max_bytes`` (the newest is always kept).

    ``shutil.rmtree`` removes a tree without following the links in it
    (``rmtree.avoids_symlink_attacks`` on Linux); ``backup_folders`` never
    names a link.
    """
    folders = backup_folders(root)
    for old in folders[: -keep if keep > 0 else None]:
        shutil.rmtree(old, ignore_errors=True)
    kept = folders[-keep:] if keep > 0 else []
    while max_bytes is not None and len(kept) > 1 and _held_bytes(kept) > max_bytes:
        shutil.rmtree(kept.pop(0), ignore_errors=True)


def _held_bytes(folders: list[Path]) -> int:
    """The bytes these backups hold, each file once (hard links share an inode). A
    backup of the files a run replaces shares them with the live store until the
    commit, and is its own after: it counts in full."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder in folders:
        for path in folder.iterdir():
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def check_file(path: Path, st: os.stat_result, owner: int, backups: Path) -> None:
    """Refuse a store file with another owner than its folder's, or a second link
    anywhere but in the store's latest backup."""
    if st.st_uid != owner:
        raise BadStoreError(
            f"{path}: owned by uid {st.st_uid}, not by the store folder's owner "
            f"(uid {owner}); refused (give it back: chown {owner} {path})"
        )
    if st.st_nlink > 1 and st.st_nlink != 1 + _links_in_backups(path.name, st, backups):
        raise BadStoreError(
            f"{path}: has {st.st_nlink} hard links, so it shares its content with a file "
            "outside the store; refused (replace it by a copy: cp --remove-destination)"
        )


def _links_in_backups(name: str, st: os.stat_result, backups: Path) -> int:
    """How many of the store's own backups hold ``st``'s inode as ``name`` (a backup
    links the files a commit replaces; a file a commit kept stays linked there)."""
    count = 0
    for folder in backup_folders(backups):
        try:
            linked = os.lstat(folder / name)
        except FileNotFoundError:
            continue
        count += (linked.st_dev, linked.st_ino) == (st.st_dev, st.st_ino)
    return count


def check_folders(folder: Path, owner: int) -> None:
    """Refuse when anyone but root and ``owner`` could rename what is in ``folder``
    or in a folder above it: its owner, or a group or others who may write to it
    (a sticky folder lets them rename only their own entries)."""
    current = Path(os.path.realpath(folder))
    for each in (current, *current.parents):
        st = os.lstat(each)
        if st.st_uid not in (0, owner):
            raise BadStoreError(
                f"{each}: owned by uid {st.st_uid}, who could swap the store's folders "
                f"under a run on behalf of uid {owner}; refused (keep the store in "
                "folders only its owner or root owns)"
            )
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
            raise BadStoreError(
                f"{each}: writable by its group or others (mode {stat.S_IMODE(st.st_mode):04o}), "
                "who could swap the store's files under a run; refused (chmod go-w "
                f"{each})"
            )
