"""The command line: a thin click layer over ``commands``.

Only this module knows click and exit codes. Every verb parses its options,
calls the matching function in ``commands``, and renders the result as text
or (``--json``) as one JSON document on stdout. Errors are one line on stderr.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click

from scopemigrate import authoring, commands, errors, findings, revisions
from scopemigrate.check import check as check_migrations
from scopemigrate.cli import text
from scopemigrate.cli.completion import COMPLETE_VAR, revision_completer
from scopemigrate.config import Config, load_config
from scopemigrate.hook import DEFAULT_TIMEOUT_SECONDS
from scopemigrate.hook import hook as run_hook
from scopemigrate.installed import ENV_VAR as INSTALLED_VERSION_ENV
from scopemigrate.installed import resolve_installed, with_version_sources
from scopemigrate.logs import log_to
from scopemigrate.ownership import AS_USER_ENV, act_for_store
from scopemigrate.printable import printable, printable_json
from scopemigrate.progress import NO_PROGRESS, Progress, TerminalBar
from scopemigrate.results import json_document

# Documented in docs/exit-codes.md; tests assert every row.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CODES: tuple[tuple[type[errors.ScopemigrateError], int], ...] = (
    # Before MigrationFileError: a refused target is a GraphError too.
    (errors.TargetError, 12),
    (errors.ConfigError, 3),
    (errors.MigrationFileError, 4),
    (errors.BadJournalError, 15),  # before BadStoreError: it is one
    (errors.BadStoreError, 5),
    (errors.StoreNotFoundError, 6),
    (errors.LockTimeoutError, 7),
    (errors.StoreAheadError, 8),
    (errors.RunFailedError, 9),
    (errors.StoreChangedError, 9),
    (errors.VerifyFailedError, 10),
    (errors.CheckFailedError, 11),
    (errors.StorePermissionError, 14),
    (errors.GatewayRewroteError, 16),
    (errors.StoreUnreachableError, 17),
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

    def emit(
        self,
        data: dict[str, Any] | Callable[[], dict[str, Any]],
        text: Callable[[], list[str]],
    ) -> None:
        """Print the JSON document or the text; each is built only when printed
        (a run's report over a large store costs more than the run's edits)."""
        if self.as_json:
            document = data() if callable(data) else data
            click.echo(printable_json(json_document(document)))
        elif not self.quiet:
            for line in text():
                click.echo(printable(line))


class EnvOption(click.Option):
    """An option that names in ``--help`` the environment variable standing in for it.

    ``config.load_config`` (and ``installed``, ``ownership``) read the variable,
    the one place that orders the layers (option, environment, file, default)
    and names the variable in its errors; so click shows it and never reads it.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("show_envvar", True)
        super().__init__(*args, **kwargs)

    def resolve_envvar_value(self, ctx: click.Context) -> str | None:
        return None


_STORE = click.option(
    "--store",
    "store",
    cls=EnvOption,
    envvar="SCOPEMIGRATE_STORE",
    metavar="PATH|URL",
    help="Device store (default: OpenClaw's state dir, $OPENCLAW_STATE_DIR or ~/.openclaw).",
)
_MIGRATIONS = click.option(
    "--migrations",
    "locations",
    cls=EnvOption,
    envvar="SCOPEMIGRATE_LOCATIONS",
    multiple=True,
    metavar="DIR",
    help="Migration folder; replaces the configured ones (the variable holds DIR:DIR...).",
)
_CONFIG = click.option(
    "--config",
    "config_file",
    cls=EnvOption,
    envvar="SCOPEMIGRATE_CONFIG",
    type=click.Path(path_type=Path),
    help="Configuration file (default: the nearest, from here upwards).",
)
_LOCK_TIMEOUT = click.option(
    "--lock-timeout",
    cls=EnvOption,
    envvar="SCOPEMIGRATE_LOCK_TIMEOUT",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Wait this long for the store's lock.",
)
_AS_USER = click.option(
    "--as-user",
    cls=EnvOption,
    envvar=AS_USER_ENV,
    metavar="USER",
    help="As root: act as USER, whose home finds the store (default: the store's owner).",
)
_OUTPUT = (
    click.option("--json", "as_json", is_flag=True, help="Print one JSON document for machines."),
    click.option("-q", "--quiet", is_flag=True, help="Print nothing on success."),
    click.option(
        "-v",
        "--verbose",
        count=True,
        help="Say more: list devices, log the run on stderr (-vv: in detail).",
    ),
)


