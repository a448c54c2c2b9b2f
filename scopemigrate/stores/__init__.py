"""Store adapters, chosen by URL scheme or detected from a path.

``open_store`` parses the spec once (``layout.parse_store_spec``, the same
parser the quick paths use) and looks the kind up in a table of factories.

Nothing but ``os`` and ``errors`` at import: ``stores.layout`` is a quick-path
module, and importing it imports this package first.
"""

from __future__ import annotations

import os

from scopemigrate.errors import ConfigError, StoreNotFoundError
from scopemigrate.stores.layout import (
    ARCHIVED_SUFFIX,
    SQLITE_RELATIVE,
    named_path_missing,
    openclaw_state_dir,
    parse_store_spec,
    sqlite_database,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:  # the protocol pulls in pydantic; the hook's no-op path must not
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from scopemigrate.stores.base import Store
    from scopemigrate.stores.layout import StoreSpec

    # How many backups a JSON store keeps, and their total size bound (None: none).
    Backups = tuple[int, int | None]

__all__ = ["detect_generation", "open_store"]


def _postgres(spec: StoreSpec, state_dir: Path | None, backups: Backups) -> Store:
    from scopemigrate.stores.postgres import PostgresStore

    return PostgresStore(spec.target)


def _sqlite(spec: StoreSpec, state_dir: Path | None, backups: Backups) -> Store:
    from pathlib import Path

    from scopemigrate.stores.openclaw_sqlite import OpenClawSqliteStore

    database = Path(sqlite_database(spec) or spec.target)
    if not database.is_file():
        # Named explicitly, so a missing file is a mistake, not a fresh install.
        raise StoreNotFoundError(f"{database}: no SQLite database here ({spec.given})")
    return OpenClawSqliteStore(database)


def _json(spec: StoreSpec, state_dir: Path | None, backups: Backups) -> Store:
    from scopemigrate.stores.openclaw_json import OpenClawJsonStore

    assert state_dir is not None  # layout.openclaw_state_dir: every JSON spec has one
    return OpenClawJsonStore(state_dir, *backups)


def _path(spec: StoreSpec, state_dir: Path | None, backups: Backups) -> Store:
    database = sqlite_database(spec)
    if database is not None:
        from pathlib import Path

        from scopemigrate.stores.openclaw_sqlite import OpenClawSqliteStore

        return OpenClawSqliteStore(Path(database))
    assert state_dir is not None
    return detect_generation(state_dir, *backups)


def _default(spec: StoreSpec, state_dir: Path | None, backups: Backups) -> Store:
    assert state_dir is not None
    return detect_generation(state_dir, *backups)


_FACTORIES: dict[str, Callable[[StoreSpec, Path | None, Backups], Store]] = {
    "default": _default,
    "path": _path,
    "openclaw-json": _json,
    "sqlite": _sqlite,
    "postgresql": _postgres,
}


def open_store(
    spec: str | None,
    env: Mapping[str, str] | None = None,
    keep_backups: int | None = None,
    backups_max_bytes: int | None = None,
) -> Store:
    """Open the store named by ``spec``: a URL, a path, or OpenClaw's own state dir.

    ``keep_backups`` None: the configuration's default; ``backups_max_bytes``
    None: no bound on the backups' total size.
    """
    if keep_backups is None:
        from scopemigrate.config import DEFAULT_KEEP_BACKUPS

        keep_backups = DEFAULT_KEEP_BACKUPS
    missing = named_path_missing(spec)
    if missing is not None:
        raise StoreNotFoundError(
            f"{missing}: no such file or folder, and a store named with --store, "
            "SCOPEMIGRATE_STORE or the configuration must exist (left out, OpenClaw's own "
            "state dir is used, and its absence is a fresh install)"
        )
    parsed = parse_store_spec(spec)
    state_dir = openclaw_state_dir(parsed, os.environ if env is None else env)
    return _FACTORIES[parsed.kind](parsed, state_dir, (keep_backups, backups_max_bytes))


def detect_generation(
    state_dir: Path, keep_backups: int, backups_max_bytes: int | None = None
) -> Store:
    """Tell OpenClaw's storage generations apart in one state dir.

    JSON files only: the JSON store. A database holding the device tables and
    no live ``paired.json`` (OpenClaw's import renamed it to
    ``paired.json.migrated``, which is never edited): the SQLite store. Both
    live at once: refuse, since migrating either would leave the other stale.

    Releases 5.30-beta.1 to 7.1 (and 7.33-7.35) create the device tables
    and leave them empty while ``paired.json`` stays live: a database counts
    as live only once it holds rows (or our ledger), or the JSON files were
    archived to ``*.migrated``.
    """
    from scopemigrate.stores.openclaw_json import OpenClawJsonStore
    from scopemigrate.stores.openclaw_sqlite import OpenClawSqliteStore

    database = OpenClawSqliteStore(state_dir.joinpath(*SQLITE_RELATIVE))
    json_store = OpenClawJsonStore(state_dir, keep_backups, backups_max_bytes)
    paired = json_store.paired_path
    archived = paired.with_name(paired.name + ARCHIVED_SUFFIX).exists()
    if database.exists() and (archived or database.holds_devices()):
        if paired.exists():
            raise ConfigError(
                f"{state_dir}: both {paired} and {database.location} hold devices; OpenClaw "
                "imports the JSON files into the database once ('openclaw doctor --fix') and "
                "renames them *.migrated: run that first, or choose one store with "
                "--store sqlite:PATH or --store openclaw-json:PATH"
            )
        return database
    return json_store
