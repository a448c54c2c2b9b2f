"""The target language: text such as ``head``, ``plugin@-1`` or ``-r a1:b1`` -> a typed value.

This module only reads text; what a target means is the graph's business
(``graph.RevisionGraph.upgrade_target`` and friends). Like packaging's
``_tokenizer``/``_parser``, a bad target raises one error that carries the
text and the position it failed at.

The grammar (Alembic's, plus releases)::

    target    := [branch "@"] body
    body      := "heads" | "head" | "base" | "current"
               | [anchor] sign digits          (relative: "+1", "a1b2-2", "head-1", "base+2")
               | name                          (a revision id or prefix, a label, a release)
    branch    := a label, a revision id or a unique prefix
    anchor    := "head" | "base" | a revision id, prefix or label
    range     := [target] ":" [target]         (``history -r``)

A name is only read as a release when it has the dotted form the product uses
(``2026.2.19``, ``2026.2.19-2``, ``2026.2.23-beta.1``) and no revision or label
matches it. Revision ids cannot contain a dot, so ``1234`` or ``548b`` is
always a revision prefix, never a release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scopemigrate.errors import TargetError, TargetSyntaxError

# What a branch name or anchor may hold: the characters of revision ids and labels.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# A relative suffix at the very end: "+2", "-1".
_RELATIVE = re.compile(r"(?P<sign>[+-])(?P<digits>[0-9]+)$")
# The dotted form of a release: digits, a dot, digits, then anything packaging reads.
_DOTTED_RELEASE = re.compile(r"[0-9]+(\.[0-9]+)+([-+._a-zA-Z0-9]*)$")

SYMBOLS = ("heads", "head", "base", "current")


@dataclass(frozen=True)
class Symbol:
    """``heads``, ``head``, ``base`` or ``current``, maybe on a branch (``plugin@head``)."""

    name: str
    branch: str | None = None

    def __post_init__(self) -> None:
        # Built by hand through the Python API, a misspelt symbol would otherwise
        # be looked up as a revision name by the graph.
        if self.name not in SYMBOLS:
            raise ValueError(f"{self.name!r} is not one of {', '.join(SYMBOLS)}")


@dataclass(frozen=True)
class Relative:
    """``[branch@][anchor]+N`` or ``-N``. ``anchor`` None means "from what is applied"."""

    steps: int
    anchor: str | None = None
    branch: str | None = None


@dataclass(frozen=True)
class Name:
    """A revision id or prefix, a branch label, or a release: the graph decides which."""

    text: str
    branch: str | None = None


@dataclass(frozen=True)
class Release:
    """A release version, named as such (``sync --installed-version``): never a revision."""

    text: str


Target = Symbol | Relative | Name | Release


@dataclass(frozen=True)
class Range:
    """``history -r LOWER:UPPER``; a side left empty is None (``base`` and ``heads``)."""

    lower: Target | None
    upper: Target | None


def is_dotted_release(text: str) -> bool:
    """True for the release form the product uses (``2026.2.19``), never for a revision id."""
    return bool(_DOTTED_RELEASE.match(text))


def _fail(text: str, position: int, expected: str) -> TargetSyntaxError:
    return TargetSyntaxError(text, position, expected)


def parse_target(text: str) -> Target:
    """Parse one target; raise ``TargetSyntaxError`` naming the text and what was expected."""
    stripped = text.strip()
    if not stripped:
        raise _fail(text, 0, "a target (head, heads, base, a revision, +N, -N, LABEL@head)")
    branch: str | None = None
    body = stripped
    offset = 0
    if "@" in stripped:
        branch, _, body = stripped.partition("@")
        offset = len(branch) + 1
        if not _NAME.fullmatch(branch):
            raise _fail(text, 0, "a branch label or revision before '@'")
        if not body:
            raise _fail(text, offset, f"head, heads, base, +N, -N or a revision after '{branch}@'")
    if body in SYMBOLS:
        if body == "current" and branch is not None:
            raise _fail(
                text, offset, "head, heads, base, +N, -N or a revision ('current' takes no branch)"
            )
        return Symbol(body, branch)
    relative = _RELATIVE.search(body)
    if relative is not None:
        anchor = body[: relative.start()] or None
        # "2026.2.19-2" is a correction build, not "2026.2.19" minus two: revision ids
        # have no dots, so a dotted anchor is read as a release.
        if anchor is None or (not is_dotted_release(body) and _NAME.fullmatch(anchor)):
            sign = -1 if relative.group("sign") == "-" else 1
            return Relative(sign * int(relative.group("digits")), anchor, branch)
    if not _NAME.fullmatch(body):
        bad = next((i for i, c in enumerate(body) if not (c.isalnum() or c in "_.-+")), 0)
        raise _fail(text, offset + bad, "a revision id, branch label or release")
    return Name(body, branch)


def parse_range(text: str) -> Range:
    """Parse ``LOWER:UPPER`` (either side may be empty); a range needs its colon, as in Alembic."""
    lower, sep, upper = text.strip().partition(":")
    if not sep:
        raise _fail(text, len(text), "LOWER:UPPER, LOWER: or :UPPER (the ':' is required)")
    if ":" in upper:
        raise _fail(text, len(lower) + 1 + upper.index(":"), "one ':' only")
    return Range(
        parse_target(lower) if lower.strip() else None,
        parse_target(upper) if upper.strip() else None,
    )


def describe(target: Target) -> str:
    """The target written back as text (for messages)."""
    prefix = f"{target.branch}@" if not isinstance(target, Release) and target.branch else ""
    if isinstance(target, Symbol):
        return prefix + target.name
    if isinstance(target, Relative):
        return f"{prefix}{target.anchor or ''}{target.steps:+d}"
    return prefix + target.text


def check_direction(target: Target, downgrade: bool) -> None:
    """Refuse a relative target that moves the wrong way whatever the store holds
    (``upgrade -1``, ``downgrade +2``): checked before the store is even opened."""
    if not isinstance(target, Relative) or target.anchor is not None:
        return
    if not downgrade and target.steps <= 0:
        raise TargetError(
            describe(target),
            f"upgrade only moves up: use +N, or 'scopemigrate downgrade {describe(target)}'",
        )
    if downgrade and target.steps >= 0:
        raise TargetError(
            describe(target),
            f"downgrade only moves down: use -N, or 'scopemigrate upgrade {describe(target)}'",
        )
