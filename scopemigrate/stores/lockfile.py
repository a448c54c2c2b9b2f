"""The JSON store's lock file, opened the way every store file is: never through a link.

A lock file is a name in the store's folder, and the folder is input (see
docs/threat-model.md): a lock file that is a symlink would make ``open(...,
O_CREAT)`` create or truncate whatever it points to (filelock 3.13 truncated
it), as whoever runs. So the lock is opened with ``O_NOFOLLOW`` and must be a
regular file with one link, then held with ``flock`` (the call filelock makes,
so runs of older releases still exclude each other).

On a read-only file system no one can write the store, so no one needs to be
kept out: ``hold`` then reports ``False`` and the caller may read without a
lock, and must refuse to write.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scopemigrate.errors import BadStoreError, LockTimeoutError
from scopemigrate.stores.jsontext import open_no_link

__all__ = ["hold"]

LOCK_MODE = 0o600
# How often a waiting run tries again (filelock's own default poll).
POLL_SECONDS = 0.05


def _open(path: Path) -> int | None:
    """The lock file's descriptor; None on a read-only file system."""
    fd = open_no_link(
        path,
        os.O_RDWR | os.O_CREAT,
        mode=LOCK_MODE,
        none_on=(errno.EROFS,),
        link="the lock file is a symbolic link; scopemigrate opens no link in the store "
        "(remove it: a run creates the lock file it needs)",
        failure="cannot open the lock file",
    )
    if fd is None:
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        raise BadStoreError(
            f"{path}: the lock file is not a plain file of its own "
            f"({'links: ' + str(st.st_nlink) if stat.S_ISREG(st.st_mode) else 'not a file'}); "
            "remove it: a run creates the lock file it needs"
        )
    return fd


@contextmanager
def hold(path: Path, timeout: float, holder: str) -> Iterator[bool]:
    """Hold the lock at ``path`` for the block, waiting at most ``timeout`` seconds.

    Yields True when held, False when the file system is read-only (nothing
    can write the store, nothing needs keeping out). ``holder`` names what the
    lock protects, for the timeout's message.
    """
    fd = _open(path)
    if fd is None:
        yield False
        return
    try:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeoutError(
                        f"{holder}: another scopemigrate run holds the lock; gave up after "
                        f"{timeout:g}s (raise --lock-timeout to wait longer)"
                    ) from None
                time.sleep(POLL_SECONDS)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
