"""Two no-op verdicts decided from the files' TOML and the ledger's heads alone.

``at_release``: is an OpenClaw store exactly at the revisions a release
selects (the hook's no-op)? ``at_head``: is it at the head of the files
(``upgrade head``'s no-op, where the at-head mark cannot vouch)? Each says True
only when certain; anything else is for the full run. They duplicate the
graph's *decisions* for speed (no pydantic), under tests that hold them equal
to the full run's (tests/test_hook.py, tests/test_quick_noop.py); the *facts*
(file listing, layout, ledger prefix) are imported.
"""

from __future__ import annotations

import tomllib

from scopemigrate.errors import ConfigError
from scopemigrate.migration_files import migration_file_names
from scopemigrate.quick.probe import store_heads
from scopemigrate.stores.layout import named_path_missing, state_dir_of

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from pathlib import Path

    from scopemigrate.config import Config

__all__ = ["at_head", "at_release"]

# revision -> (parents, release)
_Table = dict[str, tuple[list[str], str]]


def _revision_table(locations: tuple[Path, ...]) -> _Table | None:
    """revision -> (parents, release) from the files; None if any needs a closer look."""
    table: _Table = {}
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


def _heads(table: _Table, among: set[str] | None = None) -> set[str]:
    """The revisions of ``among`` (default: all) that no other one of them builds on."""
    chosen = set(table) if among is None else among
    return chosen - {parent for rev in chosen for parent in table[rev][0]}


def _sound_table(config: Config) -> _Table | None:
    """The revision table when it is a plain sound graph: every parent present,
    every revision reachable from a head (no cycle); else None."""
    # The walk below is scopemigrate/dag.py's reachability once that module lands.
    table = _revision_table(config.locations)
    if table is None or any(p not in table for parents, _ in table.values() for p in parents):
        return None
    seen: set[str] = set()
    todo = list(_heads(table))
    while todo:
        rev = todo.pop()
        if rev not in seen:
            seen.add(rev)
            todo.extend(table[rev][0])
    return table if seen == set(table) else None


def _store_heads(config: Config) -> tuple[bool, list[str] | None]:
    if named_path_missing(config.store) is not None:
        return True, None  # a named store that is not there: the full run says so
    return store_heads(state_dir_of(config.store, config.env))


def at_release(config: Config, installed: str) -> tuple[bool, list[str]]:
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
    from scopemigrate.versions import parse_release, selection_ceiling

    try:
        ceiling = selection_ceiling(parse_release(installed))
        chosen = {rev for rev, (_, release) in table.items() if parse_release(release) <= ceiling}
    except ConfigError:  # a bad release: the full run names the file
        return False, heads
    return set(heads) == _heads(table, chosen), heads


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
    return set(heads) == _heads(table), heads
