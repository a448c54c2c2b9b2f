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


def open_store(
    spec: str | None, env: Mapping[str, str] | None = None, keep_backups: int = 5
) -> Store:
    """Open the store named by ``spec``: a URL, a path, or OpenClaw's own state dir."""
    env = os.environ if env is None else env
    from scopemigrate.stores.openclaw_json import OpenClawJsonStore

    if not spec:
        return OpenClawJsonStore(resolve_state_dir(env), keep_backups)
    scheme, sep, rest = spec.partition(":")
    if sep and scheme == "openclaw-json":
        return OpenClawJsonStore(state_dir_from_path(Path(rest).expanduser()), keep_backups)
    if sep and len(scheme) > 1 and not rest.startswith("\\"):
        raise ConfigError(f"store URL {spec!r}: unknown scheme {scheme!r} (known: openclaw-json)")
    path = Path(spec).expanduser()
    state_dir = state_dir_from_path(path)
    if (state_dir / "state" / "openclaw.sqlite").exists() and not (
        state_dir / "devices" / "paired.json"
    ).exists():
        raise StoreNotFoundError(
            f"{state_dir}: this state dir uses OpenClaw's SQLite store "
            "(state/openclaw.sqlite), which this version of scopemigrate cannot migrate; "
            "its retired *.migrated JSON files are left alone"
        )
    return OpenClawJsonStore(state_dir, keep_backups)
