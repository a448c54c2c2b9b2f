"""Read-only views of the revision graph: ``heads``, ``branches``, ``show``, history ranges."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from scopemigrate.config import Config
from scopemigrate.graph import RevisionGraph
from scopemigrate.scripts import load_locations


@dataclass(frozen=True)
class GraphView:
    graph: RevisionGraph
    sources: dict[str, str]


def load_graph(config: Config) -> GraphView:
    scripts = load_locations(config.locations)
    sources = {s.migration.revision: str(s.path) for s in scripts}
    return GraphView(RevisionGraph([s.migration for s in scripts], sources), sources)


@dataclass(frozen=True)
class RevisionDetail:
    revision: str
    down_revision: list[str]
    release: str
    message: str
    branch_labels: list[str]
    depends_on: list[str]
    children: list[str]
    source: str | None
    operations: list[dict[str, Any]] = field(default_factory=list)


def detail(view: GraphView, rev: str) -> RevisionDetail:
    graph = view.graph
    migration = graph.migrations[rev]
    return RevisionDetail(
        revision=rev,
        down_revision=list(migration.down_revision),
        release=migration.release,
        message=migration.message,
        branch_labels=list(migration.branch_labels),
        depends_on=list(migration.depends_on),
        children=graph.in_order(graph.children[rev]),
        source=view.sources.get(rev),
        operations=[op.model_dump(mode="json") for op in migration.operations],
    )


@dataclass(frozen=True)
class HeadsResult:
    heads: list[RevisionDetail]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def heads(config: Config) -> HeadsResult:
    """The revisions nothing builds on (more than one means branches to merge)."""
    view = load_graph(config)
    return HeadsResult([detail(view, rev) for rev in view.graph.heads])


@dataclass(frozen=True)
class BranchPoint:
    revision: str
    release: str
    children: list[str]


@dataclass(frozen=True)
class BranchesResult:
    branch_points: list[BranchPoint]
    labels: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def branches(config: Config) -> BranchesResult:
    """Revisions with several children, and the branch labels in use."""
    graph = load_graph(config).graph
    points = [
        BranchPoint(rev, graph.migrations[rev].release, graph.in_order(graph.children[rev]))
        for rev in graph.order
        if len(graph.children[rev]) > 1
    ]
    return BranchesResult(points, graph.branch_labels())


@dataclass(frozen=True)
class ShowResult:
    revision: RevisionDetail

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def show(config: Config, rev: str) -> ShowResult:
    """One revision in full: parents, children, file, operations."""
    view = load_graph(config)
    return ShowResult(detail(view, view.graph.revision_of(rev)))


def history_range(graph: RevisionGraph, spec: str, applied: set[str]) -> set[str]:
    """The revisions of ``-r LOWER:UPPER`` (either side may be empty; both ends included).

    ``current`` on either side stands for what the store has applied.
    """
    lower_text, sep, upper_text = spec.partition(":")
    if not sep:
        upper_text = lower_text
    upper = (
        set(graph.migrations)
        if not upper_text.strip()
        else applied
        if upper_text.strip() == "current"
        else graph.ancestors(graph.resolve(upper_text, applied))
    )
    lower_text = lower_text.strip()
    if not lower_text or lower_text == "base":
        return upper
    if lower_text == "current":
        below = applied
        return (upper - below) | (upper & set(graph.heads_of(applied)))
    lower_rev = graph.lookup(lower_text)
    return (upper - graph.ancestors([lower_rev])) | ({lower_rev} & upper)
