"""The at-head mark: which migration files a store was last left at the head of.

A run that leaves a store at the head of its migration files records, in the
ledger's first bytes, a digest of those files (``Ledger.at_head_of``). A later
``upgrade head`` whose files have the same digest has nothing to do, and can
say so after reading a few kilobytes of the ledger and the files' bytes:
no TOML, no JSON, no store. Any change to any file (a new release's
migration, an edit), another set of locations, or a run that leaves the store
anywhere else, breaks the match, and the full run decides.

Only ``os``, ``sys`` and ``re`` here (the console script has loaded them all):
this module is the whole cost of the answer it gives.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence

try:
    # hashlib's own BLAKE2, without the ~3 ms of importing OpenSSL's bindings.
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter without the module
    from hashlib import blake2b

ENTRY_POINT_GROUP = "scopemigrate.migrations"
LEDGER_NAME = "scopemigrate-ledger.json"
JOURNAL_NAME = "scopemigrate-journal.json"

# The ledger is written with its format, heads and mark first (see ledger.py).
_MARKED_LEDGER = re.compile(
    rb'\A\{\s*"format":\s*1,\s*"heads":\s*\[([^\]]*)\],\s*"at_head_of":\s*"([0-9a-f]{64})"'
)
_PLAIN_ID = re.compile(rb'\s*"([A-Za-z0-9_.\-]+)"\s*')
_LEDGER_PREFIX_BYTES = 4096


def shipped_migrations_path() -> str:
    """The OpenClaw chain shipped with scopemigrate.

    A wheel carries it inside the package; a checkout or an editable install
    finds the repository's top-level ``migrations/``.
    """
    here = os.path.dirname(os.path.realpath(__file__))
    packaged = os.path.join(here, "migrations")
    if os.path.isdir(packaged):
        return packaged
    return os.path.join(os.path.dirname(here), "migrations")


def plugin_group_may_be_registered() -> bool:
    """False only when no installed distribution can declare our entry point group.

    A cheap look at the ``entry_points.txt`` files of the folders on
    ``sys.path``; anything it cannot see through (a zip or egg file on the
    path) counts as "may", and ``importlib.metadata`` then decides.
    """
    marker = f"[{ENTRY_POINT_GROUP}]".encode()
    for entry in sys.path:
        folder = entry or "."
        if not os.path.isdir(folder):
            if os.path.exists(folder):
                return True  # a zip or egg: let importlib.metadata read it
            continue
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(folder, name, "entry_points.txt"), "rb") as handle:
                        if marker in handle.read():
                            return True
                except OSError:
                    continue
    return False


def migration_file_names(location: str | os.PathLike[str]) -> list[str]:
    """The names of a location's migration files, in the order runs load them.

    Every ``*.toml`` entry, hidden ones included (as ``Path.glob`` lists
    them): the loader and the digest must see the same files.
    """
    return sorted(name for name in os.listdir(location) if name.endswith(".toml"))


def digest_of(locations: Iterable[Iterable[tuple[str, bytes]]]) -> str:
    """The digest of migration files given as (name, bytes), location by location."""
    digest = blake2b(digest_size=32)
    for files in locations:
        digest.update(b"location\0")
        for name, data in files:
            encoded = name.encode("utf-8", "surrogateescape")
            digest.update(b"%d:%s%d:" % (len(encoded), encoded, len(data)))
            digest.update(data)
    return digest.hexdigest()


def files_digest(locations: Sequence[str | os.PathLike[str]]) -> str | None:
    """``digest_of`` the migration files of ``locations`` as they are on disk.

    Covers each file's name and bytes, so any edit, addition or removal
    changes it. None when a location or file cannot be read (the full run
    then explains).
    """
    try:
        return digest_of(
            [(name, _read(os.path.join(location, name))) for name in migration_file_names(location)]
            for location in locations
        )
    except OSError:
        return None


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def read_mark(ledger_path: str) -> tuple[list[str], str] | None:
    """(heads, mark) from a ledger's first bytes, or None when it holds no mark."""
    try:
        with open(ledger_path, "rb") as handle:
            start = handle.read(_LEDGER_PREFIX_BYTES)
    except OSError:
        return None
    found = _MARKED_LEDGER.match(start)
    if found is None:
        return None
    heads: list[str] = []
    for item in found.group(1).split(b","):
        plain = _PLAIN_ID.fullmatch(item)
        if plain is None:
            return None  # an unusual id: leave it to the JSON parser
        heads.append(plain.group(1).decode("ascii"))
    return (heads, found.group(2).decode("ascii")) if heads else None


def marked_at_head(state_dir: str, locations: Sequence[str]) -> list[str] | None:
    """The heads of a JSON store certainly at the head of ``locations``' files, else None.

    ``locations`` are the folders given on the command line or in the
    environment, or empty for the default (the shipped chain, when no plugin
    may add to it).
    """
    devices = os.path.join(state_dir, "devices")
    if (
        not os.path.isfile(os.path.join(devices, "paired.json"))
        or os.path.exists(os.path.join(devices, JOURNAL_NAME))  # a commit to recover
        or os.path.exists(os.path.join(state_dir, "state", "openclaw.sqlite"))
    ):
        return None
    if not locations:
        if plugin_group_may_be_registered():
            return None
        locations = [shipped_migrations_path()]
    mark = read_mark(os.path.join(devices, LEDGER_NAME))
    if mark is None:
        return None
    heads, digest = mark
    return heads if files_digest(locations) == digest else None
