"""Configuration: flags > environment > ``[tool.scopemigrate]``/``scopemigrate.toml`` > defaults.

The file is the nearest one from the current folder upwards (see
``config_files.py``). Every key in it must be one this module reads: a typo
(``lock_timeot``) is an error naming the file and the key, never ignored.
"""

from __future__ import annotations

import os

from scopemigrate.config_files import PYPROJECT, STANDALONE, search_folders
from scopemigrate.errors import ConfigError
from scopemigrate.migration_files import entry_point_paths, shipped_migrations_path
from scopemigrate.stores.layout import pure_path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the quick paths)
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path
    from re import Pattern
    from typing import Any

DEFAULT_LOCK_TIMEOUT = 30.0
DEFAULT_KEEP_BACKUPS = 5
# Backups are bounded by their total size too (bytes only they hold): a large
# store's backups would otherwise outgrow the store several times over.
DEFAULT_BACKUPS_MAX_BYTES = 2**30  # 1G
_SIZE_PATTERN = r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*"
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


class Config:
    """Everything a command needs to know before it touches anything.

    Immutable; ``replace`` makes a changed copy. A plain class, not a
    dataclass, and the locations kept as ``os`` paths (``location_paths``;
    ``locations`` gives them as ``Path``): the hook's quick answer builds one,
    and ``dataclasses`` and ``pathlib`` would cost it more than the rest.
    """

    __slots__ = (
        "backups_max_bytes",
        "distribution",
        "env",
        "independent_branches",
        "keep_backups",
        "location_paths",
        "locations_chosen",
        "lock_timeout",
        "npm_package",
        "program",
        "source_path",
        "store",
    )
    location_paths: tuple[str, ...]
    store: str | None
    lock_timeout: float
    keep_backups: int  # 0: no backup
    # The backups' total size bound, in bytes (the newest backup is always kept).
    backups_max_bytes: int
    source_path: str | None  # the configuration file, if one was read
    # True when a flag, the environment or a file chose the locations; authoring
    # refuses to write into the defaults (the chain shipped inside the package).
    locations_chosen: bool
    # Where ``sync`` and ``hook`` look for the installed release (see installed.py);
    # None keeps a source's default.
    distribution: str | None
    npm_package: str | None
    program: str | None
    # Branch labels of chains with their own base (a plugin's) that ``head`` and
    # ``check`` take as independent: one head each, not several heads to merge.
    independent_branches: tuple[str, ...]
    env: Mapping[str, str]

    def __init__(
        self,
        *,
        locations: Iterable[str | os.PathLike[str]] | None = None,
        store: str | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        keep_backups: int = DEFAULT_KEEP_BACKUPS,
        backups_max_bytes: int = DEFAULT_BACKUPS_MAX_BYTES,
        source: str | os.PathLike[str] | None = None,
        locations_chosen: bool = False,
        distribution: str | None = None,
        npm_package: str | None = None,
        program: str | None = None,
        independent_branches: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        given = (shipped_migrations_path(),) if locations is None else locations
        values: dict[str, object] = {
            "location_paths": tuple(os.fspath(location) for location in given),
            "store": store,
            "lock_timeout": lock_timeout,
            "keep_backups": keep_backups,
            "backups_max_bytes": backups_max_bytes,
            "source_path": None if source is None else os.fspath(source),
            "locations_chosen": locations_chosen,
            "distribution": distribution,
            "npm_package": npm_package,
            "program": program,
            "independent_branches": tuple(independent_branches),
            "env": dict(os.environ) if env is None else env,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def locations(self) -> tuple[Path, ...]:
        """The migration folders, in the order their files are loaded."""
        from pathlib import Path

        return tuple(Path(location) for location in self.location_paths)

    @property
    def source(self) -> Path | None:
        """The configuration file read, if any."""
        from pathlib import Path

        return None if self.source_path is None else Path(self.source_path)

    def replace(self, **changes: object) -> Config:
        """A copy with ``changes``, by attribute name (``dataclasses.replace``'s job)."""
        unknown = sorted(set(changes) - set(self.__slots__))
        if unknown:
            raise TypeError(f"Config has no field {unknown[0]!r}")
        copy = object.__new__(Config)
        for name in self.__slots__:
            object.__setattr__(copy, name, changes.get(name, getattr(self, name)))
        return copy

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Config is immutable: use replace({name}=...)")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Config):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # env is a mapping, as for the dataclass it was

    def __repr__(self) -> str:  # env left out: it may hold secrets
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__ if n != "env")
        return f"Config({fields})"


def parse_size(value: object, origin: str) -> int:
    """Bytes from a size: a whole number of bytes, or a number with K, M, G or T
    (powers of 1024; ``500M``, ``1.5G``, ``2GiB``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    found = _size_pattern().fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise ConfigError(
            f"{origin}: {value!r} is not a size (bytes, or a number with K, M, G or T: 500M, 2G)"
        )
    return int(float(found.group(1)) * _UNITS[found.group(2).upper()])


_compiled: list[Pattern[str]] = []


def _size_pattern() -> Pattern[str]:
    """The size grammar, compiled on first use (``re`` costs the quick paths)."""
    if not _compiled:
        import re

        _compiled.append(re.compile(_SIZE_PATTERN, re.IGNORECASE))
    return _compiled[0]


def _file_settings(path: str) -> dict[str, Any]:
    import tomllib  # only when there is a file to read

    try:
        with open(path, encoding="utf-8") as handle:
            document = tomllib.loads(handle.read())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    if os.path.basename(path) == PYPROJECT:
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


def find_config_path(cwd: str, env: Mapping[str, str]) -> str | None:
    """``SCOPEMIGRATE_CONFIG``, else the nearest file from ``cwd`` upwards (``os`` paths)."""
    explicit = env.get("SCOPEMIGRATE_CONFIG")
    if explicit:
        return explicit
    for folder in search_folders(cwd):
        standalone = os.path.join(folder, STANDALONE)
        if os.path.isfile(standalone):
            return standalone
        pyproject = os.path.join(folder, PYPROJECT)
        if os.path.isfile(pyproject) and "scopemigrate" in _pyproject_tools(pyproject):
            return pyproject
    return None


def find_config_file(cwd: Path, env: Mapping[str, str]) -> Path | None:
    """``find_config_path`` as a ``Path``."""
    from pathlib import Path

    found = find_config_path(str(cwd), env)
    return None if found is None else Path(found)


def _pyproject_tools(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return {}
    # No "scopemigrate" in its bytes, and no \u escape that could spell it in a
    # quoted key: it cannot hold [tool.scopemigrate], and is not parsed (the
    # hook's no-op, run from any project's folder, pays nothing for TOML).
    if b"scopemigrate" not in data and b"\\u" not in data and b"\\U" not in data:
        return {}
    import tomllib

    try:
        tools = tomllib.loads(data.decode("utf-8")).get("tool", {})
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return tools if isinstance(tools, dict) else {}


def _locations(values: Any, base: str, origin: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{origin}: 'locations' must be a list of folder paths")
    # As Path(base, Path(v).expanduser()).resolve() would give them.
    return tuple(os.path.realpath(os.path.join(base, os.path.expanduser(v))) for v in values)


def load_config(
    *,
    store: str | None = None,
    locations: Sequence[str] | None = None,
    lock_timeout: float | None = None,
    keep_backups: int | None = None,
    backups_max_size: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Merge the layers, highest first: arguments, environment, file, defaults."""
    env = dict(os.environ if env is None else env)
    folder = os.fspath(cwd) if cwd else os.getcwd()
    found = os.fspath(config_file) if config_file else find_config_path(folder, env)
    path = pure_path(found) if found else None  # named as a Path would print it
    settings = _file_settings(path) if path else {}
    base = os.path.dirname(os.path.abspath(path)) if path else folder

    # Explicit locations (flag, environment) replace everything; the default and
    # the configuration file's folders are joined by installed plugins' sets.
    plugins = tuple(entry_point_paths())
    resolved_locations: tuple[str, ...] = (shipped_migrations_path(), *plugins)
    if locations:
        resolved_locations = _locations(list(locations), folder, "--migrations")
    elif env.get("SCOPEMIGRATE_LOCATIONS"):
        resolved_locations = _locations(
            env["SCOPEMIGRATE_LOCATIONS"].split(os.pathsep), folder, "SCOPEMIGRATE_LOCATIONS"
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
