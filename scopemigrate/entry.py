"""Console entry point, with fast answers for the two commands run when nothing is to do.

``scopemigrate hook`` at the installed release, and ``scopemigrate upgrade
head`` at head, are answered here when their arguments are plain.

Install steps and service starts call the hook far more often than there is
anything to migrate. Loading click and the pydantic models costs several
times the interpreter's own start, so when the hook's arguments are plain and
``hook.already_synced`` vouches that the store is at the installed release,
the answer comes from here; anything else goes to the full CLI, which parses
and checks everything again. A test keeps this parser's options equal to the
``hook`` command's.

``upgrade head`` is tried twice before the full CLI: first against the
ledger's at-head mark (``headmark.py``: no TOML, no JSON, about the
interpreter's start), then, where the mark cannot vouch, against the migration
files' TOML and the ledger's heads (``hook.at_head``).
"""

from __future__ import annotations

import os
import re
import sys

# The hook's options (a test keeps these equal to the click command's). Parsed
# by hand: argparse alone costs about as much as the rest of the no-op answer.
VALUE_OPTIONS = (
    "--store",
    "--config",
    "--migrations",
    "--installed-version",
    "--distribution",
    "--npm-package",
    "--program",
    "--timeout",
    "--lock-timeout",
    "--as-user",
)
FLAG_OPTIONS = ("--json", "--no-backup", "-q", "--quiet", "-v", "--verbose")
# Options whose value the full CLI reads as seconds, at least 0: any other value
# sends the call to the full CLI, which refuses it as a usage error.
SECONDS_OPTIONS = ("--timeout", "--lock-timeout")


def _seconds(value: str) -> bool:
    try:
        return float(value) >= 0  # False for NaN too: the full CLI decides that one
    except ValueError:
        return False


# ``upgrade head``'s options that the quick answer understands; any other
# (--json, --dry-run) goes to the full CLI.
UPGRADE_VALUE_OPTIONS = ("--store", "--config", "--migrations", "--lock-timeout")
UPGRADE_FLAG_OPTIONS = ("--no-backup", "-q", "--quiet", "-v", "--verbose")


def parse_hook_args(
    argv: list[str],
    value_options: tuple[str, ...] = VALUE_OPTIONS,
    flag_options: tuple[str, ...] = FLAG_OPTIONS,
) -> dict[str, list[str]] | None:
    """Option -> values given; None for anything unusual (the full CLI then decides)."""
    found: dict[str, list[str]] = {}
    index = 0
    while index < len(argv):
        name, sep, value = argv[index].partition("=")
        if name in flag_options and not sep:
            found.setdefault(name, []).append("")
        elif name in value_options:
            if not sep:
                index += 1
                if index == len(argv):
                    return None
                value = argv[index]
            if name in SECONDS_OPTIONS and not _seconds(value):
                return None
            found.setdefault(name, []).append(value)
        else:
            return None
        index += 1
    return found


def quick_hook(argv: list[str]) -> bool:
    """Answer a no-op hook without the full CLI; False when it cannot vouch."""
    args = parse_hook_args(argv)
    if args is None:
        return False

    def last(name: str) -> str | None:
        return args[name][-1] if name in args else None

    from pathlib import Path

    from scopemigrate.config import load_config
    from scopemigrate.errors import ScopemigrateError
    from scopemigrate.hook import (
        HookResult,
        already_synced,
        json_state_dir,
        version_sources,
        with_version_sources,
    )
    from scopemigrate.installed import detect
    from scopemigrate.ownership import act_for_store, gives_up_root

    try:
        config_file = last("--config")
        config = load_config(
            store=last("--store"),
            locations=args.get("--migrations"),
            config_file=Path(config_file) if config_file else None,
        )
        if gives_up_root(config, last("--as-user")):
            return False  # the full CLI takes the owner's rights, once
        config = act_for_store(config, last("--as-user"))
        config = with_version_sources(
            config,
            distribution=last("--distribution"),
            npm_package=last("--npm-package"),
            program=last("--program"),
        )
        installed = detect(version_sources(config, last("--installed-version")), env=config.env)
        synced, heads = already_synced(config, installed.version)
    except ScopemigrateError:
        return False  # the full CLI reports it, with its exit code
    if not synced:
        return False
    quiet = "-q" in args or "--quiet" in args
    if installed.warning and not quiet:
        print(f"warning: {installed.warning}", file=sys.stderr)
    if "--json" in args:
        import json

        state_dir = json_state_dir(config)
        result = HookResult(str(state_dir), installed, heads)
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    return True


# "scopemigrate" used as a TOML key ([tool.scopemigrate], tool.scopemigrate.x =,
# scopemigrate = {...}), or anything that might be one: such a pyproject.toml
# may configure scopemigrate, and only a TOML parser can tell.
_SCOPEMIGRATE_KEY = re.compile(rb"""scopemigrate["']?\s*[.=\]]""")


