"""The command line: a thin click layer over ``commands``.

Only this module knows click and exit codes. Every verb parses its options,
calls the matching function in ``commands``, and renders the result as text
or (``--json``) as one JSON document on stdout. Errors are one line on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from scopemigrate import commands, errors
from scopemigrate.config import Config, load_config
from scopemigrate.engine import DevicePlan

# Documented in docs/exit-codes.md; tests assert every row.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CODES: tuple[tuple[type[errors.ScopemigrateError], int], ...] = (
    (errors.ConfigError, 3),
    (errors.MigrationFileError, 4),
    (errors.BadStoreError, 5),
    (errors.StoreNotFoundError, 6),
    (errors.LockTimeoutError, 7),
    (errors.StoreAheadError, 8),
    (errors.RunFailedError, 9),
    (errors.StoreChangedError, 9),
    (errors.VerifyFailedError, 10),
)

F = TypeVar("F", bound=Callable[..., Any])


def exit_code_for(error: errors.ScopemigrateError) -> int:
    for cls, code in EXIT_CODES:
        if isinstance(error, cls):
            return code
    return EXIT_INTERNAL


class Output:
    """How to render: text or JSON, quiet or verbose."""

    def __init__(self, as_json: bool, quiet: bool, verbose: int):
        self.as_json, self.quiet, self.verbose = as_json, quiet, verbose

    def emit(self, data: dict[str, Any], text: Callable[[], list[str]]) -> None:
        if self.as_json:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        elif not self.quiet:
            for line in text():
                click.echo(line)


def common_options(func: F) -> F:
    options = [
        click.option(
            "--store",
            "store",
            metavar="PATH|URL",
            help="Device store (default: OpenClaw's state dir).",
        ),
        click.option(
            "--migrations",
            "locations",
            multiple=True,
            metavar="DIR",
            help="Migration folder (repeatable).",
        ),
        click.option(
            "--config", "config_file", type=click.Path(path_type=Path), help="Configuration file."
        ),
        click.option(
            "--lock-timeout",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Wait this long for the store's lock.",
        ),
        click.option(
            "--json", "as_json", is_flag=True, help="Print one JSON document for machines."
        ),
        click.option("-q", "--quiet", is_flag=True, help="Print nothing on success."),
        click.option("-v", "--verbose", count=True, help="Say more."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _setup(options: dict[str, Any]) -> tuple[Config, Output]:
    no_backup = options.pop("no_backup", False)
    config = load_config(
        keep_backups=0 if no_backup else None,
        store=options.pop("store"),
        locations=options.pop("locations") or None,
        lock_timeout=options.pop("lock_timeout"),
        config_file=options.pop("config_file"),
    )
    output = Output(options.pop("as_json"), options.pop("quiet"), options.pop("verbose"))
    return config, output


def _short(revs: list[str]) -> str:
    return ", ".join(revs) if revs else "base"


def _device_line(plan: DevicePlan) -> str:
    parts: list[str] = []
    for sign, changes in (("+", plan.added), ("-", plan.removed)):
        by_scope: dict[str, list[str]] = {}
        for field_name, scopes in changes.items():
            for scope in scopes:
                by_scope.setdefault(scope, []).append(field_name)
        parts.extend(f"{sign}{scope} [{', '.join(fields)}]" for scope, fields in by_scope.items())
    return f"  {plan.device_id}  {plan.label}: {'  '.join(parts)}"


def _run_text(result: commands.RunResult, output: Output) -> list[str]:
    if not result.store_exists:
        return [f"No device store at {result.store}: nothing to do."]
    if not result.revisions:
        return [f"{result.store} is at {_short(result.to_heads)}: nothing to do."]
    verb = "Would " + result.direction if result.dry_run else result.direction.capitalize() + "d"
    pending = ""
    if result.pending_removed:
        pending = f", {result.pending_removed} satisfied repair request(s) removed"
    if result.pending_restored:
        pending = f", {result.pending_restored} repair request(s) restored"
    lines = [
        f"{verb} {result.store} from {_short(result.from_heads)} to {_short(result.to_heads)} "
        f"({len(result.revisions)} revision(s)): {len(result.devices)} device(s) changed{pending}."
    ]
    if result.dry_run or output.verbose:
        lines.extend(_device_line(plan) for plan in result.devices)
    return lines


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scopemigrate")
def main() -> None:
    """Declarative scope migrations for device stores (OpenClaw's by default)."""


@main.command()
@click.argument("target", default="head")
@click.option(
    "--dry-run", "--plan", "dry_run", is_flag=True, help="Show the per-device plan; change nothing."
)
@click.option("--no-backup", is_flag=True, help="Keep no backup of the files replaced.")
@common_options
def upgrade(target: str, dry_run: bool, **options: Any) -> None:
    """Apply revisions up to TARGET (head, a revision, or a release version)."""
    config, output = _setup(options)
    result = commands.upgrade(config, target, dry_run=dry_run)
    output.emit(result.to_json(), lambda: _run_text(result, output))


@main.command()
@click.argument("target")
@click.option(
    "--dry-run", "--plan", "dry_run", is_flag=True, help="Show the per-device plan; change nothing."
)
@click.option("--no-backup", is_flag=True, help="Keep no backup of the files replaced.")
@common_options
def downgrade(target: str, dry_run: bool, **options: Any) -> None:
    """Undo applied revisions down to TARGET (base, a revision, -N, a release)."""
    config, output = _setup(options)
    result = commands.downgrade(config, target, dry_run=dry_run)
    output.emit(result.to_json(), lambda: _run_text(result, output))


@main.command()
@common_options
def current(**options: Any) -> None:
    """Show the revision(s) the store has applied."""
    config, output = _setup(options)
    result = commands.current(config)

    def text() -> list[str]:
        if not result.store_exists:
            return [f"No device store at {result.store}."]
        if not result.heads:
            return [f"{result.store}: base (nothing applied)"]
        lines = [f"{info.revision} ({info.release}) {info.message}" for info in result.revisions]
        if output.verbose and result.last_run:
            run = result.last_run
            lines.append(
                f"last run: {run.direction} at {run.at} by {run.by} "
                f"(scopemigrate {run.tool_version})"
            )
        return lines

    output.emit(result.to_json(), text)


@main.command()
@common_options
def history(**options: Any) -> None:
    """List revisions, newest first, marking what the store has applied."""
    config, output = _setup(options)
    result = commands.history(config)

    def text() -> list[str]:
        lines = []
        for info in result.revisions:
            marks = " ".join(
                m for m, on in (("(head)", info.is_head), ("(applied)", info.applied)) if on
            )
            lines.append(
                f"{_short(info.down_revision)} -> {info.revision} {marks}".rstrip()
                + f", {info.release}: {info.message}"
            )
        if output.verbose:
            lines.extend(
                f"  run: {run.direction} {_short(run.from_heads)} -> {_short(run.to_heads)} "
                f"at {run.at} by {run.by}"
                for run in result.runs
            )
        return lines

    output.emit(result.to_json(), text)


@main.command()
@click.argument("target")
@common_options
def stamp(target: str, **options: Any) -> None:
    """Record TARGET as applied without changing any device (adopt a store)."""
    config, output = _setup(options)
    result = commands.stamp(config, target)

    def text() -> list[str]:
        if not result.store_exists:
            return [f"No device store at {result.store}: nothing to do."]
        return [
            f"Stamped {result.store}: {_short(result.from_heads)} -> {_short(result.to_heads)}."
        ]

    output.emit(result.to_json(), text)


@main.command()
@common_options
def verify(**options: Any) -> None:
    """Check that every device satisfies the revisions the store has applied."""
    config, output = _setup(options)
    result = commands.verify(config)

    def text() -> list[str]:
        if not result.store_exists:
            return [f"No device store at {result.store}: nothing to verify."]
        if result.ok:
            return [f"{result.store} satisfies {_short(result.heads)}."]
        return [f"{len(result.devices)} device(s) lack what {_short(result.heads)} declares:"] + [
            _device_line(plan) for plan in result.devices
        ]

    output.emit(result.to_json(), text)
    if not result.ok:
        raise errors.VerifyFailedError(
            f"{result.store}: {len(result.devices)} device(s) do not satisfy the applied "
            "revisions (each is listed with what it lacks)"
        )


def run() -> None:
    """Console entry point: maps every anticipated error to its exit code, in one place."""
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_INTERNAL)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except errors.ScopemigrateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exit_code_for(exc))
    sys.exit(EXIT_OK)
