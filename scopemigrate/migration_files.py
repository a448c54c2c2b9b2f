"""The migration files: where they are, which files a location holds, their digest, loading.

The only module that lists or reads migration files, for the full path and the
quick path alike: a run, ``check``, the authoring verbs and the at-head mark
all see the same files in the same order (``migration_file_names``), and the
mark's digest covers exactly the bytes a run loaded (``digest_of``), as does
the record that they validated (``validation_cache``).

Only the standard library at import: configuration and the console script's
quick answers import this module, and must not pay for pydantic. Loading
(which validates with pydantic) imports the models when called.
"""

from __future__ import annotations

import os
import sys

try:
    # hashlib's own BLAKE2, without the ~3 ms of importing OpenSSL's bindings.
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter without the module
    from hashlib import blake2b

from scopemigrate.errors import MigrationFileError, ScopemigrateError
from scopemigrate.stores.layout import pure_path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from pydantic import ValidationError

    from scopemigrate.config import Config
    from scopemigrate.graph import RevisionGraph
    from scopemigrate.migration import Migration

__all__ = [
    "ENTRY_POINT_GROUP",
    "MigrationFiles",
    "MigrationScript",
    "at_head_mark",
    "describe_validation",
    "digest_of",
    "entry_point_paths",
    "files_digest",
    "load_file",
    "load_locations",
    "migration_file_names",
    "parse_migration",
    "plain_toml",
    "plugin_group_may_be_registered",
    "shipped_migrations_dir",
    "shipped_migrations_path",
]

ENTRY_POINT_GROUP = "scopemigrate.migrations"


# --- where the files are --------------------------------------------------------------------


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


def shipped_migrations_dir() -> Path:
    """``shipped_migrations_path`` as a ``Path``."""
    from pathlib import Path

    return Path(shipped_migrations_path())


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


def entry_point_paths() -> list[str]:
    """Migration folders that installed packages register (a plugin's own scopes).

    An entry point in the group ``scopemigrate.migrations`` names a package
    (its folder holds the TOML files) or an attribute holding a folder path.
    """
    if not plugin_group_may_be_registered():
        return []
    from importlib import metadata  # ~15 ms of imports, paid only when a plugin may exist

    folders: list[str] = []
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            value = entry.load()
        except Exception as exc:  # a broken plugin must name itself, not crash us
            raise MigrationFileError(
                f"entry point {entry.name!r} ({entry.value}) of group {ENTRY_POINT_GROUP}: "
                f"cannot load: {exc}"
            ) from None
        module_file = getattr(value, "__file__", None)
        folder = os.path.dirname(module_file) if module_file else pure_path(str(value))
        if not os.path.isdir(folder):
            raise MigrationFileError(
                f"entry point {entry.name!r} ({entry.value}): {folder} is not a directory"
            )
        folders.append(folder)
    return folders


# --- which files, and their digest ----------------------------------------------------------


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


