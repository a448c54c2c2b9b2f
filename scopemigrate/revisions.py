"""Read-only views of the revision graph: ``heads``, ``branches``, ``show``, history ranges."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from scopemigrate.config import Config
from scopemigrate.errors import GraphError
from scopemigrate.graph import RevisionGraph
from scopemigrate.migration_files import MigrationFiles
from scopemigrate.targets import Symbol, parse_range, parse_target

__all__ = [
    "BranchesResult",
    "HeadsResult",
    "RevisionInfo",
    "ShowResult",
    "branches",
    "heads",
    "history_range",
    "load_graph",
    "revision_info",
    "show",
]


@dataclass(frozen=True)
class GraphView:
    graph: RevisionGraph
    sources: dict[str, str]


def load_graph(config: Config) -> GraphView:
    files = MigrationFiles.from_config(config)
    return GraphView(files.graph(), files.sources)


@dataclass(frozen=True)
class RevisionInfo:
    """One revision as every view shows it (``heads``, ``show``, ``history``,
    ``current``): the file's facts, its place in the graph, and whether the
    store has it applied, for the views that read a store."""

    revision: str
    down_revision: list[str]
    release: str
    message: str
    branch_labels: list[str]
    depends_on: list[str]
    children: list[str]
    is_head: bool
    source: str | None
    operations: list[dict[str, Any]] = field(default_factory=list)
    applied: bool | None = None  # None: the view read no store (heads, show)


def revision_info(
    graph: RevisionGraph,
    sources: Mapping[str, str],
    rev: str,
    applied: Container[str] | None = None,
) -> RevisionInfo:
    """``rev`` of ``graph``; ``applied`` is what the store holds (None: no store read)."""
    migration = graph.migrations[rev]
    return RevisionInfo(
        revision=rev,
        down_revision=list(migration.down_revision),
        release=migration.release,
        message=migration.message,
        branch_labels=list(migration.branch_labels),
        depends_on=list(migration.depends_on),
        children=graph.in_order(graph.children[rev]),
        is_head=not graph.down_children[rev],
        source=sources.get(rev),
        operations=[op.model_dump(mode="json") for op in migration.operations],
        applied=None if applied is None else rev in applied,
    )


def detail(view: GraphView, rev: str) -> RevisionInfo:
    return revision_info(view.graph, view.sources, rev)


@dataclass(frozen=True)
class HeadsResult:
    heads: list[RevisionInfo]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def heads(config: Config, *, resolve_dependencies: bool = False) -> HeadsResult:
    """The revisions no ``down_revision`` names (more than one means branches to merge);
    with ``resolve_dependencies``, only those that nothing names, ``depends_on`` included."""
    view = load_graph(config)
    graph = view.graph
    chosen = graph.real_heads if resolve_dependencies else graph.heads
    return HeadsResult([detail(view, rev) for rev in chosen])


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
    revision: RevisionInfo

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def show(config: Config, rev: str, current: Sequence[str] = ()) -> ShowResult:
    """One revision in full: parents, children, file, operations.

    ``rev`` is any target that stands for one revision (an id, prefix, label,
    ``LABEL@head``, a release, ``REV-1``); ``current`` is the store's heads, for
    ``show current``.
    """
    view = load_graph(config)
    target = parse_target(rev)
    if target == Symbol("current") and not current:
        raise GraphError("current: nothing is applied (the store is at base)")
    return ShowResult(detail(view, view.graph.revision_of(target, current)))


def history_range(graph: RevisionGraph, spec: str, applied: set[str]) -> set[str]:
    """The revisions of ``-r LOWER:UPPER``: the path from LOWER up to UPPER, both included.

    Either side may be empty (base, heads); ``current`` stands for what the store
    has applied, and ``-N``/``+N`` walk from it, as in Alembic.
    """
    return graph.history_range(parse_range(spec), graph.heads_of(applied))
