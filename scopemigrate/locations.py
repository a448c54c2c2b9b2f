"""Where migration files live: the shipped chain, and plugins' sets.

Only the standard library here: configuration and the hook's no-op check
import this module, and must not pay for pydantic.
"""

from __future__ import annotations

from pathlib import Path

from scopemigrate.errors import MigrationFileError
from scopemigrate.headmark import (
    ENTRY_POINT_GROUP,
    plugin_group_may_be_registered,
    shipped_migrations_path,
)


def shipped_migrations_dir() -> Path:
    """The OpenClaw chain shipped with scopemigrate (see ``headmark.shipped_migrations_path``)."""
    return Path(shipped_migrations_path())


def entry_point_locations() -> list[Path]:
    """Migration folders that installed packages register (a plugin's own scopes).

    An entry point in the group ``scopemigrate.migrations`` names a package
    (its folder holds the TOML files) or an attribute holding a folder path.
    """
    if not plugin_group_may_be_registered():
        return []
    from importlib import metadata  # ~15 ms of imports, paid only when a plugin may exist

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
