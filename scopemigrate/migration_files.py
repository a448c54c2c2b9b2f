"""The migration files: where they are, which files a location holds, their digest, loading.

The only module that lists or reads migration files, for the full path and the
quick path alike: a run, ``check``, the authoring verbs and the at-head mark
all see the same files in the same order (``migration_file_names``), and the
mark's digest covers exactly the bytes a run loaded (``digest_of``).

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
    "entry_point_locations",
    "files_digest",
    "load_file",
    "load_locations",
    "migration_file_names",
    "parse_migration",
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


def entry_point_locations() -> list[Path]:
    """Migration folders that installed packages register (a plugin's own scopes).

    An entry point in the group ``scopemigrate.migrations`` names a package
    (its folder holds the TOML files) or an attribute holding a folder path.
    """
    if not plugin_group_may_be_registered():
        return []
    from importlib import metadata  # ~15 ms of imports, paid only when a plugin may exist
    from pathlib import Path

    folders: list[Path] = []
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            value = entry.load()
        except Exception as exc:  # a broken plugin must name itself, not crash us
            raise MigrationFileError(
                f"entry point {entry.name!r} ({entry.value}) of group {ENTRY_POINT_GROUP}: "
                f"cannot load: {exc}"
            ) from None
        module_file = getattr(value, "__file__", None)
        folder = Path(module_file).parent if module_file else Path(str(value))
        if not folder.is_dir():
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
        files = digest_of(
            [(s.path.name, s.raw) for s in self.scripts if s.path.parent == location]
            for location in self.locations
        )
        return at_head_mark(files, heads)
