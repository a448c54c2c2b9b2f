"""``check``: everything CI should refuse in a migration folder, as one report.

Graph errors (cycles, duplicates, missing parents, releases going backwards,
malformed files), more than one head, and semantic conflicts: revisions on
parallel branches that grant and revoke the same scope of the same role (the
result would depend on the order a store happens to apply them in), and a
revoke of a scope that no earlier revision grants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scopemigrate.config import Config
from scopemigrate.errors import CheckFailedError, MigrationFileError, ScopemigrateError
from scopemigrate.graph import RevisionGraph
from scopemigrate.operations import WILDCARD, Grant, Rename, Revoke
from scopemigrate.results import JsonResult
from scopemigrate.revisions import load_graph

RoleScope = tuple[str, str]


@dataclass(frozen=True)
class Problem:
    kind: str  # graph | heads | conflict | revoke-ungranted
    message: str
    revisions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CheckResult(JsonResult):
    locations: list[str]
    revisions: int
    heads: list[str]
    problems: list[Problem]
    json_extra = ("ok",)

    @property
    def ok(self) -> bool:
        return not self.problems

    def failure(self) -> ScopemigrateError | None:
        """The error a failed check exits with: a graph error is a broken migration
        file; anything else is a check failure. None when the check passed."""
        if self.ok:
            return None
        graph_errors = [p for p in self.problems if p.kind == "graph"]
        if graph_errors:
            return MigrationFileError(graph_errors[0].message)
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
        return CheckResult(locations, 0, [], [Problem("graph", str(exc))])
    problems: list[Problem] = []
    if len(graph.heads) > 1:
        problems.append(
            Problem(
                "heads",
                f"{len(graph.heads)} heads ({', '.join(graph.heads)}): join them with "
                "'scopemigrate merge'",
                list(graph.heads),
            )
        )
    problems.extend(semantic_problems(graph))
    return CheckResult(locations, len(graph.migrations), list(graph.heads), problems)
