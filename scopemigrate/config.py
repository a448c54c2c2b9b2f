"""Configuration: flags > environment > ``[tool.scopemigrate]``/``scopemigrate.toml`` > defaults.

The file is the nearest one from the current folder upwards (see
``config_files.py``). Every key in it must be one this module reads: a typo
(``lock_timeot``) is an error naming the file and the key, never ignored.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scopemigrate.config_files import PYPROJECT, STANDALONE, search_folders
from scopemigrate.errors import ConfigError
from scopemigrate.migration_files import entry_point_locations, shipped_migrations_dir

DEFAULT_LOCK_TIMEOUT = 30.0
DEFAULT_KEEP_BACKUPS = 5
# Backups are bounded by their total size too (bytes only they hold): a large
# store's backups would otherwise outgrow the store several times over.
DEFAULT_BACKUPS_MAX_BYTES = 2**30  # 1G
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
# Every key a configuration file may hold.
KNOWN_KEYS = (
    "locations",
    "store",
    "lock_timeout",
    "backups",
    "backups_max_size",
    "distribution",
    "npm_package",
    "program",
    "independent_branches",
)


@dataclass(frozen=True)
class Config:
    """Everything a command needs to know before it touches anything."""

    locations: tuple[Path, ...] = field(default_factory=lambda: (shipped_migrations_dir(),))
    store: str | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    keep_backups: int = DEFAULT_KEEP_BACKUPS  # 0: no backup
    # The backups' total size bound, in bytes (the newest backup is always kept).
    backups_max_bytes: int = DEFAULT_BACKUPS_MAX_BYTES
    source: Path | None = None  # the configuration file, if one was read
    # True when a flag, the environment or a file chose the locations; authoring
    # refuses to write into the defaults (the chain shipped inside the package).
    locations_chosen: bool = False
    # Where ``sync`` and ``hook`` look for the installed release (see installed.py);
    # None keeps a source's default.
    distribution: str | None = None
    npm_package: str | None = None
    program: str | None = None
    # Branch labels of chains with their own base (a plugin's) that ``head`` and
    # ``check`` take as independent: one head each, not several heads to merge.
    independent_branches: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)


def parse_size(value: object, origin: str) -> int:
    """Bytes from a size: a whole number of bytes, or a number with K, M, G or T
    (powers of 1024; ``500M``, ``1.5G``, ``2GiB``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    found = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise ConfigError(
            f"{origin}: {value!r} is not a size (bytes, or a number with K, M, G or T: 500M, 2G)"
        )
    return int(float(found.group(1)) * _UNITS[found.group(2).upper()])


def _file_settings(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    if path.name == PYPROJECT:
        section, table = document.get("tool", {}).get("scopemigrate", {}), "[tool.scopemigrate]"
    elif "scopemigrate" in document:
        section, table = document["scopemigrate"], "[scopemigrate]"
        others = sorted(set(document) - {"scopemigrate"})
        if others:
            raise ConfigError(f"{path}: {others[0]!r} outside [scopemigrate]: put it inside")
    else:
        section, table = document, "the file"
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: {table} must be a table")
    unknown = sorted(set(section) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {unknown[0]!r} in {table} (known: {', '.join(KNOWN_KEYS)})"
        )
    return section


def find_config_file(cwd: Path, env: Mapping[str, str]) -> Path | None:
    """``SCOPEMIGRATE_CONFIG``, else the nearest file from ``cwd`` upwards."""
    explicit = env.get("SCOPEMIGRATE_CONFIG")
    if explicit:
        return Path(explicit)
    for folder in map(Path, search_folders(str(cwd))):
        standalone = folder / STANDALONE
        if standalone.is_file():
            return standalone
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and "scopemigrate" in _pyproject_tools(pyproject):
            return pyproject
    return None


def _pyproject_tools(path: Path) -> dict[str, Any]:
    try:
        tools = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return tools if isinstance(tools, dict) else {}


def _locations(values: Any, base: Path, origin: str) -> tuple[Path, ...]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{origin}: 'locations' must be a list of folder paths")
    return tuple((base / Path(v).expanduser()).resolve() for v in values)


def load_config(
    *,
    store: str | None = None,
    locations: Sequence[str] | None = None,
    lock_timeout: float | None = None,
    keep_backups: int | None = None,
    backups_max_size: str | None = None,
    config_file: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Merge the layers, highest first: arguments, environment, file, defaults."""
    env = dict(os.environ if env is None else env)
    cwd = cwd or Path.cwd()
    path = config_file or find_config_file(cwd, env)
    settings = _file_settings(path) if path else {}
    base = path.parent if path else cwd

    # Explicit locations (flag, environment) replace everything; the default and
    # the configuration file's folders are joined by installed plugins' sets.
    plugins = tuple(entry_point_locations())
    resolved_locations: tuple[Path, ...] = (shipped_migrations_dir(), *plugins)
    if locations:
        resolved_locations = _locations(list(locations), cwd, "--migrations")
    elif env.get("SCOPEMIGRATE_LOCATIONS"):
        resolved_locations = _locations(
            env["SCOPEMIGRATE_LOCATIONS"].split(os.pathsep), cwd, "SCOPEMIGRATE_LOCATIONS"
        )
    elif "locations" in settings:
        resolved_locations = (*_locations(settings["locations"], base, str(path)), *plugins)

    resolved_store = store or env.get("SCOPEMIGRATE_STORE") or settings.get("store")
    if resolved_store is not None and not isinstance(resolved_store, str):
        raise ConfigError(f"{path}: 'store' must be a string")

    timeout: Any = lock_timeout
    origin = "--lock-timeout"
    if timeout is None and env.get("SCOPEMIGRATE_LOCK_TIMEOUT") is not None:
        timeout, origin = env["SCOPEMIGRATE_LOCK_TIMEOUT"], "SCOPEMIGRATE_LOCK_TIMEOUT"
    elif timeout is None:
        timeout, origin = settings.get("lock_timeout"), f"{path}: 'lock_timeout'"
    try:
        resolved_timeout = DEFAULT_LOCK_TIMEOUT if timeout is None else float(timeout)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: {timeout!r} is not a number of seconds") from None
    if isinstance(timeout, bool) or not resolved_timeout >= 0:
        raise ConfigError(f"{origin}: {timeout!r} must be a number of seconds, at least 0")

    backups: Any = keep_backups if keep_backups is not None else settings.get("backups")
    if backups is None:
        backups = DEFAULT_KEEP_BACKUPS
    if not isinstance(backups, int) or isinstance(backups, bool) or backups < 0:
        raise ConfigError(f"{path}: 'backups' must be a whole number of backups to keep")

    if backups_max_size is not None:
        max_bytes = parse_size(backups_max_size, "--backups-max-size")
    else:
        max_bytes = parse_size(
            settings.get("backups_max_size", DEFAULT_BACKUPS_MAX_BYTES),
            f"{path}: 'backups_max_size'",
        )

    independent = settings.get("independent_branches", [])
    if not isinstance(independent, list) or not all(isinstance(v, str) for v in independent):
        raise ConfigError(f"{path}: 'independent_branches' must be a list of branch labels")

    names = {key: settings.get(key) for key in ("distribution", "npm_package", "program")}
    for key, value in names.items():
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{path}: '{key}' must be a string")

    return Config(
        distribution=names["distribution"],
        npm_package=names["npm_package"],
        program=names["program"],
        locations=resolved_locations,
        locations_chosen=bool(
            locations or env.get("SCOPEMIGRATE_LOCATIONS") or "locations" in settings
        ),
        keep_backups=backups,
        backups_max_bytes=max_bytes,
        independent_branches=tuple(independent),
        store=resolved_store,
        lock_timeout=resolved_timeout,
        source=path,
        env=env,
    )
