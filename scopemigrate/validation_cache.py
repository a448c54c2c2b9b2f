"""The validation cache: migration files this very build of scopemigrate has loaded.

``scopemigrate heads`` must report a migration file its models refuse (an
unknown operation kind, a malformed scope), and only loading every file with
pydantic tells that: importing pydantic and building the models costs several
interpreter starts. So a load that validated every file (``MigrationFiles``:
``heads``, ``check``, any run) leaves a record that those exact bytes passed,
and the console script's quick ``heads`` answers from the files' graph fields
when such a record vouches for them, as Python's ``__pycache__`` answers from
bytecode compiled once.

A record is keyed on everything that decides the verdict:

- the files: each migration folder's file names and exact bytes, folder by
  folder (``migration_files.digest_of``, the digest the at-head mark uses);
- the validating code: the scopemigrate version, where the package is and the
  size and modification time of each of its modules (a development install
  changes with every edit), the interpreter's version, and the installed
  releases of pydantic and the packages its validation rests on.

Only a positive verdict is recorded: a file refused is refused by the full
path every time. The records live where a user's cache belongs
(``$SCOPEMIGRATE_CACHE_DIR``, else ``$XDG_CACHE_HOME/scopemigrate``, else
``~/.cache/scopemigrate``; ``SCOPEMIGRATE_NO_CACHE=1`` turns them off), one
file per key, written to a temporary name and renamed. A record is believed
only when it and its folder belong to the current user and no one else may
write to them (a record planted by another user would make ``heads`` skip
validation). Nothing here ever fails a command: a cache that cannot be read or
written (a read-only home, a full disk, garbage in a file) is a cache miss,
and the full path answers.

Only the standard library at import: the quick path reads the records.
"""

from __future__ import annotations

import os
import stat
import sys

from scopemigrate import __version__
from scopemigrate.migration_files import digest_of

__all__ = [
    "CACHE_DIR_ENV",
    "NO_CACHE_ENV",
    "cache_folder",
    "record_validated",
    "validated",
]

CACHE_DIR_ENV = "SCOPEMIGRATE_CACHE_DIR"
NO_CACHE_ENV = "SCOPEMIGRATE_NO_CACHE"
# Backup tools that honour https://bford.info/cachedir/ skip the folder.
_CACHEDIR_TAG = (
    b"Signature: 8a477f597d28d172789f06886806bc55\n"
    b"# This folder is a cache of scopemigrate's (docs/cache.md); it may be deleted.\n"
)
# The records' own folder (the cache may hold other rooms later).
_RECORDS = "validated"
# At most this many records; a write beyond it keeps the newest _KEEP.
_MAX_RECORDS = 256
_KEEP = 128
# The distributions whose code decides whether a migration file validates.
_DEPENDENCIES = frozenset(
    (
        "pydantic",
        "pydantic_core",
        "packaging",
        "annotated_types",
        "typing_extensions",
        "typing_inspection",
    )
)

_identity: bytes | None = None  # computed once a process


def cache_folder() -> str | None:
    """The scopemigrate cache folder, or None when the cache is off or has no home.

    ``$SCOPEMIGRATE_CACHE_DIR`` names it; else ``$XDG_CACHE_HOME/scopemigrate``
    (the variable counts only when it is an absolute path, as the XDG
    specification says), else ``~/.cache/scopemigrate``. A folder that is not
    absolute (no home to expand ``~`` to) turns the cache off, so that the
    cache never depends on the working directory.
    """
    env = os.environ
    if env.get(NO_CACHE_ENV, "") not in ("", "0"):
        return None
    folder = os.path.expanduser(env.get(CACHE_DIR_ENV, ""))
    if not folder:
        base = env.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(base):
            base = os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "scopemigrate")
    return folder if os.path.isabs(folder) else None


def validated(files_digest: str) -> bool:
    """Whether a trusted record says this build validated the files of ``files_digest``."""
    try:
        folder = cache_folder()
        records = None if folder is None else _open_own_folder(os.path.join(folder, _RECORDS))
        if records is None:
            return False
        try:
            return _holds(records, _key(files_digest))
        finally:
            os.close(records)
    except (OSError, ValueError):  # ValueError: a NUL in a path from the environment
        return False


def record_validated(files_digest: str) -> None:
    """Record that this build loaded and validated every file of ``files_digest``.

    Called by the full path after such a load only. Best effort: any failure
    leaves the cache as it was, and the command goes on.
    """
    try:
        folder = cache_folder()
        if folder is None:
            return
        records_path = os.path.join(folder, _RECORDS)
        if not os.path.isdir(records_path):
            if not _ours_to_create(records_path):
                return
            os.makedirs(records_path, mode=0o700, exist_ok=True)
            _tag(folder)
        records = _open_own_folder(records_path)
        if records is None:
            return  # another user's folder, or one others may write to: not ours to fill
        try:
            name = _key(files_digest)
            if not _holds(records, name):
                _publish(records, name, _content(name))
                _prune(records)
        finally:
            os.close(records)
    except (OSError, ValueError):
        return


# --- the key ------------------------------------------------------------------------------


