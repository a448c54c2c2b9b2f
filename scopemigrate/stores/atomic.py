"""Atomic file replacement: temp file in the same directory, fsync, rename.

A replaced file keeps its owner, group and mode: the new file is given them
before it takes the old one's name, so the program that owns the store reads
it as before (a gateway running as its user, a group-readable ``paired.json``).
A file that is new is private (0600) and belongs to whoever runs, which under
root is the store's owner (see ``ownership.py``).
"""

from __future__ import annotations

import ctypes
import errno
import io
import os
import re
import secrets
import stat
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, BinaryIO

from scopemigrate.errors import StorePermissionError

PRIVATE_MODE = 0o600
TEMP_SUFFIX = ".scopemigrate-tmp"
# Another program's version of a file that our swap displaced, kept under a name
# no cleanup deletes (unlike a temp file's) until what we publish holds it.
DISPLACED_SUFFIX = ".scopemigrate-displaced"
# What write_temp names a temp file for ``<name>`` (``.<name>.<hex>`` and the
# suffix; older releases' journals name other plain tokens there): the only
# names a commit journal may give. Never a path: no "/", no "..".
TEMP_NAME = re.compile(
    r"\A\.(?P<target>[A-Za-z0-9_-][A-Za-z0-9_.-]*)\.[A-Za-z0-9_-]+" + re.escape(TEMP_SUFFIX) + r"\Z"
)


def temp_target(name: str) -> str | None:
    """The file a temp file named ``name`` was written to replace; None when
    ``name`` is not a temp file's name."""
    found = TEMP_NAME.match(name)
    return None if found is None else found.group("target")


# (inode, size, mtime in ns): tells one version of a file from another.
Identity = tuple[int, int, int]

# A new file's content: its bytes, or what writes them to an open file (a large
# file is then written as it is made, never held whole beside the old one).
Content = bytes | Callable[[BinaryIO], object]


def content_bytes(content: Content) -> bytes:
    """``content``'s bytes (made when it is a writer)."""
    if isinstance(content, bytes):
        return content
    out = io.BytesIO()
    content(out)
    return out.getvalue()


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def take_after(fd: int, path: Path) -> None:
    """Give the open file ``fd`` the owner, group and mode of the file at ``path``
    (when there is one: a new file stays as created)."""
    try:
        old = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(old.st_mode):
        return  # the store's reader refuses it; nothing to copy from
    new = os.fstat(fd)
    if (new.st_uid, new.st_gid) != (old.st_uid, old.st_gid):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except PermissionError:
            raise StorePermissionError(
                f"{path}: owned by uid {old.st_uid} gid {old.st_gid}, which this run "
                f"(uid {new.st_uid} gid {new.st_gid}) cannot give its replacement; run as "
                "the file's owner, or as root; nothing was changed"
            ) from None
    os.fchmod(fd, stat.S_IMODE(old.st_mode))


def write_temp(path: Path, data: Content) -> Path:
    """Write ``data`` to a temp file beside ``path``, fsynced, ready to replace it:
    with ``path``'s owner, group and mode, or private (0600) when ``path`` is new."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            take_after(handle.fileno(), path)
            if isinstance(data, bytes):
                handle.write(data)
            else:
                data(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, keeping its owner, group and mode
    (a new file: 0600, the runner's).

    A reader sees the old file or the new one, never a torn one.
    """
    tmp = write_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def identity(path: Path) -> Identity | None:
    """What tells one version of a file from another without reading it.

    Every writer we share the file with replaces it by rename (a new inode), and
    an in-place edit changes size or mtime.
    """
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


# renameat2(2) with RENAME_EXCHANGE swaps two names atomically: the file we
# displace stays reachable, so we can see whether someone replaced the target
# after we last looked, and put their version back instead of losing it.
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV}


def _load_renameat2() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None


_renameat2 = _load_renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap the files named ``a`` and ``b``.

    Returns False, having done nothing, where the platform or file system
    cannot (the caller then falls back to a plain rename).
    """
    if _renameat2 is None:
        return False
    result = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED or code == errno.ENOENT:
        return False
    raise OSError(code, os.strerror(code), str(b))


def set_aside(tmp: Path, path: Path, known: Collection[Identity | None]) -> Path | None:
    """Once ``exchange(tmp, path)`` swapped our file in: what it displaced (now at
    ``tmp``) is deleted when it is one of the ``known`` versions (the one read,
    ones we published), else kept aside and returned, for the caller to rebase
    onto: another program's write, never lost."""
    if identity(tmp) in known:
        tmp.unlink()
        return None
    kept = tmp.with_name(f".{path.name}.{secrets.token_hex(6)}{DISPLACED_SUFFIX}")
    os.rename(tmp, kept)  # a temp file's name would be cleaned up by the next run
    return kept