def _pyproject_may_configure(path: str) -> bool:
    """Whether this pyproject.toml may hold scopemigrate settings (unreadable: it may)."""
    try:
        with open(path, "rb") as handle:
            return _SCOPEMIGRATE_KEY.search(handle.read()) is not None
    except FileNotFoundError:
        return False
    except OSError:
        return True


def marked_store(args: dict[str, list[str]]) -> str | None:
    """The state dir to check against the ledger's at-head mark, or None.

    Only the plain cases, decided with ``os`` alone: a store path given on the
    command line or in the environment, and no configuration file that could
    change the store or the migration files (reading one needs TOML).
    """
    env = os.environ
    if "--config" in args or env.get("SCOPEMIGRATE_CONFIG"):
        return None
    from scopemigrate.config_files import PYPROJECT, STANDALONE, search_folders

    for folder in search_folders("."):  # the folders config.py reads a file from
        if os.path.exists(os.path.join(folder, STANDALONE)):
            return None
        if _pyproject_may_configure(os.path.join(folder, PYPROJECT)):
            return None
    spec = args["--store"][-1] if "--store" in args else env.get("SCOPEMIGRATE_STORE")
    if not spec:
        return None  # OpenClaw's own state dir: found by the full rules
    if spec.startswith("openclaw-json:"):
        spec = spec[len("openclaw-json:") :]
    scheme, sep, _ = spec.partition(":")
    parts = spec.split("/")
    if (sep and len(scheme) > 1) or spec.startswith("~") or ".." in parts:
        return None  # a URL, or a path whose printed form the full CLI decides
    if parts[-1] in ("devices", "paired.json") or not os.path.isdir(spec):
        return None
    if os.geteuid() == 0 and (env.get("SCOPEMIGRATE_AS_USER") or os.stat(spec).st_uid != 0):
        return None  # root on another user's store: ownership.py decides whose rights
    return os.path.normpath(spec)


def upgrade_head_args(argv: list[str]) -> tuple[str, dict[str, list[str]]] | None:
    """("head" or "heads", options) of a plain ``upgrade head``; None for anything else."""
    if not argv or argv[0] not in ("head", "heads"):
        return None
    args = parse_hook_args(argv[1:], UPGRADE_VALUE_OPTIONS, UPGRADE_FLAG_OPTIONS)
    return None if args is None else (argv[0], args)


def quick_marked_head(argv: list[str]) -> bool:
    """Answer ``upgrade head`` from the ledger's at-head mark alone (see headmark.py)."""
    parsed = upgrade_head_args(argv)
    if parsed is None:
        return False
    target, args = parsed
    state_dir = marked_store(args)
    if state_dir is None:
        return False
    from scopemigrate.headmark import marked_at_head

    given = args.get("--migrations") or [
        v for v in os.environ.get("SCOPEMIGRATE_LOCATIONS", "").split(os.pathsep) if v
    ]
    locations = [os.path.realpath(os.path.expanduser(v)) for v in given]
    heads = marked_at_head(state_dir, locations)
    if heads is None or (target == "head" and len(heads) != 1):
        return False  # several heads: the full CLI asks which one
    if "-q" not in args and "--quiet" not in args:
        # The full CLI's words for the same answer (a test holds them equal).
        print(f"{state_dir} is at {', '.join(heads)}: nothing to do.")
    return True


def quick_upgrade_head(argv: list[str]) -> bool:
    """Answer ``upgrade head`` at head without the full CLI; False when it cannot vouch."""
    parsed = upgrade_head_args(argv)
    if parsed is None:
        return False
    _, args = parsed
    from pathlib import Path

    from scopemigrate.config import load_config
    from scopemigrate.errors import ScopemigrateError
    from scopemigrate.hook import at_head, json_state_dir
    from scopemigrate.ownership import gives_up_root

    config_file = args.get("--config", [None])[-1]
    try:
        config = load_config(
            store=args.get("--store", [None])[-1],
            locations=args.get("--migrations"),
            config_file=Path(config_file) if config_file else None,
        )
        if gives_up_root(config):
            return False  # the full CLI takes the owner's rights, once
        done, heads = at_head(config)
    except ScopemigrateError:
        return False  # the full CLI reports it, with its exit code
    if not done:
        return False
    if "-q" not in args and "--quiet" not in args:
        # The full CLI's words for the same answer (a test holds them equal).
        print(f"{json_state_dir(config)} is at {', '.join(heads)}: nothing to do.")
    return True


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "hook" and quick_hook(sys.argv[2:]):
        sys.exit(0)
    upgrade = len(sys.argv) > 2 and sys.argv[1] == "upgrade"
    if upgrade and (quick_marked_head(sys.argv[2:]) or quick_upgrade_head(sys.argv[2:])):
        sys.exit(0)
    from scopemigrate.cli import run

    run()
