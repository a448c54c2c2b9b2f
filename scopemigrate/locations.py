"""Where migration files live: the shipped chain, and plugins' sets.

Only the standard library here: configuration and the hook's no-op check
import this module, and must not pay for pydantic.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from scopemigrate.errors import MigrationFileError


def shipped_migrations_dir() -> Path:
    """The OpenClaw chain shipped with scopemigrate.

    A wheel carries it inside the package; a checkout or an editable install
    finds the repository's top-level ``migrations/``.
    """
    here = Path(__file__).resolve().parent
    packaged = here / "migrations"
    if packaged.is_dir():
        return packaged
    return here.parent / "migrations"


ENTRY_POINT_GROUP = "scopemigrate.migrations"


def entry_point_locations() -> list[Path]:
    """Migration folders that installed packages register (a plugin's own scopes).

    An entry point in the group ``scopemigrate.migrations`` names a package
    (its folder holds the TOML files) or an attribute holding a folder path.
    """
    if not _group_may_be_registered():
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


def _group_may_be_registered() -> bool:
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