def _key(files_digest: str) -> str:
    """The record's name: the files' digest bound to the identity of the validating code."""
    return digest_of([[("files", files_digest.encode("ascii")), ("code", _code_identity())]])


def _content(name: str) -> bytes:
    # The name again: a record torn by a crash, emptied or overwritten is no record.
    return f"scopemigrate validated {name}\n".encode("ascii")


def _code_identity() -> bytes:
    """What identifies the code that validates: see the module's docstring."""
    global _identity
    if _identity is None:
        package = os.path.dirname(os.path.abspath(__file__))
        lines = [
            f"scopemigrate {__version__} at {package}",
            f"python {sys.version} {sys.implementation.cache_tag}",
            *_modules(package, ""),
            *_distributions(),
        ]
        _identity = "\n".join(lines).encode("utf-8", "surrogateescape")
    return _identity


def _modules(folder: str, prefix: str) -> list[str]:
    """Each module of the package (name, size, modification time), in name order."""
    found: list[str] = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.endswith(".py") and entry.is_file():
                info = entry.stat()
                found.append(f"{prefix}{entry.name} {info.st_size} {info.st_mtime_ns}")
            elif entry.is_dir() and entry.name not in ("__pycache__", "migrations"):
                found.extend(_modules(entry.path, f"{prefix}{entry.name}/"))
    return found


def _distributions() -> list[str]:
    """The installed releases of ``_DEPENDENCIES`` on ``sys.path``, in its order, each
    with its metadata folder's modification time (a reinstall changes it)."""
    found: list[str] = []
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except OSError:
            continue  # not a folder (a zip: its own path and no more), or unreadable
        for name in sorted(names):
            if name.endswith(".dist-info") and name.split("-")[0].lower() in _DEPENDENCIES:
                mtime = os.stat(os.path.join(folder, name)).st_mtime_ns
                found.append(f"{folder}/{name} {mtime}")
    return found


# --- the records on disk ------------------------------------------------------------------


def _trusted(info: os.stat_result) -> bool:
    """Ours, and writable by no one else (root may write anything anyway)."""
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _ours_to_create(path: str) -> bool:
    """Whether this process may create ``path``'s missing folders.

    Not root inside another user's folder: ``sudo scopemigrate ...`` keeps the
    user's ``$HOME`` on many systems, and folders root made in that user's cache
    would be ones the user can neither fill nor remove (so their own ``heads``
    would never be quick again). Any other user can only create folders where
    the system lets them, and those are then theirs.
    """
    if os.geteuid() != 0:
        return True
    nearest = path
    while not os.path.lexists(nearest):
        parent = os.path.dirname(nearest)
        if parent == nearest:
            break
        nearest = parent
    return os.lstat(nearest).st_uid == 0


def _open_own_folder(path: str) -> int | None:
    """The records' folder opened (no link followed), or None when it is not trusted."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    if _trusted(os.fstat(fd)):
        return fd
    os.close(fd)
    return None


def _holds(records: int, name: str) -> bool:
    """Whether the folder holds a trusted record ``name`` with the expected content."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # no FIFO wait
    try:
        fd = os.open(name, flags, dir_fd=records)
    except OSError:
        return False
    try:
        info = os.fstat(fd)  # of what was opened: no check-then-open race
        expected = _content(name)
        return (
            stat.S_ISREG(info.st_mode)
            and _trusted(info)
            and os.read(fd, len(expected) + 1) == expected
        )
    finally:
        os.close(fd)


def _publish(records: int, name: str, data: bytes) -> None:
    """Write ``name`` whole or not at all: a temporary file renamed over it.

    No fsync: after a crash the record is missing, empty or torn, and each of
    those is a miss (``_holds`` compares the content), never a false record.
    """
    temp = f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    _write_new(records, temp, data)
    try:
        os.replace(temp, name, src_dir_fd=records, dst_dir_fd=records)
    except OSError:
        os.unlink(temp, dir_fd=records)
        raise


def _write_new(folder: int, name: str, data: bytes) -> None:
    """Create ``name`` in ``folder`` (a descriptor) holding ``data``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(name, flags, 0o600, dir_fd=folder)
    try:
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        os.unlink(name, dir_fd=folder)
        raise OSError(f"{name}: short write")


def _tag(folder: str) -> None:
    """Mark a new cache folder as one (CACHEDIR.TAG), when it is ours."""
    top = _open_own_folder(folder)
    if top is None:
        return
    try:
        _write_new(top, "CACHEDIR.TAG", _CACHEDIR_TAG)
    except FileExistsError:
        pass
    finally:
        os.close(top)


def _prune(records: int) -> None:
    """Past ``_MAX_RECORDS`` records (each edit of a file makes one), keep the newest."""
    names = os.listdir(records)
    if len(names) <= _MAX_RECORDS:
        return
    dated = []
    for name in names:
        try:
            dated.append((os.stat(name, dir_fd=records, follow_symlinks=False).st_mtime_ns, name))
        except OSError:
            continue
    for _, name in sorted(dated)[: len(dated) - _KEEP]:
        try:
            os.unlink(name, dir_fd=records)
        except OSError:
            continue
