"""Shell completion of revisions: ids, branch labels and the names each command takes.

click answers a shell's completion request (``_SCOPEMIGRATE_COMPLETE``, see
docs/howto/shell-completion.md) by calling a parameter's ``shell_complete``;
the functions here are those callbacks. They read the migration files the
command would read (``--migrations``/``--config`` given before the word, else
the environment and the configuration file), never a store, and a file that
does not load completes to the names alone: a completion prints no errors.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from click.shell_completion import CompletionItem

from scopemigrate import revisions
from scopemigrate.config import load_config
from scopemigrate.errors import ScopemigrateError

__all__ = ["COMPLETE_VAR", "revision_completer"]

# The variable click reads a completion request from; named here so that the
# request is understood under any program name (``python -m scopemigrate``).
COMPLETE_VAR = "_SCOPEMIGRATE_COMPLETE"

# What each symbolic name a command may offer stands for (docs/authoring.md).
NAMES = {
    "head": "the single head",
    "heads": "every head",
    "base": "nothing applied",
    "current": "the store's current revision(s)",
}

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def revision_completer(*names: str) -> Completer:
    """A ``shell_complete`` offering ``names`` (from ``NAMES``), then every revision
    id and branch label of the migration files, those starting with the word typed."""
    unknown = set(names) - set(NAMES)
    assert not unknown, f"no such name: {unknown}"

    def complete(
        ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        found = [CompletionItem(name, help=NAMES[name]) for name in names]
        found += _revisions(ctx)
        return [item for item in found if str(item.value).startswith(incomplete)]

    return complete


def _revisions(ctx: click.Context) -> list[CompletionItem]:
    """Each revision (its release and message as help), then each branch label."""
    try:
        config = load_config(
            locations=ctx.params.get("locations") or None,
            config_file=ctx.params.get("config_file"),
        )
        graph = revisions.load_graph(config).graph
    except ScopemigrateError:
        return []  # the command itself reports it, when it is run
    # Newest first, as history lists them (click asks bash not to sort).
    migrations = [graph.migrations[rev] for rev in reversed(graph.in_order(graph.migrations))]
    items = [CompletionItem(m.revision, help=f"{m.release}: {m.message}") for m in migrations]
    items += [
        CompletionItem(label, help=f"branch label of {m.revision}")
        for m in migrations
        for label in m.branch_labels
    ]
    return items
