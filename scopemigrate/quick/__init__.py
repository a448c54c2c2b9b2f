"""The fast paths: the console entry point, and quick answers for six everyday commands.

``scopemigrate hook`` and ``scopemigrate sync`` at the installed release,
``scopemigrate upgrade head`` at head, ``scopemigrate current`` and a
whole ``scopemigrate history`` on a JSON store, and ``scopemigrate heads`` of
files this build has validated before (``validation_cache``), are answered
here when their arguments are plain; anything else goes to the full
CLI (``scopemigrate.cli``), which parses and checks everything again.

Run by root on a store another user owns, the quick answer is decided in a
forked child that has first given up root for the owner's rights
(``ownership.act_for_store``), so no store file is read as root. The parent
keeps root: when the child cannot vouch, the full CLI settles the rights
itself, once, with everything it may need loaded first (the owner may not be
able to read the Python installation, under ``/root`` say). The child needs
only the modules the parent loaded before the fork.

Install steps and service starts call the hook far more often than there is
anything to migrate. Loading click and the pydantic models costs several
times the interpreter's own start, so this package imports only the standard
library and the stdlib-only fact modules (``stores/layout.py``,
``migration_files.py``, ``config.py``, ``config_files.py``, ``ownership.py``,
``installed.py``); a test enforces it.
It may restate a *decision* of the full path for speed (``verdicts``), under
a test that holds the two equal; never a *fact*.

``upgrade head`` is tried twice before the full CLI: first against the
ledger's at-head mark (``mark.py``: no TOML, no JSON, about the interpreter's
start), then, where the mark cannot vouch, against the migration files' TOML
and the ledger's heads (``verdicts.at_head``).
"""

from __future__ import annotations

import os
import sys

