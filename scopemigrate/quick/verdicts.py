"""Two no-op verdicts decided from the files' TOML and the ledger's heads alone.

``at_release``: is an OpenClaw store exactly at the revisions a release
selects (the hook's no-op)? ``at_head``: is it at the head of the files
(``upgrade head``'s no-op, where the at-head mark cannot vouch)? Each says True
only when certain; anything else is for the full run. They duplicate the
graph's *decisions* for speed (no pydantic), under tests that hold them equal
to the full run's (tests/test_hook.py, tests/test_quick_noop.py,
tests/test_quick_depends_on.py); the *facts* (file listing, layout, ledger
prefix, DAG reachability and heads in ``dag.py``) are imported.

A revision's parents are its ``down_revision`` and its ``depends_on``, as in
``graph.RevisionGraph``: what a store holds is closed under both, and its
ledger records the heads of that set through both. A ``depends_on`` naming a
branch label (or anything but a revision id) is left to the full run.
"""

from __future__ import annotations

import os

from scopemigrate import dag
from scopemigrate.errors import ConfigError
from scopemigrate.migration_files import migration_file_names, plain_toml
from scopemigrate.quick.probe import database_heads, store_heads
from scopemigrate.stores.layout import (
    named_path_missing,
    parse_store_spec,
    sqlite_database,
    state_path_of,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from scopemigrate.config import Config

__all__ = ["at_head", "at_release", "named_database", "release_verdict"]


class _Files:
    """The files' revisions: each one's parents (both kinds), its ``down_revision``
    alone, and its release."""

    def __init__(self) -> None:
        self.parents: dict[str, list[str]] = {}
        self.down: dict[str, list[str]] = {}
        self.releases: dict[str, str] = {}

    def add(self, rev: str, down: list[str], depends: list[str], release: str) -> None:
        self.down[rev] = down
        self.parents[rev] = list(dict.fromkeys(down + depends))
        self.releases[rev] = release

    def heads(self) -> set[str]:
        """What the ledger records with every revision applied (``depends_on`` counts)."""
        return dag.heads_of(self.parents, self.parents)

    def down_heads(self) -> set[str]:
        """What ``head`` chooses from: no ``down_revision`` names them (Alembic's heads)."""
        return dag.heads_of(self.down, self.down)

    def applied(self, heads: list[str]) -> set[str]:
        return dag.reachable(heads, self.parents.__getitem__)


def _strings(value: object) -> list[str] | None:
    """A TOML string-or-list-of-strings field as a list; None when it is neither."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        return None
    return items


def _document(path: str) -> dict[str, object] | None:
    """A migration file's top-level values: read as plain TOML when it is
    (``migration_files.plain_toml``), else by ``tomllib``; None if unreadable."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    plain = plain_toml(text)
    if plain is not None:
        return dict(plain)
    import tomllib  # a file the plain reader leaves to the parser

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _read_files(locations: tuple[str, ...]) -> _Files | None:
    """The revisions of the files; None if any needs a closer look."""
    files = _Files()
    for location in locations:
        try:
            names = migration_file_names(location)
        except OSError:
            return None
        for name in names:
            document = _document(os.path.join(location, name))
            if document is None:
                return None
            rev, release = document.get("revision"), document.get("release")
            down = _strings(document.get("down_revision", []))
            depends = _strings(document.get("depends_on", []))
            if (
                not isinstance(rev, str)
                or not isinstance(release, str)
                or down is None
                or depends is None
                or rev in files.releases
            ):
                return None
            files.add(rev, down, depends, release)
    return files


def _sound_files(config: Config) -> _Files | None:
    """The files when they form a sound graph: every parent a revision of them
    (a ``depends_on`` on a label is for the full run), and no cycle; else None."""
    files = _read_files(config.location_paths)
    if files is None or any(p not in files.parents for ps in files.parents.values() for p in ps):
        return None
    try:
        dag.topological_order(files.parents)
    except dag.CycleFound:
        return None
    return files


def _store_heads(config: Config) -> tuple[bool, list[str] | None]:
    if named_path_missing(config.store) is not None:
        return True, None  # a named store that is not there: the full run says so
    database = named_database(config)
    if database is not None:
        return database_heads(database)
    return store_heads(state_path_of(config.store, config.env))


def named_database(config: Config) -> str | None:
    """The SQLite database the configuration names by itself (``sqlite:PATH``, a
    ``.sqlite`` file), else None."""
    try:
        return sqlite_database(parse_store_spec(config.store))
    except ConfigError:
        return None  # an unknown scheme: the full run names it


def at_release(config: Config, installed: str) -> tuple[bool, list[str]]:
    """Whether an OpenClaw store is already exactly at ``installed``, and its heads.

    True only when certain: no store yet (a fresh install), or a ledger whose
    heads hold exactly the revisions the release selects (and those are closed
    under their parents: else ``sync`` would undo and redo), with no commit
    journal left to recover. Everything else is for the full run to decide.
    """
    _, synced, heads = release_verdict(config, installed)
    return synced, heads


def release_verdict(config: Config, installed: str) -> tuple[bool, bool, list[str]]:
    """(whether a store exists, ``at_release``'s answer, its heads): ``sync`` says
    which of "no store" and "already matches" it is."""
    exists, found = _store_heads(config)
    if not exists:
        return False, True, []
    if found is None:
        return True, False, []
    heads = found
    files = _sound_files(config)
    if files is None or any(head not in files.parents for head in heads):
        return True, False, heads
    chosen = _chosen(files.releases, installed)
    if chosen is None:  # a bad release: the full run names the file
        return True, False, heads
    # Exactly the release's revisions, recorded by exactly their heads.
    exact = files.applied(heads) == chosen and set(heads) == dag.heads_of(files.parents, chosen)
    return True, exact, heads


def _chosen(releases: dict[str, str], installed: str) -> set[str] | None:
    """The revisions a release selects (``versions.selection_ceiling``); None when a
    release does not parse. Plain dotted releases are ordered without ``packaging``
    (``versions.plain_release``), anything else with it."""
    from scopemigrate.versions import parse_release, plain_release, selection_ceiling

    ceiling = plain_release(installed)
    keys = {rev: plain_release(release) for rev, release in releases.items()}
    if ceiling is not None and all(key is not None for key in keys.values()):
        return {rev for rev, key in keys.items() if key is not None and key <= ceiling}
    try:
        top = selection_ceiling(parse_release(installed))
        return {rev for rev, release in releases.items() if parse_release(release) <= top}
    except ConfigError:
        return None


def at_head(config: Config, target: str = "head") -> tuple[bool, list[str]]:
    """Whether an existing store has every revision of the files applied, and its heads.

    The no-op ``upgrade head`` (or ``heads``) answer, decided without parsing
    the store: True only when the ledger's heads are exactly the heads of a
    sound graph of migration files, no commit waits to be recovered, and for
    ``head`` the files have one head (several: the full run asks which). (A
    migration file already applied and since edited into nonsense is not
    re-read here; ``scopemigrate check`` is the tool that reads every file.)
    """
    exists, heads = _store_heads(config)
    if not exists or not heads:
        return False, []
    files = _sound_files(config)
    if files is None or (target == "head" and len(files.down_heads()) != 1):
        return False, heads
    return set(heads) == files.heads(), heads
