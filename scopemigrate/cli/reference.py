"""The command reference (``docs/commands.md``), rendered from the click definitions.

The page is generated so that it cannot drift from the CLI: a test compares
the committed page with this module's output. Regenerate it with::

    python -m scopemigrate.cli.reference > docs/commands.md
"""

from __future__ import annotations

import click

from scopemigrate.cli import main

HEADER = """\
# Command reference

Generated from the command definitions by `python -m scopemigrate.cli.reference`;
a test fails when this page and the CLI disagree. Exit codes are in
[exit-codes.md](exit-codes.md); writing migrations is in
[authoring.md](authoring.md).
"""


def _usage(command: click.Command, name: str) -> str:
    context = click.Context(command, info_name=name)
    return " ".join(command.collect_usage_pieces(context))


def _option_row(param: click.Option) -> str:
    names = ", ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
    metavar = "" if param.is_flag or param.count else f" {param.metavar or param.type.name.upper()}"
    help_text = (param.help or "").replace("|", "\\|")
    if param.multiple:
        help_text = f"{help_text} Repeatable.".strip()
    if param.required:
        help_text = f"{help_text} Required.".strip()
    if param.show_envvar and isinstance(param.envvar, str):
        help_text = f"{help_text} Environment: `{param.envvar}`.".strip()
    shown = param.default
    if isinstance(shown, (str, int, float)) and shown not in ("", 0) and not param.is_flag:
        help_text = f"{help_text} Default: `{param.default}`.".strip()
    return f"| {names}{metavar.replace('|', chr(92) + '|')} | {help_text} |"


def _command_section(name: str, command: click.Command) -> list[str]:
    lines = [f"## `scopemigrate {name}`", ""]
    lines += [(command.help or "").strip(), ""]
    lines += ["```", f"scopemigrate {name} {_usage(command, name)}".rstrip(), "```", ""]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    for argument in arguments:
        shown = argument.default
        default = f" (default: `{shown}`)" if isinstance(shown, str) else ""
        if argument.nargs == -1:
            default = " (any number)"
        lines.append(f"- `{argument.human_readable_name}`{default}")
    if arguments:
        lines.append("")
    options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
    if options:
        lines += ["| option | meaning |", "| --- | --- |"]
        lines += [_option_row(option) for option in options]
        lines.append("")
    return lines


def render() -> str:
    """The whole page, commands in the order the CLI defines them."""
    lines = [HEADER]
    assert isinstance(main, click.Group)
    for name, command in main.commands.items():
        lines += _command_section(name, command)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    click.echo(render(), nl=False)