def _with(*options: Callable[[F], F]) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


# A command offers only the options that do something for it: the graph's
# commands read no store, and only a run waits for a lock.
common_options = _with(_STORE, _MIGRATIONS, _CONFIG, _LOCK_TIMEOUT, _AS_USER, *_OUTPUT)


_IGNORED_STORE = "scopemigrate.ignored_store"


def _note_unused_store(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # Said once the answer is out (``_answer``), so that an error stays one line.
    if value is not None:
        ctx.meta[_IGNORED_STORE] = True


def _warn_unused_store() -> None:
    """Said aloud, so nobody takes the files' heads for what their store holds."""
    ctx = click.get_current_context()
    if ctx.meta.get(_IGNORED_STORE):
        click.echo(
            f"warning: {ctx.info_name} reads only the migration files; --store is ignored "
            "(see `scopemigrate current` for what a store holds)",
            err=True,
        )


# --store stays accepted, hidden: scripts that pass one everywhere keep working.
_UNUSED_STORE = click.option(
    "--store", "store", metavar="PATH|URL", hidden=True, callback=_note_unused_store
)
graph_options = _with(_UNUSED_STORE, _MIGRATIONS, _CONFIG, *_OUTPUT)
# show reads the store only for "show current", and takes no lock for it.
show_options = _with(_STORE, _MIGRATIONS, _CONFIG, _AS_USER, *_OUTPUT)


def _setup(options: dict[str, Any], *, with_sources: bool = False) -> tuple[Config, Output]:
    """The settings and the output style of ``options`` (``with_sources``: and where
    the installed release is found, for the verbs with ``release_options``)."""
    no_backup = options.pop("no_backup", False)
    backups_max_size = options.pop("backups_max_size", None)
    store, locations = options.pop("store", None), options.pop("locations") or None
    lock_timeout, config_file = options.pop("lock_timeout", None), options.pop("config_file")
    as_user = options.pop("as_user", None)
    config = load_config(
        keep_backups=0 if no_backup else None,
        backups_max_size=backups_max_size,
        store=store,
        locations=locations,
        lock_timeout=lock_timeout,
        config_file=config_file,
    )
    config = act_for_store(config, as_user)  # before any store file is opened
    if with_sources:
        config = _with_sources(config, options)
    output = Output(options.pop("as_json"), options.pop("quiet"), options.pop("verbose"))
    _log_verbosely(output.verbose)
    return config, output


def _log_verbosely(verbose: int) -> None:
    """-v: the ``scopemigrate`` logger's INFO records on stderr; -vv: its DEBUG ones."""
    if verbose:
        log_to(sys.stderr, logging.DEBUG if verbose > 1 else logging.INFO)


class _Result(Protocol):
    def to_json(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Result)


def _answer(
    options: dict[str, Any],
    verb: Callable[[Config], R],
    render: Callable[[R, int], list[str]],
) -> R:
    """Run ``verb`` with the settings of ``options``; print its result as JSON or text."""
    config, output = _setup(options)
    result = verb(config)
    output.emit(result.to_json, lambda: render(result, output.verbose))
    _warn_unused_store()
    return result


def _raise(failure: errors.ScopemigrateError | None, summary: str | None = None) -> None:
    """A verb's verdict (``check``, ``verify``), printed first, becomes the exit code."""
    if failure is not None:
        raise _Reported(failure, summary)


class _Reported(Exception):
    """A failure whose document (``ok: false``) is printed already: with ``--json``
    stdout keeps that one document, and the error goes to stderr only, as
    ``summary`` when the output holds the details."""

    def __init__(self, error: errors.ScopemigrateError, summary: str | None):
        super().__init__(str(error))
        self.error, self.summary = error, summary


def _progress(output: Output) -> Progress:
    """A bar on stderr for a person at a terminal; nothing for logs, pipes or -q."""
    stream = sys.stderr
    if output.quiet or not stream.isatty():
        return NO_PROGRESS
    return TerminalBar(stream)


def _wants_report(output: Output) -> bool:
    """Whether anything printed lists devices (--json, -v); else a count will do.
    (A dry run always lists them: the plan is what it is for.)"""
    return output.as_json or output.verbose > 0


def _say_notes(output: Output, runs: Sequence[commands.RunResult]) -> None:
    """Each note of the runs once, on stderr, for a person (``--json`` carries them)."""
    if output.quiet or output.as_json:
        return
    for note in dict.fromkeys(note for run in runs for note in run.notes):
        click.echo(f"note: {note}", err=True)


dry_run_option = click.option(
    "--dry-run", "--plan", "dry_run", is_flag=True, help="Show the per-device plan; change nothing."
)
sql_option = click.option(
    "--sql",
    is_flag=True,
    help="Print the SQL the run would execute (SQL stores); run nothing, lock nothing.",
)


def backup_options(func: F) -> F:
    """How many backups of the replaced files a JSON store keeps, and how large."""
    func = click.option(
        "--backups-max-size",
        metavar="SIZE",
        help="Bound the backups' total size (500M, 2G; default 1G); the newest is kept.",
    )(func)
    return click.option("--no-backup", is_flag=True, help="Keep no backup of the files replaced.")(
        func
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
# prog_name: "python -m scopemigrate --version" names the program, not the interpreter.
@click.version_option(package_name="scopemigrate", prog_name="scopemigrate")
def main() -> None:
    """Declarative scope migrations for device stores (OpenClaw's by default)."""


# Targets such as -1 or -2 are arguments, not options (as in Alembic): click is told
# to pass an unknown "option" on as the argument; the graph then reads it.
TARGET_ARGUMENT = {"ignore_unknown_options": True}


def _target(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A target argument; an unknown option that is not a relative target stays a usage error."""
    if value is not None and value.startswith("-") and not value[1:2].isdigit():
        raise click.NoSuchOption(value, ctx=ctx)
    return value


def run_options(func: F) -> F:
    """The options of ``upgrade`` and ``downgrade``."""
    return _with(dry_run_option, sql_option, backup_options, common_options)(func)


@main.command(context_settings=TARGET_ARGUMENT)
@click.argument(
    "target", default="head", callback=_target, shell_complete=revision_completer("head", "heads")
)
@run_options
def upgrade(target: str, dry_run: bool, sql: bool, **options: Any) -> None:
    """Apply revisions up to TARGET (head, a revision, or a release version)."""
    _run_or_script((commands.upgrade, commands.upgrade_sql), target, dry_run, sql, options)


@main.command(context_settings=TARGET_ARGUMENT)
@click.argument("target", callback=_target, shell_complete=revision_completer("base"))
@run_options
def downgrade(target: str, dry_run: bool, sql: bool, **options: Any) -> None:
    """Undo applied revisions down to TARGET (base, a revision, -N, a release)."""
    _run_or_script((commands.downgrade, commands.downgrade_sql), target, dry_run, sql, options)


def _run_or_script(
    verbs: tuple[Callable[..., commands.RunResult], Callable[[Config, str], commands.SqlScript]],
    target: str,
    dry_run: bool,
    sql: bool,
    options: dict[str, Any],
) -> None:
    """The run of ``verbs`` (its verb, its ``--sql`` script's verb), or with ``sql`` its script."""
    run, script = verbs
    if sql:
        _print_sql(script, target, dry_run, options)
    else:
        _migrate(run, target, dry_run, options)


def _print_sql(
    verb: Callable[[Config, str], commands.SqlScript],
    target: str,
    dry_run: bool,
    options: dict[str, Any],
) -> None:
    """Print the script a run would execute (``--sql``); nothing runs, nothing is locked."""
    if dry_run:
        raise click.UsageError("--sql writes nothing already: drop --dry-run")
    config, output = _setup(options)
    result = verb(config, target)

    def lines() -> list[str]:
        if not result.store_exists:
            return [f"-- No device store at {result.store}: nothing to do."]
        if not result.statements:
            heads = ", ".join(result.to_heads) or "base"
            return [f"-- {result.store} is at {heads}: nothing to do."]
        return result.text.splitlines()

    output.emit(result.to_json(), lines)


def _migrate(
    verb: Callable[..., commands.RunResult], target: str, dry_run: bool, options: dict[str, Any]
) -> None:
    """Run ``commands.upgrade`` or ``commands.downgrade`` and print its result."""
    config, output = _setup(options)
    result = verb(
        config,
        target,
        dry_run=dry_run,
        progress=_progress(output),
        # Listing every changed device costs a fleet registry a second pass.
        report=dry_run or _wants_report(output),
    )
    output.emit(result.to_json, lambda: text.run(result, output.verbose))
    _say_notes(output, [result])


def version_options(func: F) -> F:
    """Where ``sync`` and ``hook`` find the installed release (see ``installed.py``)."""
    options = [
        click.option(
            "--installed-version",
            cls=EnvOption,
            envvar=INSTALLED_VERSION_ENV,
            metavar="VERSION",
            help="The installed release (default: detected, see the options below).",
        ),
        click.option(
            "--distribution", metavar="NAME", help="Read the version of this Python distribution."
        ),
        click.option(
            "--npm-package",
            metavar="NAME",
            help="Read this npm package's package.json (default: openclaw).",
        ),
        click.option("--program", metavar="NAME", help="Run NAME --version (default: openclaw)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _with_sources(config: Config, options: dict[str, Any]) -> Config:
    return with_version_sources(
        config,
        distribution=options.pop("distribution"),
        npm_package=options.pop("npm_package"),
        program=options.pop("program"),
    )


def release_options(func: F) -> F:
    """The options of the verbs that follow the installed release (``sync``, ``hook``)."""
    return backup_options(version_options(common_options(func)))


@main.command()
@dry_run_option
@release_options
def sync(installed_version: str | None, dry_run: bool, **options: Any) -> None:
    """Bring the store up or down to exactly what the installed release needs."""
    config, output = _setup(options, with_sources=True)
    installed = resolve_installed(config, installed_version)
    if installed.warning:
        click.echo(printable(f"warning: {installed.warning}"), err=True)
    result = commands.sync(config, installed.version, dry_run=dry_run)
    output.emit(
        result.to_json() | {"source": installed.source},
        lambda: text.sync(result, output.verbose),
    )
    _say_notes(output, result.runs)


@main.command()
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help=f"Wait at most this long for another run's lock (default {DEFAULT_TIMEOUT_SECONDS:g}).",
)
@click.option(
    "--lock-timeout",
    "old_timeout",
    type=click.FloatRange(min=0),
    default=None,
    hidden=True,  # deprecated: the hook had both; --timeout is the one
)
@backup_options
@version_options
@_with(_STORE, _MIGRATIONS, _CONFIG, _AS_USER, *_OUTPUT)
def hook(
    installed_version: str | None,
    timeout: float | None,
    old_timeout: float | None,
    **options: Any,
) -> None:
    """For install steps: sync the store to the installed release; quiet if nothing to do."""
    if old_timeout is not None:
        if timeout is not None and timeout != old_timeout:
            raise click.UsageError("--lock-timeout is --timeout's old name: give one of them")
        click.echo("warning: hook --lock-timeout is deprecated; use --timeout", err=True)
    timeout = next((t for t in (timeout, old_timeout) if t is not None), DEFAULT_TIMEOUT_SECONDS)
    config, output = _setup(options, with_sources=True)
    result = run_hook(config, installed_version, timeout=timeout)
    if result.installed.warning and not output.quiet:
        click.echo(printable(f"warning: {result.installed.warning}"), err=True)
    lines = [line for line in (result.summary(), findings.summary(result.findings)) if line]
    output.emit(result.to_json, lambda: lines)
    _say_notes(output, result.sync.runs if result.sync else [])


@main.command()
@common_options
def current(**options: Any) -> None:
    """Show the revision(s) the store has applied."""
    _answer(options, commands.current, text.current)


@main.command()
@click.option(
    "-r",
    "--rev-range",
    metavar="LOWER:UPPER",
    help="Only the path from LOWER up to UPPER (a:b, a:, :b, -1:current).",
)
@click.option(
    "-i", "--indicate-current", is_flag=True, help="Mark the store's current revision(s)."
)
@common_options
def history(rev_range: str | None, indicate_current: bool, **options: Any) -> None:
    """List revisions, newest first, marking what the store has applied."""
    _answer(
        options,
        lambda config: commands.history(config, rev_range),
        lambda result, verbose: text.history(result, indicate_current, verbose),
    )


@main.command(context_settings=TARGET_ARGUMENT)
@click.argument(
    "target", callback=_target, shell_complete=revision_completer("head", "heads", "base")
)
@click.option(
    "--purge",
    is_flag=True,
    help="Replace the ledger unread, whatever it holds (even revisions no file knows).",
)
@common_options
def stamp(target: str, purge: bool, **options: Any) -> None:
    """Record TARGET as applied without changing any device (adopt a store)."""
    _answer(options, lambda config: commands.stamp(config, target, purge=purge), text.stamp)


@main.command()
@common_options
def verify(**options: Any) -> None:
    """Check that every device satisfies the revisions the store has applied."""
    _raise(_answer(options, commands.verify, text.verify).failure())


@main.command()
@click.option(
    "--resolve-dependencies",
    is_flag=True,
    help="Leave out heads that another revision depends_on.",
)
@graph_options
def heads(resolve_dependencies: bool, **options: Any) -> None:
    """Show the revisions nothing builds on yet (several: merge them)."""
    _answer(
        options,
        lambda config: revisions.heads(config, resolve_dependencies=resolve_dependencies),
        text.heads,
    )


@main.command()
@common_options
def branches(**options: Any) -> None:
    """Show branch points (revisions with several children) and branch labels."""
    _answer(options, revisions.branches, text.branches)


@main.command(context_settings=TARGET_ARGUMENT)
@click.argument("rev", callback=_target, shell_complete=revision_completer("head", "current"))
@show_options
def show(rev: str, **options: Any) -> None:
    """Show one revision in full (REV, LABEL, LABEL@head, current, a release...)."""
    _answer(
        options,
        lambda config: revisions.show(
            config, rev, commands.current(config).heads if rev.strip() == "current" else []
        ),
        text.show,
    )


@main.command()
@click.argument("directory", default="migrations", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for machines.")
def init(directory: Path, as_json: bool) -> None:
    """Create a migrations folder and point the configuration at it."""
    result = authoring.init(directory, Path.cwd())
    Output(as_json, False, 0).emit(
        result.to_json(),
        lambda: (
            [f"Created {item}." for item in result.created]
            or [f"{result.migrations} and {result.config} were already set up."]
        ),
    )


_LISTS = ("scopes", "approvedScopes")
# revision's operation options, one per field of authoring.OperationSpec, each
# repeatable: (field, option, its metavar or its choices, help).
OPERATION_OPTIONS: tuple[tuple[str, str, str | tuple[str, ...], str], ...] = (
    ("grants", "--grant", "ROLE:SCOPE[,SCOPE]", "Add these scopes to devices of ROLE."),
    ("revokes", "--revoke", "ROLE:SCOPE[,SCOPE]", "Remove these scopes from devices of ROLE."),
    ("renames", "--rename", "ROLE:OLD=NEW", "Replace scope OLD with NEW on devices of ROLE."),
    ("if_any", "--if-any", "SCOPE", "Only devices holding any of these."),
    ("if_all", "--if-all", "SCOPE", "Only devices holding all of these."),
    ("if_none", "--if-none", "SCOPE", "Only devices holding none."),
    (
        "revokes_outside_role",
        "--revoke-outside-role",
        "ROLE",
        "Remove every scope without the ROLE. prefix from devices of ROLE.",
    ),
    (
        "ensures",
        "--ensure",
        "ROLE:LIST[,LIST]",
        "Add these device lists (scopes, approvedScopes) as [] where missing.",
    ),
    (
        "holding_in",
        "--holding-in",
        _LISTS,
        "The lists --if-any/--if-all/--if-none look in (default: scopes).",
    ),
    ("unless_roles", "--unless-role", "ROLE", "Skip devices that also hold ROLE."),
    (
        "if_missing",
        "--if-missing",
        _LISTS,
        "Only devices whose record lacks this list (absent, not empty).",
    ),
    (
        "lists",
        "--lists",
        (*_LISTS, "token"),
        "The lists grants, revokes and renames edit (default: all three).",
    ),
)


def _operation_option(
    field: str, flag: str, shape: str | tuple[str, ...], help: str
) -> Callable[[F], F]:
    typed = {"metavar": shape} if isinstance(shape, str) else {"type": click.Choice(shape)}
    return click.option(flag, field, multiple=True, help=help, **typed)


operation_options = _with(*(_operation_option(*row) for row in OPERATION_OPTIONS))


@main.command()
@click.option("-m", "--message", required=True, help="What the revision does, for humans.")
@click.option("--release", required=True, help="The release that needs it, such as 2026.2.19.")
@operation_options
@click.option(
    "--head",
    metavar="REV",
    shell_complete=revision_completer("base"),
    help="Parent revision (default: the single head; 'base').",
)
@click.option(
    "--branch-label",
    "branch_labels",
    multiple=True,
    metavar="LABEL",
    help="Name the branch this revision starts (LABEL@head targets it).",
)
@click.option(
    "--depends-on",
    multiple=True,
    metavar="REV",
    shell_complete=revision_completer(),
    help="A revision on another branch that must be applied first.",
)
@click.option("--rev-id", metavar="ID", help="Use this revision id instead of a fresh one.")
@common_options
def revision(
    message: str,
    release: str,
    head: str | None,
    branch_labels: tuple[str, ...],
    depends_on: tuple[str, ...],
    rev_id: str | None,
    **options: Any,
) -> None:
    """Write a new migration file (into the first migration location)."""
    spec = authoring.OperationSpec(**{name: options.pop(name) for name, *_ in OPERATION_OPTIONS})
    config, output = _setup(options)
    result = authoring.revision(
        config,
        message,
        release,
        spec,
        head=head,
        branch_labels=branch_labels,
        depends_on=depends_on,
        rev_id=rev_id,
    )
    output.emit(result.to_json, lambda: text.written(result, output.verbose))


@main.command()
@click.argument("revs", nargs=-1, shell_complete=revision_completer())
@click.option("-m", "--message", required=True, help="What the merge joins, for humans.")
@click.option("--release", help="Release of the merge (default: the newest parent's).")
@graph_options
def merge(revs: tuple[str, ...], message: str, release: str | None, **options: Any) -> None:
    """Write a revision joining REVS (default: all heads) into one head."""
    _answer(options, lambda config: authoring.merge(config, message, revs, release), text.written)


@main.command()
@graph_options
def check(**options: Any) -> None:
    """For CI: fail on graph errors, several heads, or conflicting revisions."""
    quiet, as_json = options["quiet"], options["as_json"]
    result = _answer(options, check_migrations, text.check)
    # Each problem is on stdout already (text or JSON): the error line only sums up.
    shown = f"{len(result.problems)} problem(s) in the migration files, listed above"
    _raise(result.failure(), None if quiet and not as_json else shown)


def _wants_json(args: list[str]) -> bool:
    """Whether ``--json`` was asked for (before a ``--``), even if parsing failed."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def _fail(as_json: bool, message: str, code: int, kind: str) -> None:
    """One error: a line on stderr, for a person; with ``--json`` also one document
    on stdout, for the program that asked for it."""
    if as_json:
        document = {"error": message, "exit_code": code, "kind": kind}
        click.echo(printable_json(json_document(document)))
    click.echo(printable(f"error: {message}"), err=True)
    sys.exit(code)


def run() -> None:
    """Console entry point: maps every anticipated error to its exit code, in one place."""
    as_json = _wants_json(sys.argv[1:])
    try:
        # complete_var: a shell's request is understood under any program name.
        main.main(standalone_mode=False, complete_var=COMPLETE_VAR)
    except click.exceptions.Abort:
        if not as_json:
            click.echo("Aborted.", err=True)
            sys.exit(EXIT_INTERNAL)
        _fail(as_json, "aborted", EXIT_INTERNAL, "Aborted")
    except click.ClickException as exc:
        if not as_json:
            exc.show()
            sys.exit(EXIT_USAGE)
        _fail(as_json, exc.format_message(), EXIT_USAGE, "UsageError")
    except _Reported as reported:
        message = reported.summary or str(reported.error)
        _fail(False, message, exit_code_for(reported.error), "")
    except errors.ScopemigrateError as exc:
        _fail(as_json, str(exc), exit_code_for(exc), type(exc).__name__)
    sys.exit(EXIT_OK)
