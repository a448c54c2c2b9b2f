"""The revision graph: the kinds of cases Alembic's revision-map tests cover, written here
from the behaviour (branches, merges, depends_on, relative targets, partial ids,
multiple heads), plus a hypothesis property over random DAGs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scopemigrate.errors import GraphError, TargetError
from scopemigrate.graph import RevisionGraph
from scopemigrate.migration import Migration


def m(
    rev: str,
    parents: tuple[str, ...] = (),
    release: str = "2026.1.1",
    labels: tuple[str, ...] = (),
    depends: tuple[str, ...] = (),
) -> Migration:
    return Migration(
        revision=rev,
        down_revision=parents,
        release=release,
        branch_labels=labels,
        depends_on=depends,
    )


@pytest.fixture
def forked() -> RevisionGraph:
    """a1 -> a2 -> a3 (trunk); a2 -> b1 -> b2 (labelled 'plugin'); c1 an independent base."""
    return RevisionGraph(
        [
            m("a1"),
            m("a2", ("a1",)),
            m("a3", ("a2",)),
            m("b1", ("a2",), labels=("plugin",)),
            m("b2", ("b1",)),
            m("c1", labels=("other",)),
        ]
    )


def test_heads_bases_and_order_respect_every_edge(forked: RevisionGraph) -> None:
    assert sorted(forked.heads) == ["a3", "b2", "c1"]
    assert sorted(forked.bases) == ["a1", "c1"]
    order = forked.order
    for rev in order:
        for parent in forked.parents(rev):
            assert order.index(parent) < order.index(rev)


def test_head_refuses_several_heads_naming_them(forked: RevisionGraph) -> None:
    with pytest.raises(GraphError, match=r"several heads \(.*a3.*b2.*c1.*\).*merge"):
        forked.resolve("head", set())
    assert forked.resolve("heads", set()) == set(forked.migrations)


def test_full_ids_unique_prefixes_and_ambiguous_prefixes() -> None:
    graph = RevisionGraph([m("ae1027a"), m("ae10f3b", ("ae1027a",)), m("b77", ("ae10f3b",))])
    assert graph.resolve("ae1027", set()) == {"ae1027a"}
    assert graph.resolve("b", set()) == {"ae1027a", "ae10f3b", "b77"}
    with pytest.raises(GraphError, match="ambiguous: ae1027a, ae10f3b"):
        graph.resolve("ae10", set())
    with pytest.raises(GraphError, match="no revision 'zz'"):
        graph.resolve("zz", set())


def test_relative_targets_from_the_applied_set(forked: RevisionGraph) -> None:
    assert forked.resolve("+1", {"a1"}) == {"a1", "a2"}
    # Alembic walks one line: from nothing, two bases (a1, c1) make +2 ambiguous.
    with pytest.raises(TargetError, match="ambiguous walk: from the bases it could go to a1, c1"):
        forked.resolve("+2", set())
    with pytest.raises(TargetError, match=r"nothing lies 1 step.* above c1"):
        forked.resolve("+1", {"c1"})
    assert forked.resolve("-1", {"a1", "a2", "a3"}, downgrade=True) == {"a1", "a2"}
    with pytest.raises(GraphError, match="nothing lies 2 step"):
        forked.resolve("-2", {"a1"}, downgrade=True)
    with pytest.raises(GraphError, match="ambiguous walk: from a2 it could go to a3, b1"):
        forked.resolve("+9", {"a1"})


def test_revision_relative_targets(forked: RevisionGraph) -> None:
    assert forked.resolve("a1+1", set()) == {"a1", "a2"}
    assert forked.resolve("a3-1", set()) == {"a1", "a2"}
    assert forked.resolve("a2-2", set()) == set()
    with pytest.raises(GraphError, match="above b2"):
        forked.resolve("b2+1", set())


def test_branch_label_targets(forked: RevisionGraph) -> None:
    trunk = {"a1", "a2", "a3"}
    assert forked.resolve("plugin@head", trunk) == trunk | {"b1", "b2"}
    assert forked.resolve("plugin@+1", trunk) == trunk | {"b1"}
    assert forked.resolve("plugin@-1", trunk | {"b1", "b2"}, downgrade=True) == trunk | {"b1"}
    # Alembic: LABEL@base undoes the whole tree the branch grows from (a1 up), not
    # only b1, b2; other trees (c1) stay.
    assert forked.resolve("plugin@base", trunk | {"b1", "b2", "c1"}, downgrade=True) == {"c1"}
    assert forked.revision_of("other@head") == "c1"
    with pytest.raises(GraphError, match="no branch labelled 'nope'"):
        forked.resolve("nope@head", set())


def test_downgrade_of_one_branch_leaves_the_others(forked: RevisionGraph) -> None:
    everything = set(forked.migrations)
    keep = forked.resolve("b1", everything, downgrade=True)
    assert keep == everything - {"b2"}
    assert forked.downgrade_path(everything, keep) == ["b2"]
    # Downgrading a shared parent takes down both branches built on it, children first.
    keep = forked.resolve("a1", everything, downgrade=True)
    assert keep == {"a1", "c1"}
    path = forked.downgrade_path(everything, keep)
    assert set(path) == {"a2", "a3", "b1", "b2"} and path.index("b2") < path.index("b1")


def test_merge_points_upgrade_and_downgrade_across_them() -> None:
    graph = RevisionGraph(
        [m("a"), m("b1", ("a",)), m("c1", ("a",)), m("mg", ("b1", "c1")), m("d", ("mg",))]
    )
    assert graph.heads == ["d"]
    path = graph.upgrade_path(set(), graph.resolve("head", set()))
    assert path[0] == "a" and path[-2:] == ["mg", "d"]
    everything = set(graph.migrations)
    down = graph.downgrade_path(everything, graph.resolve("b1", everything, downgrade=True))
    assert down == ["d", "mg"]  # below the merge, both parents stay applied
    assert graph.heads_of(everything - set(down)) == ["b1", "c1"]


def test_depends_on_pulls_in_the_other_branch_and_is_undone_with_it() -> None:
    graph = RevisionGraph(
        [m("a"), m("p1", labels=("plugin",)), m("b", ("a",), depends=("p1",)), m("p2", ("p1",))]
    )
    assert graph.resolve("b", set()) == {"a", "b", "p1"}
    keep = graph.resolve("plugin@base", {"a", "b", "p1", "p2"}, downgrade=True)
    assert keep == {"a"}  # b depends on p1, so it goes with the plugin branch


def test_release_targets_select_at_or_below_with_betas_and_corrections() -> None:
    graph = RevisionGraph(
        [
            m("r19", release="2026.2.19"),
            m("r19c", ("r19",), release="2026.2.19-2"),
            m("r23", ("r19c",), release="2026.2.23"),
        ]
    )
    assert graph.resolve("2026.2.19", set()) == {"r19"}
    assert graph.resolve("2026.2.19-2", set()) == {"r19", "r19c"}
    assert graph.resolve("2026.2.23-beta.1", set()) == {"r19", "r19c", "r23"}
    assert graph.resolve("2026.2.22", set()) == {"r19", "r19c"}
    everything = set(graph.migrations)
    assert graph.resolve("2026.2.19", everything, downgrade=True) == {"r19"}


@pytest.mark.parametrize(
    ("migrations", "message"),
    [
        ([m("a"), m("a")], "duplicate revision id 'a'"),
        ([m("a", ("ghost",))], "names parent 'ghost'"),
        ([m("a", ("c",)), m("b", ("a",)), m("c", ("b",))], r"cycle: (\w) -> .* -> \1"),
        ([m("a", release="2026.3.1"), m("b", ("a",), release="2026.2.1")], "release goes back"),
        ([m("a", labels=("x",)), m("b", ("a",), labels=("x",))], "label 'x' is already used"),
    ],
)
def test_graph_errors_are_clear(migrations: list[Migration], message: str) -> None:
    with pytest.raises(GraphError, match=message):
        RevisionGraph(migrations, {mig.revision: f"/m/{mig.revision}.toml" for mig in migrations})


def test_graph_errors_name_the_file() -> None:
    with pytest.raises(GraphError, match=r"^/m/b\.toml: revision 'b' names parent 'zz'"):
        RevisionGraph([m("a"), m("b", ("zz",))], {"a": "/m/a.toml", "b": "/m/b.toml"})


@st.composite
def dags(draw: st.DrawFn) -> list[Migration]:
    """Random DAGs: each revision picks 0-2 parents and maybe a dependency among earlier ones."""
    count = draw(st.integers(1, 12))
    migrations: list[Migration] = []
    for index in range(count):
        earlier = [f"r{i}" for i in range(index)]
        parents = (
            draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True)) if earlier else []
        )
        depends = (
            draw(st.lists(st.sampled_from(earlier), max_size=1))
            if earlier and draw(st.booleans())
            else []
        )
        depends = [d for d in depends if d not in parents]
        migrations.append(
            m(f"r{index}", tuple(parents), release=f"2026.1.{index + 1}", depends=tuple(depends))
        )
    return migrations


@settings(max_examples=300, deadline=None)
@given(migrations=dags(), data=st.data())
def test_upgrade_to_any_target_then_back_visits_each_revision_once_respecting_edges(
    migrations: list[Migration], data: st.DataObject
) -> None:
    graph = RevisionGraph(migrations)
    target = data.draw(st.sampled_from(sorted(graph.migrations)))
    up = graph.upgrade_path(set(), graph.resolve(target, set()))
    assert len(up) == len(set(up))
    assert set(up) == graph.ancestors([target])
    for rev in up:
        for parent in graph.parents(rev):
            assert up.index(parent) < up.index(rev)  # parents first
    applied = set(up)
    down = graph.downgrade_path(applied, graph.resolve("base", applied, downgrade=True))
    assert sorted(down) == sorted(up)  # each revision undone once
    for rev in down:
        for parent in graph.parents(rev):
            assert down.index(parent) > down.index(rev)  # children first
    # A partial downgrade keeps a set closed under ancestry.
    cut = data.draw(st.sampled_from(up))
    try:
        keep = graph.resolve(cut, applied, downgrade=True)
    except TargetError:
        # Alembic refuses a downgrade that would undo nothing, unless cut is a head.
        assert not graph.descendants(graph.down_children[cut]) & applied
        assert cut not in graph.heads_of(applied)
        return
    assert cut in keep and all(graph.ancestors([rev]) <= keep for rev in keep)
    # What builds on cut along down_revision goes, with what depends on that; a
    # revision that only depends_on cut stays (Alembic's rule).
    assert not graph.descendants(graph.down_children[cut]) & keep
