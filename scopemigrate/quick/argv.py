"""One hand parser for the options of the commands the quick paths answer.

Parsed by hand: argparse alone costs about as much as the rest of a quick
answer. Tests keep each table equal to its click command's options.
"""

from __future__ import annotations

__all__ = [
    "CURRENT_FLAG_OPTIONS",
    "CURRENT_VALUE_OPTIONS",
    "FLAG_OPTIONS",
    "HEADS_FLAG_OPTIONS",
    "HEADS_VALUE_OPTIONS",
    "HISTORY_FLAG_OPTIONS",
    "HISTORY_VALUE_OPTIONS",
    "SECONDS_OPTIONS",
    "SYNC_FLAG_OPTIONS",
    "SYNC_VALUE_OPTIONS",
    "UPGRADE_FLAG_OPTIONS",
    "UPGRADE_VALUE_OPTIONS",
    "VALUE_OPTIONS",
    "parse_options",
    "upgrade_head_args",
]

# ``hook``'s options.
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
    "--backups-max-size",
)
FLAG_OPTIONS = ("--json", "--no-backup", "-q", "--quiet", "-v", "--verbose")
# Options whose value the full CLI reads as seconds, at least 0: any other value
# sends the call to the full CLI, which refuses it as a usage error.
SECONDS_OPTIONS = ("--timeout", "--lock-timeout")

# ``sync``'s options that the quick answer understands: the hook's sources and
# store, without ``--timeout``; ``--json`` goes to the full CLI.
SYNC_VALUE_OPTIONS = tuple(name for name in VALUE_OPTIONS if name != "--timeout")
SYNC_FLAG_OPTIONS = ("--dry-run", "--plan", "--no-backup", "-q", "--quiet", "-v", "--verbose")

# ``upgrade head``'s options that the quick answer understands; any other
# (--json, --dry-run) goes to the full CLI.
UPGRADE_VALUE_OPTIONS = ("--store", "--config", "--migrations", "--lock-timeout")
UPGRADE_FLAG_OPTIONS = ("--no-backup", "-q", "--quiet", "-v", "--verbose")

# ``current``'s options that the quick answer understands; --json and -v (which
# prints the last run, from the ledger's history) go to the full CLI.
CURRENT_VALUE_OPTIONS = ("--store", "--migrations", "--config", "--lock-timeout", "--as-user")
CURRENT_FLAG_OPTIONS = ("-q", "--quiet")
# ``history``'s: current's and -i; -r (a range), --json and -v go to the full CLI.
HISTORY_VALUE_OPTIONS = CURRENT_VALUE_OPTIONS
HISTORY_FLAG_OPTIONS = ("-i", "--indicate-current", "-q", "--quiet")
# ``heads``': the files' options; --store (the full CLI warns that it ignores
# it), --json and -v go to the full CLI.
HEADS_VALUE_OPTIONS = ("--migrations", "--config")
HEADS_FLAG_OPTIONS = ("--resolve-dependencies", "-q", "--quiet")


def _seconds(value: str) -> bool:
    try:
        return float(value) >= 0  # False for NaN too: the full CLI decides that one
    except ValueError:
        return False


def parse_options(
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


def upgrade_head_args(argv: list[str]) -> tuple[str, dict[str, list[str]]] | None:
    """("head" or "heads", options) of a plain ``upgrade head``; None for anything else."""
    if not argv or argv[0] not in ("head", "heads"):
        return None
    args = parse_options(argv[1:], UPGRADE_VALUE_OPTIONS, UPGRADE_FLAG_OPTIONS)
    return None if args is None else (argv[0], args)


def last(args: dict[str, list[str]], name: str) -> str | None:
    """The last value given for ``name``, as click keeps it."""
    return args[name][-1] if name in args else None


def is_quiet(args: dict[str, list[str]]) -> bool:
    return "-q" in args or "--quiet" in args
