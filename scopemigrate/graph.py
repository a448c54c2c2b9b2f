"""The revision graph: parents, heads, bases and targets. Knows nothing of stores.

A run is described by *applied sets*: the set of revisions a store holds. The
graph turns a target such as ``head``, ``base``, an id prefix or a release
version into the applied set it stands for, and gives the revisions to apply
(in an order that respects every edge) or to undo (in reverse).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Sequence

from packaging.version import Version

from scopemigrate.errors import GraphError
from scopemigrate.migration import Migration
from scopemigrate.versions import looks_like_release, parse_release, selection_ceiling

RELATIVE = re.compile(r"^([+-])(\d+)$")
REV_RELATIVE = re.compile(r"^([A-Za-z0-9_]+)([+-])(\d+)$")


class RevisionGraph:
    """A validated DAG of migrations."""

    def __init__(self, migrations: Iterable[Migration], sources: dict[str, str] | None = None):
        self._sources = sources or {}
        self.migrations: dict[str, Migration] = {}
        for migration in migrations:
            if migration.revision in self.migrations:
                raise GraphError(
                    f"{self._where(migration.revision)}duplicate revision id {migration.revision!r}"
                )
            self.migrations[migration.revision] = migration
        self.children: dict[str, set[str]] = {rev: set() for rev in self.migrations}
        for rev, migration in self.migrations.items():
            for parent in (*migration.down_revision, *migration.depends_on):
                if parent not in self.migrations:
                    raise GraphError(
                        f"{self._where(rev)}revision {rev!r} names parent {parent!r}, "
                        "which no migration file defines"
                    )
                self.children[parent].add(rev)
        self.order = self._topological_order()
        self._position = {rev: i for i, rev in enumerate(self.order)}
        self._check_releases()
        self.branch_labels()  # a label used twice is an error at load time

    def _where(self, rev: str) -> str:
        source = self._sources.get(rev)
        return f"{source}: " if source else ""

    def parents(self, rev: str) -> tuple[str, ...]:
        migration = self.migrations[rev]
        return (*migration.down_revision, *migration.depends_on)

    def _topological_order(self) -> list[str]:
        remaining = {rev: len(self.parents(rev)) for rev in self.migrations}
        ready = [self._sort_key(rev) for rev, n in remaining.items() if n == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            *_, rev = heapq.heappop(ready)
            order.append(rev)
            for child in self.children[rev]:
                remaining[child] -= 1
                if remaining[child] == 0:
                    heapq.heappush(ready, self._sort_key(child))
        if len(order) != len(self.migrations):
            stuck = sorted(rev for rev in self.migrations if rev not in set(order))
            cycle = self._find_cycle(stuck)
            raise GraphError(f"{self._where(cycle[0])}revision cycle: {' -> '.join(cycle)}")
        return order

    def _sort_key(self, rev: str) -> tuple[Version, str, str]:
        return (self.migrations[rev].release_version, rev, rev)

    def _find_cycle(self, stuck: Sequence[str]) -> list[str]:
        path: list[str] = []
        on_path: set[str] = set()
        rev = stuck[0]
        while rev not in on_path:
            path.append(rev)
            on_path.add(rev)
            rev = next(p for p in self.parents(rev) if p in stuck)
        return [*path[path.index(rev) :], rev]

    def _check_releases(self) -> None:
        for rev in self.order:
            release = self.migrations[rev].release_version
            for parent in self.migrations[rev].down_revision:
                if self.migrations[parent].release_version > release:
                    raise GraphError(
                        f"{self._where(rev)}release goes backwards: {rev!r} is "
                        f"{self.migrations[rev].release} but its parent {parent!r} is "
                        f"{self.migrations[parent].release}"
                    )

    # -- sets and heads -------------------------------------------------

    @property
    def heads(self) -> list[str]:
        return [rev for rev in self.order if not self.children[rev]]

    @property
    def bases(self) -> list[str]:
        return [rev for rev in self.order if not self.migrations[rev].down_revision]

    def ancestors(self, revs: Iterable[str]) -> set[str]:
        """``revs`` and everything they build on."""
        return _reachable(revs, self.parents)

    def heads_of(self, applied: Iterable[str]) -> list[str]:
        """The revisions of an applied set that no other revision of it builds on."""
        applied_set = set(applied)
        return [
            rev
            for rev in self.order
            if rev in applied_set and not (self.children[rev] & applied_set)
        ]

    def in_order(self, revs: Iterable[str]) -> list[str]:
        return sorted(revs, key=self._position.__getitem__)

    # -- targets --------------------------------------------------------

    def lookup(self, text: str) -> str:
        """A revision by full id or unique prefix."""
        if text in self.migrations:
            return text
        matches = [rev for rev in self.order if rev.startswith(text)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise GraphError(f"revision prefix {text!r} is ambiguous: {', '.join(matches)}")
        raise GraphError(f"no revision {text!r} (see 'scopemigrate history')")

    def release_set(self, release: str) -> set[str]:
        """Every revision whose release is at or below ``release``."""
        ceiling = selection_ceiling(parse_release(release))
        return {rev for rev, m in self.migrations.items() if m.release_version <= ceiling}

    def resolve(self, target: str, applied: Iterable[str], *, downgrade: bool = False) -> set[str]:
        """The applied set that ``target`` stands for, given what is applied now.

        Upgrading only adds: a target names what must be applied, and other
        branches stay as they are. Downgrading only removes: ``downgrade REV``
        undoes what builds on REV and leaves other branches alone, as in Alembic.
        """
        applied_set = set(applied)
        target = target.strip()
        if target == "heads":
            return set(self.migrations)
        if target == "head":
            return self.ancestors([self.single_head(self.heads, "head")])
        if target == "base":
            return set()
        relative = RELATIVE.match(target)
        if relative:
            return self._relative(applied_set, relative.group(1), int(relative.group(2)))
        if "@" in target:
            return self._on_branch(target, applied_set, downgrade)
        if target not in self.migrations and looks_like_release(target):
            releases = self.release_set(target)
            return self._closed(applied_set & releases) if downgrade else releases
        from_rev = REV_RELATIVE.match(target)
        if from_rev and target not in self.migrations:
            rev = self.lookup(from_rev.group(1))
            return self._relative_to(rev, from_rev.group(2), int(from_rev.group(3)), applied_set)
        rev = self.lookup(target)
        if downgrade:
            return self._closed(applied_set - (self.descendants([rev]) - {rev}))
        return self.ancestors([rev])

    def revision_of(self, target: str) -> str:
        """One revision: an id, a unique prefix, ``head`` or ``LABEL@head``."""
        if target == "head":
            return self.single_head(self.heads, target)
        if target.endswith("@head"):
            members = self.branch_members(target.removesuffix("@head"))
            tips = [r for r in self.order if r in members and not self.children[r] & members]
            return self.single_head(tips, target)
        return self.lookup(target)

    def single_head(self, heads: Sequence[str], what: str) -> str:
        if len(heads) > 1:
            raise GraphError(
                f"{what} is ambiguous: several heads ({', '.join(heads)}); name one, use "
                "'heads' to apply them all, or join them with 'scopemigrate merge'"
            )
        if not heads:
            raise GraphError(f"{what}: no revisions")
        return heads[0]

    def descendants(self, revs: Iterable[str]) -> set[str]:
        """``revs`` and everything that builds on them."""
        return _reachable(revs, lambda rev: self.children[rev])

    def _closed(self, keep: set[str]) -> set[str]:
        """The revisions of ``keep`` whose ancestors all stay in it."""
        return {rev for rev in keep if self.ancestors([rev]) <= keep}

    # -- branches -------------------------------------------------------

    def branch_labels(self) -> dict[str, str]:
        """Label -> the revision that carries it."""
        labels: dict[str, str] = {}
        for rev in self.order:
            for label in self.migrations[rev].branch_labels:
                if label in labels:
                    raise GraphError(
                        f"{self._where(rev)}branch label {label!r} is already used by "
                        f"{labels[label]!r}"
                    )
                labels[label] = rev
        return labels

    def branch_members(self, label: str) -> set[str]:
        """The labelled revision and what builds on it along ``down_revision``."""
        labels = self.branch_labels()
        if label not in labels:
            known = ", ".join(sorted(labels)) or "none"
            raise GraphError(f"no branch labelled {label!r} (labels: {known})")
        members: set[str] = set()
        stack = [labels[label]]
        while stack:
            rev = stack.pop()
            if rev not in members:
                members.add(rev)
                stack.extend(
                    c for c in self.children[rev] if rev in self.migrations[c].down_revision
                )
        return members

    def _on_branch(self, target: str, applied: set[str], downgrade: bool) -> set[str]:
        label, _, where = target.partition("@")
        members = self.branch_members(label)
        if where == "head":
            heads = [rev for rev in self.order if not (self.children[rev] & members)]
            return applied | self.ancestors(
                [self.single_head([h for h in heads if h in members], target)]
            )
        if where == "base":
            return self._closed(applied - members)
        relative = RELATIVE.match(where)
        if not relative:
            raise GraphError(
                f"target {target!r}: expected {label}@head, {label}@base or {label}@+N/-N"
            )
        sign, steps = relative.group(1), int(relative.group(2))
        if sign == "+":
            pending = [rev for rev in self.order if rev in members and rev not in applied]
            if steps > len(pending):
                raise GraphError(f"{target}: only {len(pending)} revision(s) left on the branch")
            return applied | self.ancestors(pending[:steps])
        done = [rev for rev in self.order if rev in members and rev in applied]
        if steps > len(done):
            raise GraphError(f"{target}: only {len(done)} revision(s) applied on the branch")
        undone = self.descendants(done[len(done) - steps :]) if steps else set()
        return self._closed(applied - undone)

    def _relative_to(self, rev: str, sign: str, steps: int, applied: set[str]) -> set[str]:
        """``REV+N``: N revisions above REV along its line; ``REV-N``: N below it."""
        if sign == "+":
            above = [r for r in self.order if r in self.descendants([rev]) - {rev}]
            if steps > len(above):
                raise GraphError(f"{rev}+{steps}: only {len(above)} revision(s) above {rev}")
            return self.ancestors([rev, *above[:steps]])
        below = self.in_order(self.ancestors([rev]))
        if steps >= len(below) + 1:
            raise GraphError(f"{rev}-{steps}: only {len(below) - 1} revision(s) below {rev}")
        kept = below[: len(below) - steps]
        return self.ancestors(kept[-1:]) if kept else set()

    def _relative(self, applied: set[str], sign: str, steps: int) -> set[str]:
        if sign == "+":
            pending = [rev for rev in self.order if rev not in applied]
            if steps > len(pending):
                raise GraphError(f"cannot go {steps} steps up: only {len(pending)} remain")
            return applied | self.ancestors(pending[:steps])
        done = self.in_order(applied)
        if steps > len(done):
            raise GraphError(f"cannot go {steps} steps down: only {len(done)} applied")
        undone = set(done[len(done) - steps :]) if steps else set()
        # Undo the dependants of what is undone too.
        return self._closed(applied - undone)

    def upgrade_path(self, applied: Iterable[str], target: set[str]) -> list[str]:
        """Revisions to apply, in an order that respects every edge."""
        applied_set = set(applied)
        return self.in_order(self.ancestors(target) - applied_set)

    def downgrade_path(self, applied: Iterable[str], target: set[str]) -> list[str]:
        """Revisions to undo, children before parents."""
        applied_set = set(applied)
        keep = self.ancestors(target) & applied_set
        return list(reversed(self.in_order(applied_set - keep)))


def _reachable(start: Iterable[str], step: Callable[[str], Iterable[str]]) -> set[str]:
    """``start`` and every revision reached from it by following ``step``."""
    seen: set[str] = set()
    stack = list(start)
    while stack:
        rev = stack.pop()
        if rev not in seen:
            seen.add(rev)
            stack.extend(step(rev))
    return seen
