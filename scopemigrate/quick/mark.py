"""The at-head mark: which migration files a JSON store was last left at the head of.

A run that leaves a store at the head of its migration files records, in the
ledger's first bytes, a digest of those files (``Ledger.at_head_of``, computed
by ``MigrationFiles.mark_for``). A later ``upgrade head`` whose files have the
same digest has nothing to do, and can say so after reading a few kilobytes of
the ledger and the files' bytes: no TOML, no JSON, no store. Any change to any
file (a new release's migration, an edit), another set of locations, or a run
that leaves the store anywhere else, breaks the match, and the full run decides.

Only ``os`` (and ``re`` when a pyproject.toml is in view) and the stdlib-only
fact modules here: this module is the whole cost of the answer it gives.
"""

from __future__ import annotations

import os

from scopemigrate.config_files import PYPROJECT, STANDALONE, search_folders
from scopemigrate.errors import ConfigError, ScopemigrateError
from scopemigrate.migration_files import (
    at_head_mark,
    files_digest,
    plugin_group_may_be_registered,
    shipped_migrations_path,
)
from scopemigrate.ownership import AS_USER_ENV
from scopemigrate.stores.jsontext import open_regular
from scopemigrate.stores.layout import (
    DEVICES_DIR,
    LEDGER_FORMAT,
    LEDGER_PREFIX_BYTES,
    PAIRED_NAME,
    OpenClawLayout,
    parse_store_spec,
    read_ledger_prefix,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["marked_at_head", "marked_store", "read_mark"]


def read_mark(ledger_path: str) -> tuple[list[str], str] | None:
    """(heads, mark) from a ledger's first bytes, or None when it holds no mark."""
    try:
        fd = open_regular(ledger_path)  # never a link, a FIFO or a device
    except ScopemigrateError:
        return None  # the full run names it
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as handle:
        start = handle.read(LEDGER_PREFIX_BYTES)
    prefix = read_ledger_prefix(start)
    if prefix is None or prefix.format != LEDGER_FORMAT or prefix.at_head_of is None:
        return None
    return (prefix.heads, prefix.at_head_of) if prefix.heads else None


def marked_at_head(state_dir: str, locations: Sequence[str]) -> list[str] | None:
    """The heads of a JSON store certainly at the head of ``locations``' files, else None.

    ``locations`` are the folders given on the command line or in the
    environment, or empty for the default (the shipped chain, when no plugin
    may add to it).
    """
    layout = OpenClawLayout(state_dir)
    if (
        not os.path.isfile(layout.paired)
        or os.path.exists(layout.journal)  # a commit to recover
        or os.path.exists(layout.database)
    ):
        return None
    if not locations:
        if plugin_group_may_be_registered():
            return None
        locations = [shipped_migrations_path()]
    mark = read_mark(layout.ledger)
    if mark is None:
        return None
    heads, mark_seen = mark
    files = files_digest(locations)
    return heads if files is not None and at_head_mark(files, heads) == mark_seen else None


# "scopemigrate" used as a TOML key ([tool.scopemigrate], tool.scopemigrate.x =,
# scopemigrate = {...}), or anything that might be one: such a pyproject.toml
# may configure scopemigrate, and only a TOML parser can tell.
# Searched with ``re`` only when a pyproject.toml is there to read.
_SCOPEMIGRATE_KEY = rb"""scopemigrate["']?\s*[.=\]]"""


def _pyproject_may_configure(path: str) -> bool:
    """Whether this pyproject.toml may hold scopemigrate settings (unreadable: it may)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    import re  # only when there is a pyproject.toml to look at

    return re.search(_SCOPEMIGRATE_KEY, data) is not None


def marked_store(args: dict[str, list[str]]) -> str | None:
    """The state dir to check against the ledger's at-head mark, or None.

    Only the plain cases, decided with ``os`` alone: a JSON store path given on
    the command line or in the environment, and no configuration file that
    could change the store or the migration files (reading one needs TOML).
    """
    env = os.environ
    if "--config" in args or env.get("SCOPEMIGRATE_CONFIG"):
        return None
    for folder in search_folders("."):  # the folders config.py reads a file from
        if os.path.exists(os.path.join(folder, STANDALONE)):
            return None
        if _pyproject_may_configure(os.path.join(folder, PYPROJECT)):
            return None
    given = args["--store"][-1] if "--store" in args else env.get("SCOPEMIGRATE_STORE")
    if not given:
        return None  # OpenClaw's own state dir: found by the full rules
    try:
        spec = parse_store_spec(given)
    except ConfigError:  # an unknown scheme: the full CLI names it
        return None
    if spec.kind not in ("openclaw-json", "path"):
        return None
    path = spec.target
    scheme, sep, _ = path.partition(":")
    parts = path.split("/")
    if (sep and len(scheme) > 1) or path.startswith("~") or ".." in parts:
        return None  # a path whose printed form the full CLI decides
    if parts[-1] in (DEVICES_DIR, PAIRED_NAME) or not os.path.isdir(path):
        return None
    if os.geteuid() == 0 and (env.get(AS_USER_ENV) or os.stat(path).st_uid != 0):
        return None  # root on another user's store: ownership.py decides whose rights
    return os.path.normpath(path)
