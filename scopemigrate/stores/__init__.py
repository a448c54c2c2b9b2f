"""Store adapters, chosen by URL scheme or detected from a path."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from scopemigrate.errors import ConfigError, StoreNotFoundError
from scopemigrate.stores.openclaw_paths import resolve_state_dir

if TYPE_CHECKING:  # the protocol pulls in pydantic; the hook's no-op path must not
    from scopemigrate.stores.base import Store

__all__ = ["open_store", "state_dir_from_path"]


def state_dir_from_path(path: Path) -> Path:
    """Accept a state dir, its ``devices`` dir, or ``paired.json`` itself."""
    if path.name == "paired.json":
        return path.parent.parent
    if path.name == "devices" and (path / "paired.json").exists():
        return path.parent
    return path


SQLITE_RELATIVE = Path("state") / "openclaw.sqlite"
URL_FORMS = "openclaw-json:PATH, sqlite:PATH, postgresql://..."


def open_store(
    spec: str | None, env: Mapping[str, str] | None = None, keep_backups: int = 5
) -> Store:
    """Open the store named by ``spec``: a URL, a path, or OpenClaw's own state dir."""
    env = os.environ if env is None else env
    from scopemigrate.stores.openclaw_json import OpenClawJsonStore
    from scopemigrate.stores.openclaw_sqlite import OpenClawSqliteStore

    if not spec:
        return detect_generation(resolve_state_dir(env), keep_backups)
    scheme, sep, rest = spec.partition(":")
    if sep and scheme in ("postgresql", "postgres"):
        from scopemigrate.stores.postgres import PostgresStore

        return PostgresStore(spec)
    if sep and scheme == "sqlite":
        path = Path(rest[2:] if rest.startswith("//") else rest).expanduser()
        database = path / SQLITE_RELATIVE if path.is_dir() else path
        if not database.is_file():
            # Named explicitly, so a missing file is a mistake, not a fresh install.
            raise StoreNotFoundError(f"{database}: no SQLite database here ({spec})")
        return OpenClawSqliteStore(database)
    if sep and scheme == "openclaw-json":
        return OpenClawJsonStore(state_dir_from_path(Path(rest).expanduser()), keep_backups)
    if sep and len(scheme) > 1 and not rest.startswith("\\"):
        raise ConfigError(f"store URL {spec!r}: unknown scheme {scheme!r} (known: {URL_FORMS})")
    path = Path(spec).expanduser()
    if path.suffix in (".sqlite", ".db") and path.is_file():
        return OpenClawSqliteStore(path)
    return detect_generation(state_dir_from_path(path), keep_backups)


def detect_generation(state_dir: Path, keep_backups: int) -> Store:
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

    database = OpenClawSqliteStore(state_dir / SQLITE_RELATIVE)
    paired = state_dir / "devices" / "paired.json"
    archived = paired.with_name(paired.name + ".migrated").exists()
    if database.exists() and (archived or database.holds_devices()):
        if paired.exists():
            raise ConfigError(
                f"{state_dir}: both {paired} and {database.location} hold devices; OpenClaw "
                "imports the JSON files into the database once ('openclaw doctor --fix') and "
                "renames them *.migrated: run that first, or choose one store with "
                "--store sqlite:PATH or --store openclaw-json:PATH"
            )
        return database
    return OpenClawJsonStore(state_dir, keep_backups)
