"""Which release is installed: the version ``sync`` and ``hook`` bring the store to.

A source the user named (a value, the environment, ``--distribution``,
``--npm-package``, ``--program``, or the same keys in the configuration file)
must answer: when it cannot, detection fails and nothing is changed, since
falling back to another source could move the store to a release that is not
installed (down, even). Only automatic detection, with no source named, tries
OpenClaw's usual places in a fixed order, the first that answers winning:

1. an explicit value (``--installed-version``);
2. the environment (``SCOPEMIGRATE_INSTALLED_VERSION``);
3. a Python distribution's metadata (``--distribution``);
4. an npm package's ``package.json`` under a local or global ``node_modules``
   (``--npm-package``; by default ``openclaw``);
5. a program's ``--version`` output (``--program``; by default ``openclaw``,
   which prints ``OpenClaw 2026.3.14 (abc1234)``);
6. OpenClaw's ``<state>/openclaw.json`` ``meta.lastTouchedVersion``, with a
   warning: it names the last release that wrote the config, which lags an
   upgrade until the gateway starts.

Standard library and ``packaging`` only, and only ``os`` at import (no
``dataclasses``, ``pathlib``, ``json`` or ``re`` until a source needs one):
the hook's no-op path imports this.
"""

from __future__ import annotations

import os

from scopemigrate.errors import ConfigError
from scopemigrate.stores.layout import pure_path
from scopemigrate.versions import RELEASE_FORMS, looks_like_release

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the quick paths)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from scopemigrate.config import Config

ENV_VAR = "SCOPEMIGRATE_INSTALLED_VERSION"
DEFAULT_NPM_PACKAGE = "openclaw"
DEFAULT_PROGRAM = "openclaw"
PROGRAM_TIMEOUT_SECONDS = 10.0
VERSION_IN_TEXT = r"(?<![\w.])v?(\d+\.\d+(?:\.\d+)?(?:-[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*)?)"