def at_head_mark(files: str, heads: Iterable[str]) -> str:
    """The at-head mark of a store left at ``heads`` of the files whose digest is
    ``files``: both bound, so a ledger whose heads were edited no longer matches
    the files it names (its heads may be revisions the files do not hold)."""
    digest = blake2b(files.encode("ascii"), digest_size=32)
    for head in sorted(heads):
        digest.update(b"\0head\0" + head.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


# --- the graph fields, without a TOML parser -----------------------------------------------

# What ``plain_toml`` reads: the layout the authoring verbs write and the
# shipped chain uses. TOML's whitespace, bare keys and the basic-string
# characters a plain value may hold (no escape, no control character).
_TOML_SPACE = " \t"
_BARE_KEY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_DIGIT = frozenset("0123456789")


def _control(char: str) -> bool:
    """A character TOML allows in no string or comment (a tab is allowed)."""
    return (char < " " and char != "\t") or char == "\x7f"


def _plain_string(text: str, at: int) -> tuple[str, int] | None:
    """The basic (``"..."``) or literal (``'...'``) string at ``at``, without escapes
    or control characters, and where it ends; None for anything else."""
    quote = text[at : at + 1]
    end = text.find(quote, at + 1) if quote in ('"', "'") else -1
    if end < 0 or text[at : at + 3] == quote * 3:
        return None  # not a string, or a multi-line one
    body = text[at + 1 : end]
    if "\\" in body or any(_control(c) for c in body):
        return None
    return body, end + 1


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in _TOML_SPACE:
        at += 1
    return at


def _plain_value(text: str, at: int) -> tuple[str | list[str] | bool | int, int] | None:
    """A string, a one-line array of strings, a boolean or a plain integer at ``at``."""
    if text[at : at + 1] == "[":
        items: list[str] = []
        at = _skip_space(text, at + 1)
        while text[at : at + 1] != "]":
            found = _plain_string(text, at)
            if found is None:
                return None
            items.append(found[0])
            at = _skip_space(text, found[1])
            if text[at : at + 1] == ",":
                at = _skip_space(text, at + 1)
            elif text[at : at + 1] != "]":
                return None
        return items, at + 1
    for word, value in (("true", True), ("false", False)):
        if text.startswith(word, at):
            return value, at + len(word)
    end = at + 1 if text[at : at + 1] == "-" else at
    while end < len(text) and text[end] in _DIGIT:
        end += 1
    digits = text[at:end].lstrip("-")
    if digits and (digits == "0" or not digits.startswith("0")):
        return int(text[at:end]), end
    return _plain_string(text, at)


def _statement(line: str) -> tuple[str, str, str | list[str] | bool | int | None] | None:
    """("table"/"array", name, None), ("key", key, value), ("", "", None) for a blank
    or comment line; None for anything ``plain_toml`` does not read."""
    at = _skip_space(line, 0)
    kind = ""
    if line.startswith("[[", at):
        kind, at = "array", at + 2
    elif line.startswith("[", at):
        kind, at = "table", at + 1
    at = _skip_space(line, at)
    start = at
    while at < len(line) and line[at] in _BARE_KEY:
        at += 1
    name = line[start:at]
    at = _skip_space(line, at)
    value: str | list[str] | bool | int | None = None
    if kind:
        closing = "]]" if kind == "array" else "]"
        if not name or not line.startswith(closing, at):
            return None
        at += len(closing)
    elif name:
        if not line.startswith("=", at):
            return None
        found = _plain_value(line, _skip_space(line, at + 1))
        if found is None:
            return None
        value, at = found
    at = _skip_space(line, at)
    rest = line[at:]
    if rest and (not rest.startswith("#") or any(_control(c) for c in rest)):
        return None
    return (kind or ("key" if name else "")), name, value


def plain_toml(text: str) -> dict[str, str | list[str] | bool | int] | None:
    """The top-level values of a migration file written in plain TOML, or None.

    Plain: one statement a line (comments, ``[table]``/``[[array]]`` headers
    with a bare name, ``key = value`` with a bare key and a one-line string,
    array of strings, boolean or integer), no key or table defined twice. What
    it reads is valid TOML and what ``tomllib`` reads; anything else is None,
    and the caller parses with ``tomllib``. The quick answers use it to read
    the graph (``revision``, ``down_revision``, ``depends_on``, ``release``)
    without paying for ``tomllib``'s imports.
    """
    top: dict[str, str | list[str] | bool | int] = {}
    keys: set[str] = set()  # of the table being read
    tables: dict[str, str] = {}  # name -> "table" or "array"
    lines = text.split("\n")
    for number, raw in enumerate(lines):
        # A line ends at "\n" or "\r\n"; any other "\r" is refused below.
        line = raw[:-1] if raw.endswith("\r") and number < len(lines) - 1 else raw
        statement = _statement(line)
        if statement is None:
            return None
        kind, name, value = statement
        if kind in ("table", "array"):
            seen = tables.get(name)
            if name in top or (seen is not None and (seen != kind or kind == "table")):
                return None  # a table defined twice, or over a key
            tables[name] = kind
            keys = set()
        elif kind == "key":
            if name in keys:
                return None
            keys.add(name)
            if not tables and value is not None:
                top[name] = value
    return top


# --- loading --------------------------------------------------------------------------------


class MigrationScript:
    """A migration, the file it came from, and that file's bytes (for ``digest_of``)."""

    __slots__ = ("migration", "path", "raw")

    def __init__(self, migration: Migration, path: Path, raw: bytes = b""):
        self.migration = migration
        self.path = path
        self.raw = raw


def describe_validation(error: ValidationError) -> str:
    """One line for a pydantic error: where, what, and how many more problems."""
    from scopemigrate.operations import OPERATION_KINDS

    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "union_tag_invalid":
        given = first.get("ctx", {}).get("tag", "?")
        message = f"unknown operation kind {given!r} (known: {', '.join(OPERATION_KINDS)})"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {message}{suffix}" if where else f"{message}{suffix}"


def parse_migration(path: Path, text: str) -> Migration:
    import tomllib

    from pydantic import ValidationError

    from scopemigrate.migration import Migration

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MigrationFileError(f"{path}: malformed TOML: {exc}") from None
    try:
        return Migration.model_validate(document)
    except ValidationError as exc:
        raise MigrationFileError(f"{path}: {describe_validation(exc)}") from None


def load_file(path: Path) -> MigrationScript:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MigrationFileError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MigrationFileError(f"{path}: not UTF-8 text") from None
    return MigrationScript(parse_migration(path, text), path, raw)


def load_locations(locations: Iterable[Path]) -> list[MigrationScript]:
    """Load every ``*.toml`` file of each location, once, in a stable order."""
    scripts: list[MigrationScript] = []
    seen: dict[str, Path] = {}
    for location in locations:
        if not location.is_dir():
            raise MigrationFileError(f"{location}: migration location is not a directory")
        try:
            names = migration_file_names(location)
        except OSError as exc:
            raise MigrationFileError(
                f"{location}: cannot list migration files: {exc.strerror}"
            ) from None
        for name in names:
            path = location / name
            script = load_file(path)
            rev = script.migration.revision
            if rev in seen:
                raise MigrationFileError(
                    f"{path}: revision {rev!r} is already defined in {seen[rev]}"
                )
            seen[rev] = path
            scripts.append(script)
    return scripts


class MigrationFiles:
    """The migration files of a set of locations, loaded once (Alembic's ScriptDirectory).

    Owns what runs and views need from the files: the migrations, where each
    came from, their graph (with migrations only a store's ledger still knows)
    and the at-head mark of a set of heads.
    """

    def __init__(self, locations: Sequence[Path], independent_branches: Sequence[str] = ()):
        self.locations = tuple(locations)
        self.independent_branches = tuple(independent_branches)
        self.scripts = load_locations(self.locations)
        self.migrations: list[Migration] = [s.migration for s in self.scripts]
        self.sources: dict[str, str] = {s.migration.revision: str(s.path) for s in self.scripts}
        # Every file parsed and validated: say so, for the quick ``heads``.
        from scopemigrate.validation_cache import record_validated

        record_validated(self.digest())

    @classmethod
    def from_config(cls, config: Config) -> MigrationFiles:
        return cls(config.locations, config.independent_branches)

    def graph(self, extra: Iterable[Migration] = ()) -> RevisionGraph:
        """The files' graph, plus ``extra`` migrations the files do not define."""
        from scopemigrate.graph import RevisionGraph

        known = {m.revision for m in self.migrations}
        more = [m for m in extra if m.revision not in known]
        return RevisionGraph([*self.migrations, *more], self.sources, self.independent_branches)

    def mark_for(self, heads: Sequence[str]) -> str | None:
        """The at-head mark for a store left at ``heads``: the digest of the bytes loaded
        when those are the heads of the files alone, else None (see quick/mark.py)."""
        try:
            file_heads = self.graph().heads
        except ScopemigrateError:
            return None  # the files need revisions only the ledger holds
        if set(heads) != set(file_heads):
            return None
        return at_head_mark(self.digest(), heads)

    def digest(self) -> str:
        """``digest_of`` the bytes loaded (not the files as they may be by now)."""
        return digest_of(
            [(s.path.name, s.raw) for s in self.scripts if s.path.parent == location]
            for location in self.locations
        )
