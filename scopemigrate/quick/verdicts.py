"""Verdicts and views decided from the files' TOML and the ledger's heads alone.

``at_release``: is an OpenClaw store exactly at the revisions a release
selects (the hook's no-op)? ``at_head``: is it at the head of the files
(``upgrade head``'s no-op, where the at-head mark cannot vouch)? Each says True
only when certain; anything else is for the full run. ``current_view``,
``history_view`` and ``heads_view`` are those commands' answers, the last only
for files the validation cache vouches for. They duplicate the
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
from scopemigrate.migration_files import digest_of, migration_file_names, plain_toml
from scopemigrate.quick.probe import database_heads, store_heads
from scopemigrate.stores.layout import (
    OpenClawLayout,
    named_path_missing,
    parse_store_spec,
    sqlite_database,
    state_path_of,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

    from scopemigrate.config import Config

    # (down_revision, revision, is a head, applied, release, message)
    HistoryLine = tuple[list[str], str, bool, bool, str, str]

__all__ = [
    "at_head",
    "at_release",
    "current_view",
    "heads_view",
    "history_view",
    "named_database",
    "release_verdict",
]


class _Files:
    """The files' revisions: each one's parents (both kinds), its ``down_revision``
    alone, its release and message, and whether any file names a branch label."""

    def __init__(self) -> None:
        self.parents: dict[str, list[str]] = {}
        self.down: dict[str, list[str]] = {}
        self.releases: dict[str, str] = {}
        self.messages: dict[str, str | None] = {}
        self.labelled = False
        self.order: list[str] = []  # graph.RevisionGraph.order (set by _sound_files)
        # Each location's (name, bytes): what was read is what the digest covers.
        self.raw: list[list[tuple[str, bytes]]] = []

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

    def shown(self, rev: str) -> tuple[str, str]:
        """(release, message) of ``rev``, as the views print them."""
        return self.releases[rev], str(self.messages[rev])

    def applied(self, heads: list[str]) -> set[str]:
        return dag.reachable(heads, self.parents.__getitem__)

    def digest(self) -> str:
        """``migration_files.digest_of`` the bytes read."""
        return digest_of(self.raw)


def _strings(value: object) -> list[str] | None:
    """A TOML string-or-list-of-strings field as a list; None when it is neither."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        return None
    return items


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _document(data: bytes) -> dict[str, object] | None:
    """A migration file's top-level values: read as plain TOML when it is
    (``migration_files.plain_toml``), else by ``tomllib``; None if not UTF-8 TOML."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
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
        files.raw.append([])
        for name in names:
            data = _read(os.path.join(location, name))
            document = None if data is None else _document(data)
            if data is None or document is None:
                return None
            files.raw[-1].append((name, data))
            rev, release = document.get("revision"), document.get("release")
            down = _strings(document.get("down_revision", []))
            depends = _strings(document.get("depends_on", []))
            message = document.get("message", "")
            if (
                not isinstance(rev, str)
                or not isinstance(release, str)
                or down is None
                or depends is None
                or rev in files.releases
            ):
                return None
            files.add(rev, down, depends, release)
            # Read by the views alone, which leave anything unusual to the full run.
            files.messages[rev] = message if isinstance(message, str) else None
            files.labelled |= document.get("branch_labels", []) != []
    return files


def _sound_files(config: Config) -> _Files | None:
    """The files when they form a sound graph: every parent a revision of them
    (a ``depends_on`` on a label is for the full run), no cycle, and no release
    going backwards along ``down_revision`` (``graph.RevisionGraph`` refuses
    both); else None."""
    files = _read_files(config.location_paths)
    if files is None or any(p not in files.parents for ps in files.parents.values() for p in ps):
        return None
    keys = _release_keys(files.releases)
    if keys is None or any(keys[p] > keys[rev] for rev, ps in files.down.items() for p in ps):
        return None
    try:
        files.order = dag.topological_order(files.parents, key=lambda rev: (keys[rev], rev))
    except dag.CycleFound:
        return None
    return files


def _release_keys(releases: dict[str, str]) -> dict[str, Any] | None:
    """Each release's sort key, in one order for all (``plain_release`` when every
    one is a plain dotted release, else ``packaging``'s); None when one does not
    parse (the full run names the file)."""
    from scopemigrate.versions import parse_release, plain_release

    plain = {name: plain_release(text) for name, text in releases.items()}
    if all(key is not None for key in plain.values()):
        return plain
    try:
        return {name: parse_release(text) for name, text in releases.items()}
    except ConfigError:
        return None


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


# The installed release's place among the files' in ``_release_keys``.
_INSTALLED = "\0installed"


def _chosen(releases: dict[str, str], installed: str) -> set[str] | None:
    """The revisions a release selects (``versions.selection_ceiling``); None when a
    release does not parse."""
    from scopemigrate.versions import selection_ceiling

    keys = _release_keys({**releases, _INSTALLED: installed})
    if keys is None:
        return None
    ceiling = keys.pop(_INSTALLED)
    if not isinstance(ceiling, tuple):  # packaging's Version: a pre-release counts as its release
        ceiling = selection_ceiling(ceiling)
    return {rev for rev, key in keys.items() if key <= ceiling}


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


def _json_store(config: Config) -> tuple[str, bool, list[str] | None] | None:
    """(state dir, whether the store exists, its heads or None when unsure) of a JSON
    store, as ``stores.open_store`` would find it; None for any other store."""
    if named_path_missing(config.store) is not None or named_database(config) is not None:
        return None
    state_dir = state_path_of(config.store, config.env)
    if state_dir is None or os.path.exists(OpenClawLayout(state_dir).database):
        return None  # a URL, or a database generation: the adapters tell
    exists, heads = store_heads(state_dir)
    return state_dir, exists, heads


def _plain_files(config: Config) -> _Files | None:
    """``_sound_files`` without branch labels (the full graph checks them) and with
    every message a string; else None."""
    files = _sound_files(config)
    if files is None or files.labelled or None in files.messages.values():
        return None
    return files


def _store_and_files(config: Config) -> tuple[str, bool, list[str], _Files] | None:
    """(state dir, whether the store exists, its heads, the files) of a JSON store
    whose heads the plain files all hold; else None (the full run decides)."""
    store = _json_store(config)
    files = _plain_files(config) if store is not None else None
    if store is None or files is None:
        return None
    state_dir, exists, heads = store
    if heads is None or any(head not in files.parents for head in heads):
        return None
    return state_dir, exists, heads, files


def current_view(config: Config) -> tuple[str, bool, list[tuple[str, str, str]]] | None:
    """``current``'s answer for a JSON store: (its location, whether it exists, each
    head's (revision, release, message) in the full command's order); None unless
    certain (a database, a URL, labels, a head the files do not hold, ...)."""
    found = _store_and_files(config)
    if found is None:
        return None
    state_dir, exists, heads, files = found
    shown = [rev for rev in reversed(files.order) if rev in heads]
    return state_dir, exists, [(rev, *files.shown(rev)) for rev in shown]


def history_view(config: Config) -> tuple[list[str], list[HistoryLine]] | None:
    """``history``'s answer (no range) for a JSON store: its heads, and each revision
    newest first as (down_revision, revision, is a head, applied, release, message);
    None unless certain, as for ``current_view``."""
    found = _store_and_files(config)
    if found is None:
        return None
    _, _, heads, files = found
    applied, tips = files.applied(heads), files.down_heads()
    rows = [
        (files.down[rev], rev, rev in tips, rev in applied, *files.shown(rev))
        for rev in reversed(files.order)
    ]
    return heads, rows


def heads_view(
    config: Config, resolve_dependencies: bool = False
) -> list[tuple[str, str, str]] | None:
    """``heads``' answer: each head's (revision, release, message) in the full command's
    order (``resolve_dependencies``: only those nothing names, ``depends_on`` included);
    None unless certain.

    Certain: the validation cache holds that this build validated exactly these
    bytes (``validation_cache``: the full path alone reports a file the models
    refuse), and the files form a plain sound graph (no branch labels, no
    independent branches) whose heads these graph fields decide.
    """
    from scopemigrate.validation_cache import cache_folder, validated

    if config.independent_branches or cache_folder() is None:
        return None  # the full graph checks them; no cache: no reading the files twice
    files = _plain_files(config)
    if files is None or not validated(files.digest()):
        return None
    chosen = files.heads() if resolve_dependencies else files.down_heads()
    return [(rev, *files.shown(rev)) for rev in files.order if rev in chosen]
