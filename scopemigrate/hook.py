"""The post-install hook: bring the store to the installed release, by itself.

A package's install step (npm ``postinstall``, a Debian ``postinst``, a
service's ``ExecStartPre``, an application at start) calls ``hook``. It is
non-interactive and idempotent, quiet when there is nothing to do, one line
when it changed something, and bounded in time: the wait for another run's
lock never exceeds ``timeout``, and each run retries a bounded number of times.

The common case is an install or a service start where the store is already
at the installed release. ``already_synced`` answers that from the ledger and
the migration files with the standard library alone, so the hook costs little
more than the interpreter's start; anything it cannot vouch for goes the full
way through ``commands.sync``, which is imported only then.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scopemigrate.config import Config
from scopemigrate.errors import ConfigError
from scopemigrate.headmark import JOURNAL_NAME, LEDGER_NAME, migration_file_names
from scopemigrate.installed import InstalledVersion, VersionSources, detect
from scopemigrate.stores import state_dir_from_path
from scopemigrate.stores.openclaw_paths import resolve_state_dir
from scopemigrate.versions import parse_release, selection_ceiling

if TYPE_CHECKING:
    from scopemigrate.commands import SyncResult
    from scopemigrate.findings import Finding

DEFAULT_TIMEOUT_SECONDS = 60.0
LEDGER_PATH = ("devices", LEDGER_NAME)
JOURNAL_PATH = ("devices", JOURNAL_NAME)


@dataclass(frozen=True)
class HookResult:
    store: str
    installed: InstalledVersion
    heads: list[str]
    sync: SyncResult | None = None  # None: nothing to do, known without a full run
    findings: list[Finding] = field(default_factory=list)  # read on a full run only

    @property
    def changed(self) -> bool:
        return self.sync is not None and self.sync.changed

    def summary(self) -> str | None:
        """The one line printed when the hook changed the store, else None."""
        if self.sync is None or not self.sync.changed:
            return None
        before = ", ".join(self.sync.from_heads) or "base"
        after = ", ".join(self.sync.to_heads) or "base"
        return (
            f"scopemigrate: {self.store} brought to release {self.installed.version} "
            f"({before} -> {after}): {self.sync.devices_changed} device(s) changed"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "installed": {
                "version": self.installed.version,
                "source": self.installed.source,
                "warning": self.installed.warning,
            },
            "changed": self.changed,
            "heads": self.heads,
            "sync": None if self.sync is None else self.sync.to_json(),
            "findings": [asdict(finding) for finding in self.findings],
        }


def json_state_dir(config: Config) -> Path | None:
    """The OpenClaw state dir of a JSON store, or None for any other store."""
    spec = config.store
    if not spec:
        return resolve_state_dir(config.env)
    scheme, sep, rest = spec.partition(":")
    if sep and scheme == "openclaw-json":
        return state_dir_from_path(Path(rest).expanduser())
    if sep and len(scheme) > 1:
        return None
    return state_dir_from_path(Path(spec).expanduser())


def with_version_sources(
    config: Config,
    *,
    distribution: str | None = None,
    npm_package: str | None = None,
    program: str | None = None,
) -> Config:
    """``config`` with the sources given on the command line (None keeps the file's)."""
    return replace(
        config,
        distribution=distribution or config.distribution,
        npm_package=npm_package or config.npm_package,
        program=program or config.program,
    )


def version_sources(config: Config, explicit: str | None) -> VersionSources:
    defaults = VersionSources()
    return VersionSources(
        explicit=explicit,
        distribution=config.distribution,
        npm_package=config.npm_package or defaults.npm_package,
        program=config.program or defaults.program,
        state_dir=json_state_dir(config),
    )


def _revision_table(locations: tuple[Path, ...]) -> dict[str, tuple[list[str], str]] | None:
    """revision -> (parents, release) from the files; None if any needs a closer look."""
    table: dict[str, tuple[list[str], str]] = {}
    for location in locations:
        try:
            names = migration_file_names(location)
        except OSError:
            return None
        for path in (location / name for name in names):
            try:
                document = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                return None
            rev, release = document.get("revision"), document.get("release")
            parents = document.get("down_revision", [])
            parents = [parents] if isinstance(parents, str) else parents
            if (
                not isinstance(rev, str)
                or not isinstance(release, str)
                or not isinstance(parents, list)
                or document.get("depends_on")
                or rev in table
            ):
                return None
            table[rev] = ([str(p) for p in parents], release)
    return table


# The ledger is written with its format and heads first, so the heads are
# read from the file's first bytes; its provenance can run to many megabytes.
_LEDGER_START = re.compile(rb'\A\{\s*"format":\s*\d+,\s*"heads":\s*(\[[^\]]*\])')
_LEDGER_PREFIX_BYTES = 4096


def _json_heads(state_dir: Path) -> list[str] | None:
    """The JSON store's applied heads; None when only a full run can tell."""
    if state_dir.joinpath(*JOURNAL_PATH).exists():
        return None  # a commit to recover first
    try:
        with state_dir.joinpath(*LEDGER_PATH).open("rb") as handle:
            start = handle.read(_LEDGER_PREFIX_BYTES)
            if _LEDGER_START.match(start):
                return _heads_of(start)
            return _heads_of(start + handle.read())
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _sqlite_heads(database: Path) -> list[str] | None:
    """The SQLite store's applied heads; None when only a full run can tell."""
    import sqlite3  # a few milliseconds, only for this generation

    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1.0)
        try:
            tables = {
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            row = (
                conn.execute("SELECT document FROM scopemigrate_ledger WHERE id = 1").fetchone()
                if "scopemigrate_ledger" in tables
                else None
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # locked or unreadable: the full run decides and explains
    if row is None:
        return []
    try:
        return _heads_of(row[0].encode("utf-8"))
    except (ValueError, KeyError, TypeError):
        return None


def _heads_of(document: bytes) -> list[str]:
    found = _LEDGER_START.match(document[:_LEDGER_PREFIX_BYTES])
    heads = json.loads(found.group(1)) if found else json.loads(document)["heads"]
    return [str(head) for head in heads]


def _store_heads(config: Config) -> tuple[bool, list[str] | None]:
    """(whether an OpenClaw store exists, its applied heads or None when unsure)."""
    state_dir = json_state_dir(config)
    if state_dir is None:
        return True, None
    live_json = (state_dir / "devices" / "paired.json").is_file()
    database = state_dir / "state" / "openclaw.sqlite"
    if database.exists():
        return True, None if live_json else _sqlite_heads(database)
    if not live_json:
        return False, []
    return True, _json_heads(state_dir)


def _sound_table(config: Config) -> dict[str, tuple[list[str], str]] | None:
    """The revision table when it is a plain sound graph: every parent present,
    every revision reachable from a head (no cycle); else None."""
    table = _revision_table(config.locations)
    if table is None or any(p not in table for parents, _ in table.values() for p in parents):
        return None
    heads = set(table) - {p for parents, _ in table.values() for p in parents}
    seen: set[str] = set()
    todo = list(heads)
    while todo:
        rev = todo.pop()
        if rev not in seen:
            seen.add(rev)
            todo.extend(table[rev][0])
    return table if seen == set(table) else None


def already_synced(config: Config, installed: str) -> tuple[bool, list[str]]:
    """Whether an OpenClaw store is already exactly at ``installed``, and its heads.

    True only when certain: no store yet (a fresh install), or a ledger whose
    heads are the heads of the revisions the release selects, with no commit
    journal left to recover. Everything else is for the full run to decide.
    """
    exists, found = _store_heads(config)
    if not exists:
        return True, []
    if found is None:
        return False, []
    heads = found
    table = _sound_table(config)
    if table is None or any(head not in table for head in heads):
        return False, heads
    try:
        ceiling = selection_ceiling(parse_release(installed))
        chosen = {rev for rev, (_, release) in table.items() if parse_release(release) <= ceiling}
    except ConfigError:  # a bad release: the full run names the file
        return False, heads
    built_on = {parent for rev in chosen for parent in table[rev][0]}
    wanted = {rev for rev in chosen if rev not in built_on}
    return set(heads) == wanted, heads


def at_head(config: Config) -> tuple[bool, list[str]]:
    """Whether an existing store has every revision of the files applied, and its heads.

    The no-op ``upgrade head`` answer, decided without parsing the store: True
    only when the ledger's heads are exactly the heads of a sound graph of
    migration files and no commit waits to be recovered. (A migration file
    already applied and since edited into nonsense is not re-read here;
    ``scopemigrate check`` is the tool that reads every file.)
    """
    exists, heads = _store_heads(config)
    if not exists or not heads:
        return False, []
    table = _sound_table(config)
    if table is None:
        return False, heads
    graph_heads = set(table) - {p for parents, _ in table.values() for p in parents}
    return set(heads) == graph_heads, heads


def hook(
    config: Config,
    installed_version: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> HookResult:
    """Bring the store to the installed release; the Python face of ``scopemigrate hook``."""
    installed = detect(version_sources(config, installed_version), env=config.env)
    synced, heads = already_synced(config, installed.version)
    state_dir = json_state_dir(config)
    location = str(state_dir) if state_dir is not None else str(config.store)
    if synced:
        return HookResult(location, installed, heads)
    from scopemigrate import commands  # the full machinery, only when there is work
    from scopemigrate.findings import store_findings

    bounded = replace(config, lock_timeout=min(config.lock_timeout, timeout))
    result = commands.sync(bounded, installed.version)
    found = store_findings(bounded, installed.version) if result.store_exists else []
    return HookResult(result.store, installed, result.to_heads, result, found)