from scopemigrate.quick.argv import (
    CURRENT_FLAG_OPTIONS,
    CURRENT_VALUE_OPTIONS,
    HEADS_FLAG_OPTIONS,
    HEADS_VALUE_OPTIONS,
    HISTORY_FLAG_OPTIONS,
    HISTORY_VALUE_OPTIONS,
    SYNC_FLAG_OPTIONS,
    SYNC_VALUE_OPTIONS,
    is_quiet,
    last,
    parse_options,
    upgrade_head_args,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO, TypeVar

    from scopemigrate.quick.verdicts import HistoryLine

    View = TypeVar("View")

    from scopemigrate.config import Config
    from scopemigrate.installed import InstalledVersion

__all__ = [
    "main",
    "quick_current",
    "quick_heads",
    "quick_history",
    "quick_hook",
    "quick_marked_head",
    "quick_sync",
    "quick_upgrade_head",
]


def _nothing_to_do(where: object, heads: list[str]) -> None:
    # The full CLI's words for the same answer (a test holds them equal).
    _say(f"{where} is at {', '.join(heads)}: nothing to do.")


def _config(args: dict[str, list[str]]) -> Config:
    """The configuration the full CLI would load for these options (``cli._setup``)."""
    from scopemigrate.config import load_config

    config_file = last(args, "--config")
    lock_timeout = last(args, "--lock-timeout")
    return load_config(
        keep_backups=0 if "--no-backup" in args else None,
        backups_max_size=last(args, "--backups-max-size"),
        store=last(args, "--store"),
        locations=args.get("--migrations"),
        lock_timeout=float(lock_timeout) if lock_timeout is not None else None,
        config_file=config_file or None,
    )


def _with_rights(args: dict[str, list[str]], answer: Callable[[Config], bool]) -> bool:
    """``answer`` the configuration of ``args`` with the rights the run would take."""
    from scopemigrate.errors import ScopemigrateError
    from scopemigrate.ownership import act_for_store, gives_up_root

    as_user = last(args, "--as-user")
    try:
        config = _config(args)
        if gives_up_root(config, as_user):
            return _answered_as_owner(config, as_user, answer)
        config = act_for_store(config, as_user)
    except ScopemigrateError:
        return False  # the full CLI reports it, with its exit code
    return answer(config)


# What a quick answer may import once it runs with the owner's rights.
_CHILD_NEEDS = (
    "json",
    "shutil",
    "sqlite3",
    "subprocess",
    "tomllib",
    "scopemigrate.hook",
    "scopemigrate.printable",
    "scopemigrate.quick.probe",
    "scopemigrate.quick.verdicts",
    "scopemigrate.validation_cache",
    "scopemigrate.versions",
)


def _answered_as_owner(
    config: Config, as_user: str | None, answer: Callable[[Config], bool]
) -> bool:
    """Whether a child with the store owner's rights answered (see the docstring)."""
    import importlib

    for name in _CHILD_NEEDS:  # loaded while root can read them
        importlib.import_module(name)
    from scopemigrate.ownership import act_for_store

    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:  # pragma: no cover - the parent reads the child's exit status
        code = 1
        try:
            code = 0 if answer(act_for_store(config, as_user, load_all=False)) else 1
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # any failure: the full CLI decides, as root
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _installed(args: dict[str, list[str]], config: Config) -> tuple[Config, InstalledVersion]:
    from scopemigrate.installed import resolve_installed, with_version_sources

    config = with_version_sources(
        config,
        distribution=last(args, "--distribution"),
        npm_package=last(args, "--npm-package"),
        program=last(args, "--program"),
    )
    return config, resolve_installed(config, last(args, "--installed-version"))


def quick_hook(argv: list[str]) -> bool:
    """Answer a no-op hook without the full CLI; False when it cannot vouch."""
    args = parse_options(argv)
    return args is not None and _with_rights(args, lambda config: _hook(args, config))


def _hook(args: dict[str, list[str]], config: Config) -> bool:
    from scopemigrate.errors import ScopemigrateError
    from scopemigrate.quick.verdicts import at_release

    try:
        config, installed = _installed(args, config)
        synced, heads = at_release(config, installed.version)
    except ScopemigrateError:
        return False  # the full CLI reports it, with its exit code
    if not synced:
        return False
    if installed.warning and not is_quiet(args):
        _say(f"warning: {installed.warning}", sys.stderr)
    if "--json" in args:
        from scopemigrate.hook import HookResult, store_location
        from scopemigrate.printable import printable_json
        from scopemigrate.results import json_document

        result = HookResult(store_location(config), installed, heads)

        print(printable_json(json_document(result.to_json())))
    return True


def quick_sync(argv: list[str]) -> bool:
    """Answer a no-op ``sync`` without the full CLI; False when it cannot vouch."""
    args = parse_options(argv, SYNC_VALUE_OPTIONS, SYNC_FLAG_OPTIONS)
    return args is not None and _with_rights(args, lambda config: _sync(args, config))


def _sync(args: dict[str, list[str]], config: Config) -> bool:
    from scopemigrate.errors import ScopemigrateError
    from scopemigrate.quick.verdicts import named_database, release_verdict
    from scopemigrate.stores.layout import OpenClawLayout, pure_path, state_path_of

    try:
        config, installed = _installed(args, config)
        exists, synced, heads = release_verdict(config, installed.version)
    except ScopemigrateError:
        return False  # the full CLI reports it, with its exit code
    if not synced:
        return False
    # Where the store is, in the full command's words: a database named by
    # itself, OpenClaw's SQLite generation, or the state dir.
    database = named_database(config)
    if database is None:
        layout = OpenClawLayout(str(state_path_of(config.store, config.env)))
        database = layout.database if os.path.exists(layout.database) else None
        where = pure_path(database) if database else layout.state_dir
    else:
        where = pure_path(database)
    if database is not None and not heads:
        return False  # a database without a ledger: only the adapter tells "no store"
    if installed.warning:  # sync warns even under -q, as the full command does
        _say(f"warning: {installed.warning}", sys.stderr)
    if not is_quiet(args):
        # The full command's words (a test holds them equal).
        if exists:
            _say(f"{where} already matches release {installed.version}.")
        else:
            _say(f"No device store at {where}: nothing to do.")
    return True


def _say(line: str, stream: TextIO | None = None) -> None:
    """Print one line made safe (``printable`` loads ``re``: only when there is a line)."""
    from scopemigrate.printable import printable

    print(printable(line), file=stream or sys.stdout)


def quick_marked_head(argv: list[str]) -> bool:
    """Answer ``upgrade head`` from the ledger's at-head mark alone (see mark.py)."""
    parsed = upgrade_head_args(argv)
    return parsed is not None and _marked_head(*parsed)


def quick_upgrade_head(argv: list[str]) -> bool:
    """Answer ``upgrade head`` at head without the full CLI; False when it cannot vouch."""
    parsed = upgrade_head_args(argv)
    if parsed is None:
        return False
    target, args = parsed
    return _with_rights(args, lambda config: _verdict_head(target, args, config))


def _marked_head(target: str, args: dict[str, list[str]]) -> bool:
    from scopemigrate.quick.mark import marked_at_head, marked_store

    state_dir = marked_store(args)
    if state_dir is None:
        return False
    given = args.get("--migrations") or [
        v for v in os.environ.get("SCOPEMIGRATE_LOCATIONS", "").split(os.pathsep) if v
    ]
    locations = [os.path.realpath(os.path.expanduser(v)) for v in given]
    heads = marked_at_head(state_dir, locations)
    if heads is None or (target == "head" and len(heads) != 1):
        return False  # several heads: the full CLI asks which one
    if not is_quiet(args):
        _nothing_to_do(state_dir, heads)
    return True


def _verdict_head(target: str, args: dict[str, list[str]], config: Config) -> bool:
    from scopemigrate.errors import ScopemigrateError
    from scopemigrate.quick.verdicts import at_head
    from scopemigrate.stores.layout import state_path_of

    try:
        done, heads = at_head(config, target)
    except ScopemigrateError:
        return False  # the full CLI reports it, with its exit code
    if not done:
        return False
    if not is_quiet(args):
        _nothing_to_do(state_path_of(config.store, config.env), heads)
    return True


def _answered(
    argv: list[str],
    options: tuple[tuple[str, ...], tuple[str, ...]],
    view_of: Callable[[dict[str, list[str]], Config], View | None],
    lines_of: Callable[[dict[str, list[str]], View], list[str]],
) -> bool:
    """Answer a read-only view: ``view_of`` the options ``argv`` gives and their
    configuration, its ``lines_of`` printed unless quiet; False when the view
    cannot vouch."""
    args = parse_options(argv, *options)
    if args is None:
        return False

    def answer(config: Config) -> bool:
        view = view_of(args, config)
        if view is not None and not is_quiet(args):
            for line in lines_of(args, view):
                _say(line)
        return view is not None

    return _with_rights(args, answer)


def quick_current(argv: list[str]) -> bool:
    """Answer ``current`` on a JSON store without the full CLI; False when it cannot vouch."""
    from scopemigrate.quick.verdicts import current_view

    return _answered(
        argv,
        (CURRENT_VALUE_OPTIONS, CURRENT_FLAG_OPTIONS),
        lambda _args, config: current_view(config),
        _current,
    )


def _current(
    args: dict[str, list[str]], view: tuple[str, bool, list[tuple[str, str, str]]]
) -> list[str]:
    where, exists, heads = view
    # The full command's words (cli/text.py's ``current``; a test holds them equal).
    if not exists:
        return [f"No device store at {where}."]
    if not heads:
        return [f"{where}: base (nothing applied)"]
    return [f"{revision} ({release}) {message}" for revision, release, message in heads]


def quick_history(argv: list[str]) -> bool:
    """Answer ``history`` (no range) on a JSON store without the full CLI; False when
    it cannot vouch."""
    from scopemigrate.quick.verdicts import history_view

    return _answered(
        argv,
        (HISTORY_VALUE_OPTIONS, HISTORY_FLAG_OPTIONS),
        lambda _args, config: history_view(config),
        _history,
    )


def _history(args: dict[str, list[str]], view: tuple[list[str], list[HistoryLine]]) -> list[str]:
    heads, rows = view
    current = set(heads) if "-i" in args or "--indicate-current" in args else set()
    lines = []
    # The full command's words (cli/text.py's ``history``; a test holds them equal).
    for down, revision, is_head, applied, release, message in rows:
        marks = [("(head)", is_head), ("(current)", revision in current), ("(applied)", applied)]
        shown = " ".join(mark for mark, on in marks if on)
        parents = ", ".join(down) if down else "base"
        lines.append(f"{parents} -> {revision} {shown}".rstrip() + f", {release}: {message}")
    return lines


def quick_heads(argv: list[str]) -> bool:
    """Answer ``heads`` from files the validation cache vouches for, without the full
    CLI; False when it cannot vouch."""
    from scopemigrate.quick.verdicts import heads_view

    return _answered(
        argv,
        (HEADS_VALUE_OPTIONS, HEADS_FLAG_OPTIONS),
        lambda args, config: heads_view(config, "--resolve-dependencies" in args),
        _heads,
    )


def _heads(args: dict[str, list[str]], view: list[tuple[str, str, str]]) -> list[str]:
    # The full command's words (cli/text.py's ``detail_lines``, no labels; a test
    # holds them equal).
    return [f"{revision} {release}: {message}" for revision, release, message in view]


def main() -> None:
    """The console script: a quick answer when one vouches, else the full CLI."""
    from scopemigrate.platforms import refuse_unsupported

    refuse_unsupported()  # before anything is read (docs/platforms.md)
    verb, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if "_SCOPEMIGRATE_COMPLETE" in os.environ:  # cli.completion.COMPLETE_VAR
        verb = ""  # a shell's completion request: click's to answer, whatever the argv
    if verb == "hook" and quick_hook(rest):
        sys.exit(0)
    if verb == "sync" and quick_sync(rest):
        sys.exit(0)
    if verb == "current" and quick_current(rest):
        sys.exit(0)
    if verb == "history" and quick_history(rest):
        sys.exit(0)
    if verb == "heads" and quick_heads(rest):
        sys.exit(0)
    if verb == "upgrade" and rest and (quick_marked_head(rest) or quick_upgrade_head(rest)):
        sys.exit(0)
    from scopemigrate.cli import run

    run()
