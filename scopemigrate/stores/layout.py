"""Facts about where stores keep things, stated once for the full path and the fast path.

OpenClaw's state dir (resolved exactly the way OpenClaw resolves it), the
files and tables inside it, the names of scopemigrate's own ledger and journal,
the ledger's first bytes, and how a ``--store`` spec names a store.

Only ``os`` at import: no ``re`` (the ledger's first bytes are read by
hand), no ``typing`` or ``dataclasses`` (measured: tens of milliseconds on a
cold start), and ``pathlib`` only inside the functions that return ``Path``
(each has an ``os``-path twin, ``*_path``, that the quick answers use): the
console script's quick answers import this module, and it must cost them
nothing the console script has not loaded.
"""

from __future__ import annotations

import os

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
    "openclaw_home",
    "openclaw_state_dir",
    "openclaw_state_path",
    "parse_store_spec",
    "pure_path",
    "read_ledger_prefix",
    "resolve_state_dir",
    "resolve_state_path",
    "sqlite_database",
    "state_dir_from_path",
    "state_dir_of",
    "state_path_from",
    "state_path_of",
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


def pure_path(text: str) -> str:
    """``str(PurePosixPath(text))`` without importing ``pathlib``: the form every
    message and every ``Path`` of the full path prints (empty and ``.`` parts
    dropped, ``..`` kept, exactly two leading slashes kept)."""
    if text.startswith("//") and not text.startswith("///"):
        root = "//"
    else:
        root = "/" if text.startswith("/") else ""
    return root + "/".join(part for part in text.split("/") if part and part != ".") or "."


def _expand(value: str, home: str) -> str:
    if value == "~" or value.startswith("~/"):
        return pure_path(os.path.join(home, value[2:])) if len(value) > 1 else home
    return pure_path(value)


def _home(env: Mapping[str, str]) -> str:
    return pure_path(env.get("HOME") or os.path.expanduser("~"))


def openclaw_home(env: Mapping[str, str]) -> str:
    """OpenClaw's home folder (``OPENCLAW_HOME``, else ``HOME``), as an ``os`` path."""
    home = _home(env)
    return _expand(env.get("OPENCLAW_HOME") or env.get("HOME") or home, home)


def resolve_state_path(env: Mapping[str, str] | None = None) -> str:
    """The state dir: env override, ``~/.openclaw``, a legacy dir, or the default."""
    env = os.environ if env is None else env
    home = openclaw_home(env)
    for name in ("OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR"):
        value = env.get(name, "").strip()
        if value:
            return _expand(value, home)
    default = pure_path(os.path.join(home, ".openclaw"))
    if os.path.isdir(default):
        return default
    for legacy in LEGACY_DIRS:
        if os.path.isdir(os.path.join(home, legacy)):
            return pure_path(os.path.join(home, legacy))
    return default


def resolve_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``resolve_state_path`` as a ``Path``."""
    from pathlib import Path

    return Path(resolve_state_path(env))


def _parent(path: str) -> str:
    return pure_path(os.path.dirname(path))


def state_path_from(path: str) -> str:
    """Accept a state dir, its ``devices`` dir, or ``paired.json`` itself (an ``os`` path)."""
    path = pure_path(path)
    name = os.path.basename(path)
    if name == PAIRED_NAME:
        return _parent(_parent(path))
    if name == DEVICES_DIR and os.path.exists(os.path.join(path, PAIRED_NAME)):
        return _parent(path)
    return path


def state_dir_from_path(path: Path) -> Path:
    """``state_path_from`` of a ``Path``."""
    from pathlib import Path

    return Path(state_path_from(str(path)))


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
# The prefix is read by hand, not with ``re`` (a few milliseconds of imports the
# hook's no-op would pay): ``{"format": N, "heads": ["id", ...]`` then, optionally,
# ``, "at_head_of": "<64 lowercase hex>"`` or ``null``, with JSON's spaces between.
_SPACE = b" \t\n\r\f\v"
_DIGITS = b"0123456789"
_HEX = b"0123456789abcdef"
_ID_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
MARK_LENGTH = 64


def _after(data: bytes, position: int, token: bytes) -> int:
    """Where ``data`` goes on after optional spaces and ``token`` at ``position``; -1
    when ``token`` is not there (or ``position`` is already -1)."""
    while 0 <= position < len(data) and data[position] in _SPACE:
        position += 1
    return position + len(token) if position >= 0 and data.startswith(token, position) else -1


def _plain_id(item: bytes) -> str | None:
    """The id of a list item ``"id"`` (spaces around it allowed), if it is plain."""
    quoted = item.strip(_SPACE)
    body = quoted[1:-1]
    if len(quoted) < 3 or quoted[:1] != b'"' or quoted[-1:] != b'"':
        return None
    return body.decode("ascii") if all(c in _ID_CHARS for c in body) else None


def _mark_at(data: bytes, position: int) -> str | None:
    """The mark of ``,"at_head_of": "..."`` at ``position`` (the comma right after the
    heads' ``]``), if one is there."""
    position = _after(data, position + 1, b'"at_head_of":') if data[position:][:1] == b"," else -1
    position = _after(data, position, b'"')
    mark = data[position : position + MARK_LENGTH] if position >= 0 else b""
    closed = data[position + MARK_LENGTH : position + MARK_LENGTH + 1] == b'"'
    if len(mark) == MARK_LENGTH and closed and all(c in _HEX for c in mark):
        return mark.decode("ascii")
    return None


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
    data = start[:LEDGER_PREFIX_BYTES]
    digits_at = _after(data, _after(data, 1, b'"format":'), b"") if data[:1] == b"{" else -1
    end = digits_at
    while 0 <= end < len(data) and data[end] in _DIGITS:
        end += 1
    if digits_at < 0 or end == digits_at or data[end : end + 1] != b",":
        return None
    position = _after(data, _after(data, end + 1, b'"heads":'), b"[")
    close = data.find(b"]", position) if position >= 0 else -1
    if close < 0:
        return None
    heads: list[str] = []
    listed = data[position:close]
    for item in listed.split(b",") if listed.strip() else []:
        head = _plain_id(item)
        if head is None:
            return None
        heads.append(head)
    return LedgerPrefix(int(data[digits_at:end]), heads, _mark_at(data, close + 1))


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


def openclaw_state_path(spec: StoreSpec, env: Mapping[str, str]) -> str | None:
    """The OpenClaw state dir a spec names (a JSON store's, or one to detect), else None
    (a URL, or a database named by itself); an ``os`` path."""
    if spec.kind == "default":
        return resolve_state_path(env)
    if spec.kind == "path" and sqlite_database(spec) is not None:
        return None
    if spec.kind in ("openclaw-json", "path"):
        return state_path_from(os.path.expanduser(spec.target))
    return None


def openclaw_state_dir(spec: StoreSpec, env: Mapping[str, str]) -> Path | None:
    """``openclaw_state_path`` as a ``Path``."""
    found = openclaw_state_path(spec, env)
    if found is None:
        return None
    from pathlib import Path

    return Path(found)


def state_path_of(spec: str | None, env: Mapping[str, str]) -> str | None:
    """``openclaw_state_path`` of a ``--store`` value; None for a URL or an unknown scheme
    (the full run names the scheme)."""
    try:
        return openclaw_state_path(parse_store_spec(spec), env)
    except ConfigError:
        return None


def state_dir_of(spec: str | None, env: Mapping[str, str]) -> Path | None:
    """``state_path_of`` as a ``Path``."""
    found = state_path_of(spec, env)
    if found is None:
        return None
    from pathlib import Path

    return Path(found)


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
