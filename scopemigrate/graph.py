"""The revision graph: parents, heads, bases, and what a target means. Knows nothing of stores.

A run is described by *applied sets*: the set of revisions a store holds (closed
under ``down_revision`` and ``depends_on``). ``RevisionGraph.resolve`` turns a
target (parsed by ``targets.py``) into the applied set it stands for; every
command goes through it, so ``upgrade``, ``downgrade``, ``show``, ``history``,
``stamp`` and ``sync`` cannot read one target two ways.

The meaning of targets is Alembic's (``alembic.script.revision.RevisionMap``),
held equal to it by ``tests/test_alembic_oracle.py``:

- *heads* are the revisions no ``down_revision`` names (a revision another one
  only ``depends_on`` is still a head); ``real_heads`` also count ``depends_on``.
- a branch is the *lineage* of the revision carrying the label: what it builds
  on and what builds on it, along ``down_revision``.
- relative targets walk one revision at a time from a single starting point,
  and refuse where a step has several ways to go.
- ``downgrade REV`` undoes what builds on REV along ``down_revision``, and what
  depends on that; a revision that only ``depends_on`` REV stays.

Deliberate differences are listed in docs/authoring.md ("Targets").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property

from packaging.version import Version

from scopemigrate import dag
from scopemigrate.errors import (
    CycleError,
    GraphError,
    MultipleHeadsError,
    TargetError,
    UnknownRevisionError,
)
from scopemigrate.migration import Migration
from scopemigrate.targets import (
    Name,
    Range,
    Relative,
    Release,
    Symbol,
    Target,
    check_direction,
    describe,
    is_dotted_release,
    parse_target,
)
from scopemigrate.versions import parse_release, selection_ceiling

# A walk that went below every base: Alembic's "base" (nothing applied).
BELOW_BASES = ""


class RevisionGraph:
    """A validated DAG of migrations."""

    def __init__(
        self,
        migrations: Iterable[Migration],
        sources: dict[str, str] | None = None,
        independent: Iterable[str] = (),
    ):
        self._sources = sources or {}
        self.migrations: dict[str, Migration] = {}
        for migration in migrations:
            if migration.revision in self.migrations:
                raise GraphError(
                    f"duplicate revision id {migration.revision!r}",
                    source=self._sources.get(migration.revision),
                )
            self.migrations[migration.revision] = migration
        self.labels = self._labels()
        self.dependencies = {rev: self._resolve_dependencies(rev) for rev in self.migrations}
        self._parents: dict[str, tuple[str, ...]] = {
            rev: tuple(dict.fromkeys((*m.down_revision, *self.dependencies[rev])))
            for rev, m in self.migrations.items()
        }
        for rev, migration in self.migrations.items():
            for parent in migration.down_revision:
                if parent not in self.migrations:
                    raise GraphError(
                        f"revision {rev!r} names parent {parent!r}, "
                        "which no migration file defines",
                        source=self._sources.get(rev),
                    )
        self._down: dict[str, tuple[str, ...]] = {
            rev: m.down_revision for rev, m in self.migrations.items()
        }
        self.children = dag.children_of(self._parents)
        self.down_children = dag.children_of(self._down)
        try:
            self.order = dag.topological_order(self._parents, key=self._sort_key)
        except dag.CycleFound as found:
            raise CycleError(found.cycle, source=self._sources.get(found.cycle[0])) from None
        self._position = {rev: i for i, rev in enumerate(self.order)}
        self._check_releases()
        self.independent_bases = self._independent_bases(independent)

    def _where(self, rev: str) -> str:
        source = self._sources.get(rev)
        return f"{source}: " if source else ""

    def _sort_key(self, rev: str) -> tuple[Version, str]:
        return (self.migrations[rev].release_version, rev)

    def _labels(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        for rev in sorted(self.migrations):
            for label in self.migrations[rev].branch_labels:
                source = self._sources.get(rev)
                if label in labels:
                    raise GraphError(
                        f"branch label {label!r} is already used by {labels[label]!r}",
                        source=source,
                    )
                if label in self.migrations:
                    raise GraphError(
                        f"branch label {label!r} of {rev!r} is also a revision id; "
                        "a target could mean either, so pick another label",
                        source=source,
                    )
                if "@" in label or ":" in label or is_dotted_release(label):
                    raise GraphError(
                        f"branch label {label!r} of {rev!r} would read as a release or "
                        "a target; use letters, digits, '_' and '-'",
                        source=source,
                    )
                labels[label] = rev
        return labels

    def _resolve_dependencies(self, rev: str) -> tuple[str, ...]:
        """``depends_on`` as revision ids: a branch label names the revision carrying it."""
        resolved: list[str] = []
        for name in self.migrations[rev].depends_on:
            target = name if name in self.migrations else self.labels.get(name)
            if target is None:
                raise GraphError(
                    f"revision {rev!r} names parent {name!r}, which no migration file "
                    "defines (depends_on takes a revision id or a branch label)",
                    source=self._sources.get(rev),
                )
            if target == rev:
                raise CycleError([rev, rev], source=self._sources.get(rev))
            resolved.append(target)
        return tuple(dict.fromkeys(resolved))

    def _check_releases(self) -> None:
        for rev in self.order:
            release = self.migrations[rev].release_version
            for parent in self.migrations[rev].down_revision:
                if self.migrations[parent].release_version > release:
                    raise GraphError(
                        f"release goes backwards: {rev!r} is "
                        f"{self.migrations[rev].release} but its parent {parent!r} is "
                        f"{self.migrations[parent].release}",
                        source=self._sources.get(rev),
                    )

    def parents(self, rev: str) -> tuple[str, ...]:
        """``down_revision`` then ``depends_on`` (as ids), each once."""
        return self._parents[rev]

    # -- sets and heads -------------------------------------------------

    @cached_property
    def heads(self) -> list[str]:
        """Revisions no ``down_revision`` names (Alembic's heads), in order."""
        return self.in_order(dag.heads_of(self._down, self._down))

    @cached_property
    def real_heads(self) -> list[str]:
        """Revisions nothing names, ``depends_on`` included (``heads --resolve-dependencies``)."""
        return self.heads_of(self.migrations)

    def _independent_bases(self, labels: Iterable[str]) -> frozenset[str]:
        """The base revisions of the branches the configuration declares independent."""
        found = self.branch_labels()
        bases = set()
        for label in labels:
            rev = found.get(label)
            if rev is None:
                known = ", ".join(sorted(found)) or "none"
                raise GraphError(
                    f"independent branch {label!r} (configuration 'independent_branches'): "
                    f"no revision carries that label (labels: {known})"
                )
            below = self.migrations[rev].down_revision
            if below:
                raise GraphError(
                    f"independent branch {label!r}: its labelled revision {rev!r} builds on "
                    f"{', '.join(below)}; only a chain with its own base (down_revision = []) "
                    "can be independent",
                    source=self._sources.get(rev),
                )
            bases.add(rev)
        return frozenset(bases)

    def head_groups(self) -> list[list[str]]:
        """The heads, grouped by chain: one group per independent chain (its heads
        build only on declared independent bases), and one for every other head.
        ``head`` is one head of each group; a group of several is ambiguous."""
        groups: dict[frozenset[str] | None, list[str]] = {}
        for head in self.heads:
            roots = frozenset(r for r in self.ancestors([head]) if not self.parents(r))
            key = roots if roots <= self.independent_bases else None
            groups.setdefault(key, []).append(head)
        return list(groups.values())

    def head_of_each_chain(self, what: str) -> list[str]:
        """The single head of each chain (``head_groups``); several in one chain:
        ``MultipleHeadsError``."""
        return [self.single_head(group, what) for group in self.head_groups()]

    @cached_property
    def bases(self) -> list[str]:
        return [rev for rev in self.order if not self.migrations[rev].down_revision]

    def ancestors(self, revs: Iterable[str]) -> set[str]:
        """``revs`` and everything they build on (``depends_on`` included)."""
        return dag.reachable(revs, self._parents.__getitem__)

    def descendants(self, revs: Iterable[str]) -> set[str]:
        """``revs`` and everything that builds on them (``depends_on`` included)."""
        return dag.reachable(revs, self.children.__getitem__)

    def lineage(self, rev: str) -> set[str]:
        """What ``rev`` builds on and what builds on it, along ``down_revision`` only."""
        below = dag.reachable([rev], self._down.__getitem__)
        return below | dag.reachable([rev], self.down_children.__getitem__)

    def heads_of(self, applied: Iterable[str]) -> list[str]:
        """The revisions of an applied set that no other one of it builds on, through
        ``down_revision`` or ``depends_on``: what the ledger records, and what
        Alembic's version table holds after the same runs."""
        heads = dag.heads_of(self._parents, applied)
        return [rev for rev in self.order if rev in heads]

    def in_order(self, revs: Iterable[str]) -> list[str]:
        return sorted(revs, key=self._position.__getitem__)

    def release_set(self, release: str) -> set[str]:
        """Every revision whose release is at or below ``release``."""
        ceiling = selection_ceiling(parse_release(release))
        return {rev for rev, m in self.migrations.items() if m.release_version <= ceiling}

    # -- names ----------------------------------------------------------

    def lookup(self, text: str, branch: str | None = None) -> str:
        """A revision by full id, branch label, or unique id prefix; on ``branch`` if given."""
        if text in self.migrations:
            found = text
        elif text in self.labels:
            found = self.labels[text]
        else:
            matches = [rev for rev in self.order if rev.startswith(text)]
            if branch is not None:
                on_branch = self.lineage(self.branch_revision(branch))
                matches = [rev for rev in matches if rev in on_branch]
            if len(matches) > 1:
                raise UnknownRevisionError(
                    text, f"revision prefix {text!r} is ambiguous: {', '.join(matches)}"
                )
            if not matches:
                raise UnknownRevisionError(
                    text, f"no revision {text!r}, nor a branch label (see 'scopemigrate history')"
                )
            found = matches[0]
        if branch is not None and self.branch_revision(branch) not in self.lineage(found):
            raise TargetError(
                f"{branch}@{text}",
                f"revision {found} is not on branch {branch!r}; name it without '{branch}@'",
            )
        return found

    def branch_revision(self, branch: str) -> str:
        """The revision a branch is named by: a label, or a revision id or prefix."""
        if branch in self.labels:
            return self.labels[branch]
        try:
            return self.lookup(branch)
        except UnknownRevisionError:
            known = ", ".join(sorted(self.labels)) or "none"
            raise UnknownRevisionError(
                branch, f"no branch labelled {branch!r} (labels: {known})"
            ) from None

    def branch_members(self, label: str) -> set[str]:
        """The revisions of a branch: the lineage of the revision named by ``label``."""
        return self.lineage(self.branch_revision(label))

    def branch_labels(self) -> dict[str, str]:
        """Label -> the revision that carries it."""
        return dict(self.labels)

    def _on_lineage(self, revs: Iterable[str], branch: str | None) -> list[str]:
        if branch is None:
            return list(revs)
        anchor = self.branch_revision(branch)
        return [rev for rev in revs if anchor in self.lineage(rev)]

    def _single(self, revs: Sequence[str], what: str) -> str | None:
        if len(revs) > 1:
            raise MultipleHeadsError(what, list(revs))
        return revs[0] if revs else None

    def single_head(self, heads: Sequence[str], what: str) -> str:
        found = self._single(heads, what)
        if found is None:
            raise GraphError(f"{what}: no revisions")
        return found

    def _revision(self, name: str, branch: str | None = None) -> str | None:
        """One revision for ``head``, ``base`` (None), ``heads`` (when single), or a name."""
        if name == "head":
            return self._single(self._on_lineage(self.heads, branch), _at(branch, "head"))
        if name == "heads":
            return self._single(self.real_heads, "heads")
        if name == "base":
            return None
        return self.lookup(name, branch)

    # -- walks ----------------------------------------------------------

    def _walk(
        self,
        target: Target,
        start: str | None,
        steps: int,
        branch: str | None = None,
        *,
        clamp: bool = False,
    ) -> str:
        """Step ``steps`` revisions up (>0) or down (<0) from ``start`` (None: below
        every base), one way only; returns ``BELOW_BASES`` past the bottom.

        A walk past the end is refused, or with ``clamp`` (history ranges, as in
        Alembic) stops where it is."""
        here: str | None = start
        for done in range(abs(steps)):
            ways: list[str]
            if steps > 0:
                if here == BELOW_BASES:
                    here = None
                ups = self.bases if here is None else self.in_order(self.down_children[here])
                ways = self._on_lineage(ups, branch)
            elif here == BELOW_BASES:
                ways = []
            else:
                downs = self.heads if here is None else list(self.migrations[here].down_revision)
                ways = downs or [BELOW_BASES]
            if not ways and clamp:
                break
            if not ways:
                where = "above" if steps > 0 else "below"
                raise TargetError(
                    describe(target),
                    f"walks past the end: nothing lies {abs(steps)} step(s) {where} "
                    f"{start or 'base'} (only {done})",
                )
            if len(ways) > 1:
                at = "the bases" if here is None else here
                options = ", ".join(way or "base" for way in ways)
                raise TargetError(
                    describe(target),
                    f"ambiguous walk: from {at} it could go to {options}; "
                    "name the revision, or walk within a branch (LABEL@+N, REV+N)",
                )
            here = ways[0]
        return BELOW_BASES if here is None else here

    def _current_on_branch(self, tips: Sequence[str], branch: str) -> list[str]:
        """Where an upgrade along ``branch`` starts: the applied tips on its lineage, or
        failing that the tips of what is applied on it."""
        start = self._on_lineage(tips, branch)
        if start:
            return start
        active = self._on_lineage(self.ancestors(tips), branch)
        return self.in_order(dag.heads_of(self._parents, active))

    def upgrade_targets(
        self, target: Target, tips: Sequence[str], *, clamp: bool = False
    ) -> list[str]:
        """The revisions an upgrade to ``target`` must reach, from applied ``tips``
        (``clamp``: a walk past the end stops there instead of being refused)."""
        if isinstance(target, Release):
            return self.heads_of(self.release_set(target.text))
        if isinstance(target, Symbol):
            if target.name == "heads":
                return (
                    self._on_lineage(self.heads, target.branch)
                    if target.branch
                    else list(self.real_heads)
                )
            if target.name == "current":
                return list(tips)
            if target.name == "head" and target.branch is None:
                return self.head_of_each_chain("head")
            found = self._revision(target.name, target.branch)
            return [found] if found else []
        if isinstance(target, Name):
            return self._named(target)
        check_direction(target, downgrade=False)
        if target.anchor is None:
            starts: list[str | None] = list(tips) or [None]
            if target.branch is not None:
                starts = list(self._current_on_branch(tips, target.branch)) or [None]
            if len(starts) > 1:
                raise TargetError(
                    describe(target),
                    f"several revisions are applied ({', '.join(s or '' for s in starts)}): "
                    "walk from one of them (REV+N) or within a branch (LABEL@+N)",
                )
            reached = self._walk(target, starts[0], target.steps, target.branch, clamp=clamp)
        elif target.steps > 0:
            anchor = self._revision(target.anchor)
            reached = self._walk(target, anchor, target.steps, target.branch, clamp=clamp)
        else:
            anchor = self._revision(target.anchor, target.branch)
            reached = self._walk(target, anchor, target.steps, clamp=clamp)
        return [reached] if reached else []

    def _named(self, target: Name) -> list[str]:
        """A name: a revision or label first; a dotted release only where none matches."""
        try:
            return [self.lookup(target.text, target.branch)]
        except UnknownRevisionError:
            if target.branch is None and is_dotted_release(target.text):
                return self.heads_of(self.release_set(target.text))
            raise

    def downgrade_point(self, target: Target, tips: Sequence[str]) -> tuple[str | None, str | None]:
        """(branch, revision to keep) for a downgrade; revision None means base."""
        if isinstance(target, Relative):
            return self._relative_down(target, tips)
        if isinstance(target, Symbol):
            if target.name == "current":
                raise TargetError("current", "downgrade to what is applied does nothing")
            return target.branch, self._revision(target.name)
        if isinstance(target, Name):
            return target.branch, self.lookup(target.text)
        raise TargetError(target.text, "a release is not one revision")  # pragma: no cover

    def _relative_down(
        self, target: Relative, tips: Sequence[str], *, clamp: bool = False
    ) -> tuple[str | None, str | None]:
        branch = target.branch
        check_direction(target, downgrade=True)
        if target.steps >= 0:
            assert target.anchor is not None  # check_direction refused the rest
            anchor = self._revision(target.anchor)
            reached = self._walk(target, anchor, target.steps, branch, clamp=clamp)
            return branch, reached or None
        if target.anchor is not None:
            start = self._revision(target.anchor, branch)
        elif branch is not None:
            on_branch = self._on_lineage(tips, branch)
            if not on_branch:
                # A branch held only through depends_on: its tips along down_revision.
                line_tips = dag.heads_of(self._down, self.ancestors(tips))
                on_branch = self._on_lineage(self.in_order(line_tips), branch)
            if len(on_branch) != 1:
                raise TargetError(
                    describe(target),
                    f"branch {branch!r} has {len(on_branch)} applied tip(s) "
                    f"({', '.join(on_branch) or 'none'}): name the revision (REV-N)",
                )
            start = on_branch[0]
        else:
            if not tips:
                raise TargetError(describe(target), "nothing is applied, so nothing to undo")
            if len(tips) > 1:
                raise TargetError(
                    describe(target),
                    f"several revisions are applied ({', '.join(tips)}): say which line to "
                    f"walk down, e.g. {tips[0]}{target.steps} or LABEL@{target.steps}",
                )
            start = tips[0]
            branch = start
        reached = self._walk(target, start, target.steps, clamp=clamp)
        return branch, reached or None

    # -- the one entry point ------------------------------------------------

    def resolve(
        self, target: str | Target, applied: Iterable[str], *, downgrade: bool = False
    ) -> set[str]:
        """The applied set that ``target`` stands for, given what is applied now.

        Upgrading only adds (other branches stay as they are); downgrading only
        removes. Every command resolves its target here.
        """
        parsed = parse_target(target) if isinstance(target, str) else target
        applied_set = self.ancestors(applied)
        tips = self.heads_of(applied_set)
        if isinstance(parsed, Name) and parsed.branch is None and downgrade:
            release = self._release_reading(parsed)
            if release is not None:
                parsed = release
        if isinstance(parsed, Release):
            releases = self.release_set(parsed.text)
            return self._closed(applied_set & releases) if downgrade else applied_set | releases
        if not downgrade:
            reached = self.upgrade_targets(parsed, tips)
            self._refuse_overlap(parsed, reached)
            return applied_set | self.ancestors(reached)
        return applied_set - self._to_undo(parsed, applied_set, tips)

    def resolve_stamp(self, target: str | Target, applied: Iterable[str]) -> set[str]:
        """The applied set ``stamp TARGET`` records, as Alembic's stamp does: the
        current heads related to TARGET (through any edge) are replaced by it, up or
        down; other heads stay; ``base`` (or ``LABEL@base``) drops the related heads."""
        parsed = parse_target(target) if isinstance(target, str) else target
        if isinstance(parsed, Release):
            return self.release_set(parsed.text)
        if isinstance(parsed, Relative):
            raise TargetError(
                describe(parsed),
                "stamp records a named state: give a revision, a label, head, heads or base",
            )
        tips = self.heads_of(self.ancestors(applied))
        dests = self.upgrade_targets(parsed, tips)
        against = list(dests)
        if parsed.branch is not None:
            against.append(self.branch_revision(parsed.branch))
        related = [tip for tip in tips if not against or self._related(tip, against)]
        heads = set(tips)
        if not dests:
            heads -= set(related)
        for dest in dests:
            if dest in related:
                continue
            if self._related(dest, related):
                heads = (heads - set(related)) | {dest}
            else:
                heads.add(dest)
        return self.ancestors(heads)

    def _related(self, rev: str, others: Iterable[str]) -> bool:
        """Whether ``rev`` builds on, or is built on by, one of ``others`` (any edge)."""
        return bool((self.ancestors([rev]) | self.descendants([rev])) & set(others))

    def _release_reading(self, target: Name) -> Release | None:
        try:
            self.lookup(target.text)
        except UnknownRevisionError:
            return Release(target.text) if is_dotted_release(target.text) else None
        return None

    def _refuse_overlap(self, target: Target, reached: Sequence[str]) -> None:
        for rev in reached:
            inside = self.ancestors([rev]) - {rev}
            overlap = [other for other in reached if other in inside]
            if overlap:
                raise TargetError(
                    describe(target),
                    f"names {rev} and {', '.join(overlap)}, which it builds on; name {rev} alone",
                )

    def _to_undo(self, target: Target, applied: set[str], tips: Sequence[str]) -> set[str]:
        branch, keep = self.downgrade_point(target, tips)
        roots = set(self.bases) if keep is None else set(self.down_children[keep])
        if branch is not None and len(roots) > 1:
            below = dag.reachable([self.branch_revision(branch)], self._down.__getitem__)
            roots &= below
            if not roots:
                raise TargetError(
                    describe(target), "is not on a branch that is applied; nothing to undo"
                )
        undone = self.descendants(roots) & applied
        if keep is not None and not undone and keep not in tips:
            if keep not in applied:
                why = f"revision {keep} is not applied, so there is nothing above it to undo"
            else:
                why = (
                    f"nothing is applied above {keep} along its line (what is applied "
                    "only depends_on it), so there is nothing to undo"
                )
            raise TargetError(
                describe(target),
                f"{why} (current: {', '.join(tips) or 'base'}); name a revision that is "
                "applied and below the current heads",
            )
        return undone

    def revision_of(self, target: str | Target, tips: Sequence[str] = ()) -> str:
        """One revision, for ``show`` and ``--head``: an id, prefix, label, ``head``,
        ``LABEL@head``, ``current`` (given the applied ``tips``), a release, REV±N."""
        parsed = parse_target(target) if isinstance(target, str) else target
        reached = self.upgrade_targets(parsed, tips)
        found = self._single(reached, describe(parsed))
        if found is None:
            raise GraphError(f"{describe(parsed)}: stands for no revision (base)")
        return found

    def upgrade_path(self, applied: Iterable[str], target: set[str]) -> list[str]:
        """Revisions to apply, in an order that respects every edge."""
        return self.in_order(self.ancestors(target) - set(applied))

    def downgrade_path(self, applied: Iterable[str], target: set[str]) -> list[str]:
        """Revisions to undo, children before parents."""
        applied_set = set(applied)
        keep = self.ancestors(target) & applied_set
        return list(reversed(self.in_order(applied_set - keep)))

    def _closed(self, keep: set[str]) -> set[str]:
        """The revisions of ``keep`` whose ancestors all stay in it."""
        return {rev for rev in keep if self.ancestors([rev]) <= keep}

    # -- history ranges ---------------------------------------------------

    def history_range(self, spec: Range, tips: Sequence[str]) -> set[str]:
        """The revisions of ``-r LOWER:UPPER``: the path from LOWER up to UPPER, both
        included (Alembic's ``history -r``); an empty side is base or heads."""
        upper = spec.upper or Symbol("heads")
        lower_revs = self._range_lower(spec, tips)
        # A relative UPPER walks from LOWER; ``current`` is what the store holds.
        reached = (
            list(tips)
            if upper == Symbol("current")
            else self.upgrade_targets(upper, lower_revs, clamp=True)
        )
        self._refuse_overlap(upper, reached)
        required = self.ancestors(reached)
        outside = [rev for rev in lower_revs if rev not in required]
        if outside:
            raise TargetError(
                f"{describe(spec.lower) if spec.lower else 'base'}:{describe(upper)}",
                f"{', '.join(outside)} is not below {describe(upper)} along its branch",
            )
        chosen = (required - self.ancestors(lower_revs)) | set(lower_revs)
        if lower_revs:
            chosen &= dag.reachable(lower_revs, self.down_children.__getitem__)
        return chosen

    def _range_lower(self, spec: Range, tips: Sequence[str]) -> list[str]:
        lower = spec.lower
        if lower is None:
            return []
        if isinstance(lower, Relative):
            upper_tips = self.upgrade_targets(spec.upper or Symbol("heads"), tips, clamp=True)
            _, kept = self._relative_down(lower, upper_tips, clamp=True)
            return [kept] if kept else []
        return self.upgrade_targets(lower, tips, clamp=True)


def _at(branch: str | None, name: str) -> str:
    return f"{branch}@{name}" if branch else name
