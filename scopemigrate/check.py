"""``check``: everything CI should refuse in a migration folder, as one report.

Graph errors (cycles, duplicates, missing parents, releases going backwards,
malformed files), more than one head, and semantic conflicts: revisions on
parallel branches that grant and revoke the same scope of the same role (the
result would depend on the order a store happens to apply them in), and a
revoke of a scope that no earlier revision grants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scopemigrate.config import Config
from scopemigrate.errors import (
    CheckFailedError,
    CycleError,
    MigrationFileError,
    ScopemigrateError,
)
from scopemigrate.graph import RevisionGraph
from scopemigrate.operations import WILDCARD, Grant, Rename, Revoke
from scopemigrate.revisions import load_graph

RoleScope = tuple[str, str]


@dataclass(frozen=True)
class Problem:
    kind: str  # graph | heads | conflict | revoke-ungranted
    message: str
    revisions: list[str] = field(default_factory=list)
    # A broken file or graph: the error itself, which a failed check exits with
    # (its class and attributes, not the words, decide). Not in the JSON report.
    error: MigrationFileError | None = field(default=None, compare=False, repr=False)

    @classmethod
    def broken(cls, error: MigrationFileError) -> Problem:
        """The problem a load of the files raised, named by the error's own data."""
        revisions = error.cycle[:-1] if isinstance(error, CycleError) else []
        return cls("graph", str(error), revisions, error)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "revisions": self.revisions}


@dataclass(frozen=True)
class CheckResult:
    locations: list[str]
    revisions: int
    heads: list[str]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        # Not asdict: a problem's error stays out of the report.
        return {
            "locations": self.locations,
            "revisions": self.revisions,
            "heads": self.heads,
            "problems": [problem.to_json() for problem in self.problems],
            "ok": self.ok,
        }

    def failure(self) -> ScopemigrateError | None:
        """The error a failed check exits with: the broken file's own error (its
        exit code is a migration file's); anything else is a check failure. None
        when the check passed."""
        if self.ok:
            return None
        broken = next((p.error for p in self.problems if p.error is not None), None)
        if broken is not None:
            return broken
        return CheckFailedError(
            f"{len(self.problems)} problem(s) in the migration files (listed above)"
        )


def _granted(graph: RevisionGraph, rev: str) -> set[RoleScope]:
    """The (role, scope) pairs a revision grants (a rename grants its new name)."""
    granted: set[RoleScope] = set()
    for op in graph.migrations[rev].operations:
        if isinstance(op, Grant):
            granted.update((op.role, scope) for scope in op.scopes)
        elif isinstance(op, Rename):
            granted.add((op.role, op.new))
    return granted


def _revoked_by(graph: RevisionGraph, rev: str, role: str, scope: str) -> str | None:
    """How ``rev`` takes ``scope`` of ``role`` away (its name, a pattern, ``outside_role``),
    or None when it does not: a pattern revoke clashes with every grant it covers."""
    for op in graph.migrations[rev].operations:
        if op.role != role:
            continue
        if isinstance(op, Rename) and op.old == scope:
            return scope
        if isinstance(op, Revoke) and op.revokes(scope):
            if scope in op.exact:
                return scope
            # operator.* matches what starts with operator. (Revoke.prefixes)
            patterns = (p for p in op.scopes if p.endswith(WILDCARD))
            pattern = next((p for p in patterns if scope.startswith(p[:-1])), None)
            if pattern is not None:
                return f"{scope} (by the pattern {pattern})"
            return f"{scope} (outside role {role}'s prefix {op.kept_prefix})"
    return None


def semantic_problems(graph: RevisionGraph) -> list[Problem]:
    problems: list[Problem] = []
    ancestors = {rev: graph.ancestors([rev]) for rev in graph.order}
    grants = {rev: _granted(graph, rev) for rev in graph.order}
    for index, first in enumerate(graph.order):
        for second in graph.order[index + 1 :]:
            if first in ancestors[second] or second in ancestors[first]:
                continue  # one builds on the other: the order is fixed
            for a, b in ((first, second), (second, first)):
                for role, scope in sorted(grants[a]):
                    how = _revoked_by(graph, b, role, scope)
                    if how is None:
                        continue
                    problems.append(
                        Problem(
                            "conflict",
                            f"{a} grants and {b} revokes {how} of role {role} on parallel "
                            "branches: the result depends on the order they are applied in; "
                            "make one build on the other",
                            [a, b],
                        )
                    )
    for rev in graph.order:
        granted: set[tuple[str, str]] = set()
        for ancestor in ancestors[rev] - {rev}:
            granted |= grants[ancestor]
        for op in graph.migrations[rev].operations:
            if isinstance(op, Revoke):
                # A pattern repairs what the product itself granted: no typo to catch.
                for scope in op.scopes:
                    if not scope.endswith(WILDCARD) and (op.role, scope) not in granted:
                        problems.append(
                            Problem(
                                "revoke-ungranted",
                                f"{rev} revokes {scope} of role {op.role}, which no earlier "
                                "revision grants",
                                [rev],
                            )
                        )
    return problems


def check(config: Config) -> CheckResult:
    locations = [str(path) for path in config.locations]
    try:
        graph = load_graph(config).graph
    except MigrationFileError as exc:
        return CheckResult(locations, 0, [], [Problem.broken(exc)])
    problems: list[Problem] = []
    # Heads of chains the configuration declares independent are one head each.
    for group in graph.head_groups():
        if len(group) > 1:
            problems.append(
                Problem(
                    "heads",
                    f"{len(group)} heads ({', '.join(group)}): join them with "
                    "'scopemigrate merge', or declare a chain with its own base "
                    "independent ('independent_branches' in the configuration)",
                    list(group),
                )
            )
    problems.extend(semantic_problems(graph))
    return CheckResult(locations, len(graph.migrations), list(graph.heads), problems)
