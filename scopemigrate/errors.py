"""Every error scopemigrate raises on purpose.

Each class carries a message a user can act on. The CLI maps classes to exit
codes in one place (``cli.EXIT_CODES``); nothing else knows about exit codes.
Messages never contain token values.
"""

from __future__ import annotations


class ScopemigrateError(Exception):
    """Base class: a failure that scopemigrate anticipated and explains."""


class ConfigError(ScopemigrateError):
    """The configuration or the command line asks for something impossible."""


class MigrationFileError(ScopemigrateError):
    """A migration file is malformed or contradicts the others."""


class GraphError(MigrationFileError):
    """The revision graph is not a valid DAG, or a target cannot be resolved.

    Subclasses carry the facts as attributes (``source``, ``heads``, ``target``,
    ``cycle``) so callers such as ``check`` need not read the message.
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.source = source


class CycleError(GraphError):
    """The revisions of ``cycle`` (first repeated last) build on each other in a loop."""

    def __init__(self, cycle: list[str], *, source: str | None = None) -> None:
        super().__init__(f"revision cycle: {' -> '.join(cycle)}", source=source)
        self.cycle = cycle


class MultipleHeadsError(GraphError):
    """``target`` stands for one revision, but the graph (or branch) has several ``heads``."""

    def __init__(self, target: str, heads: list[str]) -> None:
        super().__init__(
            f"{target} is ambiguous: several heads ({', '.join(heads)}); name one, use "
            "'heads' to apply them all, or join them with 'scopemigrate merge'"
        )
        self.target = target
        self.heads = heads


class UnknownRevisionError(GraphError):
    """``target`` names no revision, branch label or release (or several, for a prefix)."""

    def __init__(self, target: str, message: str) -> None:
        super().__init__(message)
        self.target = target


class TargetError(GraphError):
    """A target the graph can read but refuses: a wrong direction, an ambiguous walk,
    a walk past the end, or a downgrade to a revision that is not applied."""

    def __init__(self, target: str, message: str) -> None:
        super().__init__(f"{target}: {message}")
        self.target = target


class TargetSyntaxError(TargetError):
    """The text of a target does not parse; ``position`` is where reading stopped."""

    def __init__(self, text: str, position: int, expected: str) -> None:
        super().__init__(repr(text), f"expected {expected} at position {position}")
        self.text = text
        self.position = position


class StoreNotFoundError(ScopemigrateError):
    """No device store exists where one was expected."""


class BadStoreError(ScopemigrateError):
    """The device store holds data scopemigrate refuses to touch.

    The message names the file, and the record and field where that applies.
    """


class BadLedgerError(BadStoreError):
    """The ledger's text is not a ledger this release reads (not JSON, a field it
    refuses, beyond the bounds of ``jsontext``): what ``stamp --purge`` replaces."""


class BadJournalError(BadStoreError):
    """The commit journal a killed run left is not one scopemigrate wrote (wrong
    types, no files, a name other than the tool's own temp files); nothing was changed."""


class GatewayRewroteError(ScopemigrateError):
    """A running gateway kept writing back what the run had just repaired.

    The ledger was left as it was before the run (it never claims a state the
    devices do not hold); stop the gateway, or run before it starts.
    """


class StoreUnreachableError(ScopemigrateError):
    """The store's database server could not be reached or refused the connection
    (host, port, credentials): nothing was read or written."""


class LockTimeoutError(ScopemigrateError):
    """Another run holds the store's lock longer than we were willing to wait."""


class StorePermissionError(ScopemigrateError):
    """The run may not act with the rights the store needs (its owner's), or a
    file would lose its owner; nothing was changed."""


class StoreAheadError(ScopemigrateError):
    """The store records a revision that this code neither has nor can explain."""


class RunFailedError(ScopemigrateError):
    """A run failed part-way; the store was left exactly as it was."""


class StoreChangedError(ScopemigrateError):
    """The store changed between our read and our commit (a gateway wrote it).

    The run is redone on the new content; users see this only if it keeps
    happening past the retry bound.
    """


class VerifyFailedError(ScopemigrateError):
    """The store does not satisfy what its applied revisions declare."""


class CheckFailedError(ScopemigrateError):
    """``check`` found several heads or semantic conflicts (each is listed)."""
