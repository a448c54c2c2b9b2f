"""Facts about where stores keep things, stated once for the full path and the fast path.

OpenClaw's state dir (resolved exactly the way OpenClaw resolves it), the
files and tables inside it, the names of scopemigrate's own ledger and journal,
the ledger's first bytes, and how a ``--store`` spec names a store.

Only ``os`` and ``re`` at import, no ``typing`` or ``dataclasses`` (measured:
tens of milliseconds on a cold start), and ``pathlib`` only inside the
functions that return paths: the console script's quick answers import this
module, and it must cost them nothing the console script has not loaded.
"""

from __future__ import annotations

import os
import re

from scopemigrate.errors import ConfigError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Literal

__all__ = [
    "DEVICES_DIR",
    "JOURNAL_NAME",
    "LEDGER_FORMAT",
    "LEDGER_NAME",
    "LEDGER_TABLE",
    "PAIRED_NAME",
    "PAIRED_TABLE",
    "PENDING_NAME",
    "PENDING_TABLE",
    "PROVENANCE_TABLE",
    "REMOVED_PENDING_TABLE",
    "SQLITE_RELATIVE",
    "URL_FORMS",
    "LedgerPrefix",
    "OpenClawLayout",
    "StoreSpec",
    "named_path_missing",
    "openclaw_state_dir",
    "parse_store_spec",
    "read_ledger_prefix",
    "resolve_state_dir",
    "sqlite_database",
    "state_dir_from_path",
    "state_dir_of",
]

# --- OpenClaw's state dir -------------------------------------------------------------------

LEGACY_DIRS = (".clawdbot", ".moldbot", ".moltbot")
DEVICES_DIR = "devices"
PAIRED_NAME = "paired.json"
PENDING_NAME = "pending.json"
# What OpenClaw's SQLite import renames the JSON files to (never edited again).
ARCHIVED_SUFFIX = ".migrated"
# OpenClaw's database generation, relative to the state dir.
SQLITE_RELATIVE = ("state", "openclaw.sqlite")
# A path with one of these suffixes, to a file, names an SQLite database itself.
SQLITE_SUFFIXES = (".sqlite", ".db")
# OpenClaw's device tables (the SQLite and PostgreSQL generations alike).
PAIRED_TABLE = "device_pairing_paired"
PENDING_TABLE = "device_pairing_pending"

# --- scopemigrate's own files and tables ----------------------------------------------------

LEDGER_NAME = "scopemigrate-ledger.json"  # beside paired.json
JOURNAL_NAME = "scopemigrate-journal.json"  # beside paired.json, only while a commit runs
LEDGER_TABLE = "scopemigrate_ledger"  # one row, id 1, column ``document``
# PostgreSQL's set-based runs: each edit of each revision, and the requests removed.
PROVENANCE_TABLE = "scopemigrate_provenance"
REMOVED_PENDING_TABLE = "scopemigrate_removed_pending"
# The ledger format this release writes (ledger.py checks it on read).
LEDGER_FORMAT = 2  # 2: provenance grouped per distinct change (provenance.py)


class OpenClawLayout:
    """The files of one OpenClaw state dir, as ``os`` paths."""

    __slots__ = ("database", "devices_dir", "journal", "ledger", "paired", "pending", "state_dir")

    def __init__(self, state_dir: str | os.PathLike[str]):
        self.state_dir = os.fspath(state_dir)
        self.devices_dir = os.path.join(self.state_dir, DEVICES_DIR)
        self.paired, self.pending, self.ledger, self.journal = (
            os.path.join(self.devices_dir, name)
            for name in (PAIRED_NAME, PENDING_NAME, LEDGER_NAME, JOURNAL_NAME)
        )
        self.database = os.path.join(self.state_dir, *SQLITE_RELATIVE)


def _expand(value: str, home: Path) -> Path:
    if value == "~" or value.startswith("~/"):
        return home / value[2:] if len(value) > 1 else home
    from pathlib import Path

    return Path(value)


def openclaw_home(env: Mapping[str, str]) -> Path:
    from pathlib import Path

    value = env.get("OPENCLAW_HOME") or env.get("HOME") or str(Path.home())
    return _expand(value, Path(env.get("HOME") or Path.home()))


def resolve_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """The state dir: env override, ``~/.openclaw``, a legacy dir, or the default."""
    env = os.environ if env is None else env
    home = openclaw_home(env)
    for name in ("OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR"):
        value = env.get(name, "").strip()
        if value:
            return _expand(value, home)
    default = home / ".openclaw"
    if default.is_dir():
        return default
    for legacy in LEGACY_DIRS:
        if (home / legacy).is_dir():
            return home / legacy
    return default


def state_dir_from_path(path: Path) -> Path:
    """Accept a state dir, its ``devices`` dir, or ``paired.json`` itself."""
    if path.name == PAIRED_NAME:
        return path.parent.parent
    if path.name == DEVICES_DIR and (path / PAIRED_NAME).exists():
        return path.parent
    return path


# --- store specs ----------------------------------------------------------------------------

URL_FORMS = "openclaw-json:PATH, sqlite:PATH, postgresql://..."

if TYPE_CHECKING:
    StoreKind = Literal["default", "openclaw-json", "sqlite", "postgresql", "path"]


