"""Domain-free DAG algorithms over ``{node: parents}`` mappings. Standard library only.

Nodes are strings; a graph is a ``Mapping[str, Sequence[str]]`` from each node to
its parents. Nothing here knows migrations, releases or stores, so the fast
paths (which must not import pydantic) and ``graph.RevisionGraph`` share one
implementation. Cycles are reported as ``CycleFound``, which callers translate
into their own error (as yoyo's ``topologicalsort`` does).
"""

from __future__ import annotations

import heapq

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the quick paths)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import Any

__all__ = ["CycleFound", "children_of", "heads_of", "reachable", "topological_order"]


class CycleFound(ValueError):
    """The graph has a cycle; ``cycle`` lists it with the first node repeated last."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__(" -> ".join(cycle))
        self.cycle = cycle


def reachable(start: Iterable[str], step: Callable[[str], Iterable[str]]) -> set[str]:
    """``start`` and every node reached from it by following ``step`` (parents or children)."""
    seen: set[str] = set()
    stack = list(start)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(step(node))
    return seen


def children_of(parents: Mapping[str, Sequence[str]]) -> dict[str, set[str]]:
    """The reverse mapping: node -> the nodes that name it as a parent."""
    children: dict[str, set[str]] = {node: set() for node in parents}
    for node, its_parents in parents.items():
        for parent in its_parents:
            children.setdefault(parent, set()).add(node)
    return children


def heads_of(parents: Mapping[str, Sequence[str]], nodes: Iterable[str]) -> set[str]:
    """The nodes of ``nodes`` that no other node of it names as a parent."""
    chosen = set(nodes)
    named = {p for node in chosen for p in parents.get(node, ())}
    return chosen - named


def topological_order(
    parents: Mapping[str, Sequence[str]], key: Callable[[str], Any] | None = None
) -> list[str]:
    """Every node after its parents; among the nodes ready at once, the smallest ``key``
    first (default: the node itself), so the order is deterministic.

    Raises ``CycleFound`` naming one cycle.
    """
    sort_key: Callable[[str], Any] = key or (lambda node: node)
    children = children_of(parents)
    remaining = {node: len(set(parents[node])) for node in parents}
    # The heap holds (key, node): the node breaks ties between equal keys.
    ready: list[tuple[Any, str]] = [
        (sort_key(node), node) for node, count in remaining.items() if count == 0
    ]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for child in children[node]:
            remaining[child] -= 1
            if remaining[child] == 0:
                heapq.heappush(ready, (sort_key(child), child))
    if len(order) != len(parents):
        placed = set(order)
        raise CycleFound(_a_cycle(parents, sorted(n for n in parents if n not in placed)))
    return order


def _a_cycle(parents: Mapping[str, Sequence[str]], stuck: Sequence[str]) -> list[str]:
    """Walk parents among the stuck nodes until one repeats: that loop is a cycle."""
    stuck_set = set(stuck)
    path: list[str] = []
    on_path: set[str] = set()
    node = stuck[0]
    while node not in on_path:
        path.append(node)
        on_path.add(node)
        node = next(p for p in parents[node] if p in stuck_set)
    return [*path[path.index(node) :], node]
