"""Configuration: flags > environment > ``[tool.scopemigrate]``/``scopemigrate.toml`` > defaults."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scopemigrate.errors import ConfigError
from scopemigrate.migration_files import entry_point_locations, shipped_migrations_dir

DEFAULT_LOCK_TIMEOUT = 30.0
DEFAULT_KEEP_BACKUPS = 5


@dataclass(frozen=True)
class Config:
    """Everything a command needs to know before it touches anything."""

    locations: tuple[Path, ...] = field(default_factory=lambda: (shipped_migrations_dir(),))
    store: str | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    keep_backups: int = DEFAULT_KEEP_BACKUPS  # 0: no backup
    source: Path | None = None  # the configuration file, if one was read
    # True when a flag, the environment or a file chose the locations; authoring
    # refuses to write into the defaults (the chain shipped inside the package).
    locations_chosen: bool = False
    # Where ``sync`` and ``hook`` look for the installed release (see installed.py);
    # None keeps a source's default.
    distribution: str | None = None
    npm_package: str | None = None
    program: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)


def _file_settings(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    if path.name == "pyproject.toml":
        section = document.get("tool", {}).get("scopemigrate", {})
    else:
        section = document.get("scopemigrate", document)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.scopemigrate] must be a table")
    return section


def find_config_file(cwd: Path, env: Mapping[str, str]) -> Path | None:
    explicit = env.get("SCOPEMIGRATE_CONFIG")
    if explicit:
        return Path(explicit)
    standalone = cwd / "scopemigrate.toml"
    if standalone.is_file():
        return standalone
    pyproject = cwd / "pyproject.toml"
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
    if timeout is None:
        timeout = env.get("SCOPEMIGRATE_LOCK_TIMEOUT", settings.get("lock_timeout"))
    try:
        resolved_timeout = DEFAULT_LOCK_TIMEOUT if timeout is None else float(timeout)
    except (TypeError, ValueError):
        raise ConfigError(f"lock timeout {timeout!r} is not a number of seconds") from None
    if resolved_timeout < 0:
        raise ConfigError("lock timeout must not be negative")

    backups: Any = keep_backups if keep_backups is not None else settings.get("backups")
    if backups is None:
        backups = DEFAULT_KEEP_BACKUPS
    if not isinstance(backups, int) or isinstance(backups, bool) or backups < 0:
        raise ConfigError(f"{path}: 'backups' must be a whole number of backups to keep")

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
        store=resolved_store,
        lock_timeout=resolved_timeout,
        source=path,
        env=env,
    )