class StoreSpec:
    """What a ``--store`` value names, before anything is opened.

    ``default``: OpenClaw's own state dir (no value given); ``path``: a path
    whose store generation is detected; the others: the scheme given.
    ``target`` is the URL (postgresql) or the path as written, unexpanded;
    ``given`` the whole value, for messages.
    """

    __slots__ = ("given", "kind", "target")

    def __init__(self, kind: StoreKind, target: str = "", given: str = ""):
        self.kind: StoreKind = kind
        self.target = target
        self.given = given

    def __repr__(self) -> str:
        return f"StoreSpec({self.kind!r}, {self.target!r})"


def parse_store_spec(spec: str | None) -> StoreSpec:
    """Tell a URL from a path; a ``ConfigError`` for an unknown scheme."""
    if not spec:
        return StoreSpec("default")
    scheme, sep, rest = spec.partition(":")
    if not sep:
        return StoreSpec("path", spec, spec)
    if scheme in ("postgresql", "postgres"):
        return StoreSpec("postgresql", spec, spec)
    if scheme == "sqlite":
        return StoreSpec("sqlite", rest[2:] if rest.startswith("//") else rest, spec)
    if scheme == "openclaw-json":
        return StoreSpec("openclaw-json", rest, spec)
    # One letter is a Windows drive, a backslash after the colon a Windows path.
    if len(scheme) > 1 and not rest.startswith("\\"):
        from scopemigrate.stores.redact import redact_url

        raise ConfigError(
            f"store URL {redact_url(spec)!r}: unknown scheme {scheme!r} (known: {URL_FORMS})"
        )
    return StoreSpec("path", spec, spec)


# --- the ledger's first bytes ---------------------------------------------------------------

# A ledger is written with its format, heads and at-head mark first (ledger.py
# keeps the fields in that order), so quick answers read them from the first
# few kilobytes; its provenance can run to many megabytes.
LEDGER_PREFIX_BYTES = 4096
_LEDGER_PREFIX = re.compile(
    rb'\A\{\s*"format":\s*(\d+),\s*"heads":\s*\[([^\]]*)\]'
    rb'(?:,\s*"at_head_of":\s*(?:"([0-9a-f]{64})"|null))?'
)
_PLAIN_ID = re.compile(rb'\s*"([A-Za-z0-9_.\-]+)"\s*')


class LedgerPrefix:
    """What a ledger's first bytes say: its format, heads and at-head mark."""

    __slots__ = ("at_head_of", "format", "heads")

    def __init__(self, format: int, heads: list[str], at_head_of: str | None):
        self.format = format
        self.heads = heads
        self.at_head_of = at_head_of


def read_ledger_prefix(start: bytes) -> LedgerPrefix | None:
    """The prefix of a ledger's bytes, or None when only a JSON parser can tell
    (another layout, or a head id that is not plain)."""
    found = _LEDGER_PREFIX.match(start[:LEDGER_PREFIX_BYTES])
    if found is None:
        return None
    heads: list[str] = []
    listed = found.group(2)
    for item in listed.split(b",") if listed.strip() else []:
        plain = _PLAIN_ID.fullmatch(item)
        if plain is None:
            return None
        heads.append(plain.group(1).decode("ascii"))
    mark = found.group(3)
    return LedgerPrefix(int(found.group(1)), heads, mark.decode("ascii") if mark else None)


def sqlite_database(spec: StoreSpec) -> str | None:
    """The SQLite database a spec names by itself, else None: ``sqlite:PATH`` (the
    state dir's database when PATH is a folder), or a path to a ``.sqlite`` or
    ``.db`` file."""
    path = os.path.expanduser(spec.target)
    if spec.kind == "sqlite":
        return os.path.join(path, *SQLITE_RELATIVE) if os.path.isdir(path) else path
    if spec.kind == "path" and os.path.splitext(path)[1] in SQLITE_SUFFIXES:
        return path if os.path.isfile(path) else None
    return None


def openclaw_state_dir(spec: StoreSpec, env: Mapping[str, str]) -> Path | None:
    """The OpenClaw state dir a spec names (a JSON store's, or one to detect), else None
    (a URL, or a database named by itself)."""
    if spec.kind == "default":
        return resolve_state_dir(env)
    if spec.kind == "path" and sqlite_database(spec) is not None:
        return None
    if spec.kind in ("openclaw-json", "path"):
        from pathlib import Path

        return state_dir_from_path(Path(spec.target).expanduser())
    return None


def state_dir_of(spec: str | None, env: Mapping[str, str]) -> Path | None:
    """``openclaw_state_dir`` of a ``--store`` value; None for a URL or an unknown scheme
    (the full run names the scheme)."""
    try:
        return openclaw_state_dir(parse_store_spec(spec), env)
    except ConfigError:
        return None


def named_path_missing(spec: str | None) -> str | None:
    """The path a ``--store`` value names for a JSON store or a store to detect, when
    that path is not there; else None.

    A path the user named must exist: absent, it is a typo, not a fresh install
    (only the state dir OpenClaw's own rules find may be absent). A URL, a
    ``sqlite:`` path (whose adapter says so itself) or no value: None.
    """
    try:
        parsed = parse_store_spec(spec)
    except ConfigError:
        return None  # the full run names the scheme
    if parsed.kind not in ("openclaw-json", "path"):
        return None
    path = os.path.expanduser(parsed.target)
    return None if os.path.lexists(path) else path