class InstalledVersion:
    """The installed release, where it was found (for messages and ``--json``), and a
    warning when the source can lag (OpenClaw's own config)."""

    __slots__ = ("source", "version", "warning")

    def __init__(self, version: str, source: str, warning: str | None = None) -> None:
        self.version = version
        self.source = source
        self.warning = warning

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InstalledVersion):
            return NotImplemented
        return (self.version, self.source, self.warning) == (
            other.version,
            other.source,
            other.warning,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"InstalledVersion({self.version!r}, {self.source!r}, {self.warning!r})"


class VersionSources:
    """What to look at; ``None`` skips a source, the defaults suit OpenClaw.

    ``named``: which of "npm_package" and "program" the user named (a flag or
    the configuration) rather than left at their defaults; a distribution is
    only ever named. Named sources must answer (see the module's docstring).
    ``state_dir`` is an ``os`` path.
    """

    __slots__ = ("distribution", "explicit", "named", "npm_package", "program", "state_dir")

    def __init__(
        self,
        explicit: str | None = None,
        distribution: str | None = None,
        npm_package: str | None = DEFAULT_NPM_PACKAGE,
        program: str | None = DEFAULT_PROGRAM,
        state_dir: str | os.PathLike[str] | None = None,
        named: frozenset[str] = frozenset(),
    ) -> None:
        self.explicit = explicit
        self.distribution = distribution
        self.npm_package = npm_package
        self.program = program
        self.state_dir = None if state_dir is None else os.fspath(state_dir)
        self.named = named


def _checked(version: str, source: str, warning: str | None = None) -> InstalledVersion:
    text = version.strip()
    if not looks_like_release(text):
        raise ConfigError(
            f"{source}: installed version {version!r} is not a release version ({RELEASE_FORMS})"
        )
    return InstalledVersion(text, source, warning)


def _from_distribution(name: str) -> InstalledVersion | None:
    from importlib import metadata  # ~15 ms of imports: only when asked for

    try:
        return _checked(metadata.version(name), f"Python distribution {name}")
    except metadata.PackageNotFoundError:
        return None


def _under(folder: str, *names: str) -> str:
    """``Path(folder, *names)`` as an ``os`` path, printed as the ``Path`` would be."""
    return pure_path(os.path.join(folder, *names))


def _node_modules_dirs(cwd: str, env: Mapping[str, str]) -> Iterator[str]:
    """Local ``node_modules`` from ``cwd`` upwards, then the global ones npm uses."""
    folder = pure_path(cwd)
    while True:
        yield _under(folder, "node_modules")
        parent = pure_path(os.path.dirname(folder))
        if parent == folder:
            break
        folder = parent
    prefixes = [env.get("npm_config_prefix"), env.get("NPM_CONFIG_PREFIX"), env.get("PREFIX")]
    for prefix in prefixes:
        if prefix:
            yield _under(prefix, "lib", "node_modules")
    for entry in env.get("NODE_PATH", "").split(os.pathsep):
        if entry:
            yield pure_path(entry)
    home = env.get("HOME")
    if home:
        yield _under(home, ".npm-global", "lib", "node_modules")
    yield "/usr/local/lib/node_modules"
    yield "/usr/lib/node_modules"


def _package_version(path: str, name: str) -> str | None:
    import json  # only when a package.json may be there

    try:
        with open(path, encoding="utf-8") as handle:
            document = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("name") != name:
        return None
    version = document.get("version")
    if not isinstance(version, str):
        raise ConfigError(f"{path}: 'version' is missing or not a string")
    return version


def _from_npm(name: str, cwd: str, env: Mapping[str, str]) -> InstalledVersion | None:
    # Inside the package's own npm script, cwd is the package's folder.
    own_path = _under(cwd, "package.json")
    own = _package_version(own_path, name)
    if own is not None:
        return _checked(own, own_path)
    for folder in _node_modules_dirs(cwd, env):
        path = _under(folder, name, "package.json")
        # os.path: a folder the caller may not search is one it has no package in.
        version = _package_version(path, name) if os.path.isfile(path) else None
        if version is not None:
            return _checked(version, str(path))
    return None


def _from_program(name: str, env: Mapping[str, str]) -> InstalledVersion | None:
    import shutil  # imported here: the hook's no-op path rarely gets this far
    import subprocess

    executable = shutil.which(name, path=env.get("PATH"))
    if executable is None:
        return None
    source = f"'{name} --version'"
    try:
        done = subprocess.run(
            [executable, "--version"],
            capture_output=True,
            text=True,
            timeout=PROGRAM_TIMEOUT_SECONDS,
            env=dict(env),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"{source}: could not run it ({exc})") from None
    import re

    first_line = (done.stdout.strip().splitlines() or [""])[0]
    match = re.search(VERSION_IN_TEXT, first_line)
    if done.returncode != 0 or match is None:
        raise ConfigError(
            f"{source}: printed no version (exit {done.returncode}, first line "
            f"{first_line[:80]!r}); pass --installed-version"
        )
    return _checked(match.group(1), source)


def _from_openclaw_config(state_dir: str) -> InstalledVersion | None:
    import json

    path = _under(state_dir, "openclaw.json")
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.loads(handle.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read it for meta.lastTouchedVersion ({exc})") from None
    meta = document.get("meta") if isinstance(document, dict) else None
    version = meta.get("lastTouchedVersion") if isinstance(meta, dict) else None
    if not isinstance(version, str):
        return None
    return _checked(
        version,
        f"{path} meta.lastTouchedVersion",
        warning=(
            f"installed version taken from {path} meta.lastTouchedVersion, the last release "
            "that wrote the config; pass --installed-version to be sure"
        ),
    )


if TYPE_CHECKING:
    Finder = Callable[[], InstalledVersion | None]


def _finders(
    sources: VersionSources, env: Mapping[str, str], cwd: str
) -> list[tuple[str, bool, Finder]]:
    """(what it is, whether the user named it, how to ask it), in the order tried."""
    finders: list[tuple[str, bool, Finder]] = []
    if sources.distribution:
        distribution = sources.distribution
        finders.append(
            (f"Python distribution {distribution}", True, lambda: _from_distribution(distribution))
        )
    if sources.npm_package:
        package = sources.npm_package
        finders.append(
            (
                f"npm package {package}",
                "npm_package" in sources.named,
                lambda: _from_npm(package, cwd, env),
            )
        )
    if sources.program:
        program = sources.program
        finders.append(
            (
                f"'{program} --version'",
                "program" in sources.named,
                lambda: _from_program(program, env),
            )
        )
    if sources.state_dir is not None:
        state_dir = sources.state_dir
        finders.append(
            (_under(state_dir, "openclaw.json"), False, lambda: _from_openclaw_config(state_dir))
        )
    return finders


def detect(
    sources: VersionSources,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> InstalledVersion:
    """The installed release: from the source the user named, else the first that knows it."""
    env = os.environ if env is None else env
    folder = os.fspath(cwd) if cwd else os.getcwd()
    if sources.explicit:
        return _checked(sources.explicit, "--installed-version")
    if env.get(ENV_VAR):
        return _checked(env[ENV_VAR], ENV_VAR)
    finders = _finders(sources, env, folder)
    named = [(name, finder) for name, is_named, finder in finders if is_named]
    if named:
        # The first named source decides, alone: another answer is a guess.
        name, finder = named[0]
        found = finder()
        if found is None:
            raise ConfigError(
                f"{name}: not found, and it was named explicitly, so no other source is "
                "tried and nothing was changed; name one that is installed or pass "
                "--installed-version VERSION"
            )
        return found
    for _, _, finder in finders:
        found = finder()
        if found is not None:
            return found
    tried = ", ".join([ENV_VAR, *(name for name, _, _ in finders)])
    raise ConfigError(
        f"cannot tell which release is installed (tried {tried}); pass --installed-version VERSION"
    )


def version_sources(config: Config, explicit: str | None) -> VersionSources:
    """Where to look for the installed release, by ``config`` (and ``--installed-version``)."""
    from scopemigrate.stores.layout import state_path_of

    defaults = VersionSources()
    return VersionSources(
        explicit=explicit,
        distribution=config.distribution,
        npm_package=config.npm_package or defaults.npm_package,
        program=config.program or defaults.program,
        state_dir=state_path_of(config.store, config.env),
        named=frozenset(key for key in ("npm_package", "program") if getattr(config, key)),
    )


def resolve_installed(config: Config, explicit: str | None = None) -> InstalledVersion:
    """The installed release for ``config``: the one call of ``sync``, ``hook`` and quick."""
    return detect(version_sources(config, explicit), env=config.env)


def with_version_sources(
    config: Config,
    *,
    distribution: str | None = None,
    npm_package: str | None = None,
    program: str | None = None,
) -> Config:
    """``config`` with the sources given on the command line (None keeps the file's)."""
    return config.replace(
        distribution=distribution or config.distribution,
        npm_package=npm_package or config.npm_package,
        program=program or config.program,
    )
