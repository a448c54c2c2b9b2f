"""The fast paths: the console entry point, and quick answers for two no-op commands.

``scopemigrate hook`` at the installed release, and ``scopemigrate upgrade
head`` at head, are answered here when their arguments are plain; anything
else goes to the full CLI (``scopemigrate.cli``), which parses and checks
everything again.

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

from scopemigrate.quick.argv import is_quiet, last, parse_options, upgrade_head_args

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from scopemigrate.config import Config

__all__ = ["main", "quick_hook", "quick_marked_head", "quick_upgrade_head"]


def _nothing_to_do(where: object, heads: list[str]) -> None:
    # The full CLI's words for the same answer (a test holds them equal).
    print(f"{where} is at {', '.join(heads)}: nothing to do.")


def _config(args: dict[str, list[str]]) -> Config:
    """The configuration the full CLI would load for these options."""
    from pathlib import Path

    from scopemigrate.config import load_config

    config_file = last(args, "--config")
    return load_config(
        store=last(args, "--store"),
        locations=args.get("--migrations"),
        config_file=Path(config_file) if config_file else None,
    )


def quick_hook(argv: list[str]) -> bool:
    """Answer a no-op hook without the full CLI; False when it cannot vouch."""
    args = parse_options(argv)
    if args is None:
        return False

    from scopemigrate.errors import ScopemigrateError
    from scopemigrate.installed import resolve_installed, with_version_sources
    from scopemigrate.ownership import act_for_store, gives_up_root
    from scopemigrate.quick.verdicts import at_release

    try:
        config = _config(args)
        if gives_up_root(config, last(args, "--as-user")):
            return False  # the full CLI takes the owner's rights, once
        config = act_for_store(config, last(args, "--as-user"))
        config = with_version_sources(
            config,
            distribution=last(args, "--distribution"),
            npm_package=last(args, "--npm-package"),
            program=last(args, "--program"),
        )
        installed = resolve_installed(config, last(args, "--installed-version"))
        synced, heads = at_release(config, installed.version)
    except ScopemigrateError:
        return False  # the full CLI reports it, with its exit code
    if not synced:
        return False
    if installed.warning and not is_quiet(args):
        print(f"warning: {installed.warning}", file=sys.stderr)
    if "--json" in args:
        import json

        from scopemigrate.hook import HookResult
        from scopemigrate.stores.layout import state_dir_of

        result = HookResult(str(state_dir_of(config.store, config.env)), installed, heads)
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    return True


def quick_marked_head(argv: list[str]) -> bool:
    """Answer ``upgrade head`` from the ledger's at-head mark alone (see mark.py)."""
    parsed = upgrade_head_args(argv)
    return parsed is not None and _marked_head(*parsed)


def quick_upgrade_head(argv: list[str]) -> bool:
    """Answer ``upgrade head`` at head without the full CLI; False when it cannot vouch."""
    parsed = upgrade_head_args(argv)
    return parsed is not None and _verdict_head(parsed[1])


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


def _verdict_head(args: dict[str, list[str]]) -> bool:
    from scopemigrate.errors import ScopemigrateError
    from scopemigrate.ownership import gives_up_root
    from scopemigrate.quick.verdicts import at_head
    from scopemigrate.stores.layout import state_dir_of

    try:
        config = _config(args)
        if gives_up_root(config):
            return False  # the full CLI takes the owner's rights, once
        done, heads = at_head(config)
    except ScopemigrateError:
        return False  # the full CLI reports it, with its exit code
    if not done:
        return False
    if not is_quiet(args):
        _nothing_to_do(state_dir_of(config.store, config.env), heads)
    return True


def main() -> None:
    """The console script: a quick answer when one vouches, else the full CLI."""
    from scopemigrate.platforms import refuse_unsupported

    refuse_unsupported()  # before anything is read (docs/platforms.md)
    if len(sys.argv) > 1 and sys.argv[1] == "hook" and quick_hook(sys.argv[2:]):
        sys.exit(0)
    upgrade = len(sys.argv) > 2 and sys.argv[1] == "upgrade"
    if upgrade and (quick_marked_head(sys.argv[2:]) or quick_upgrade_head(sys.argv[2:])):
        sys.exit(0)
    from scopemigrate.cli import run

    run()
