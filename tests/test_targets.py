"""Targets: the parser, each case of issue 13's "What was seen", the deliberate
differences from Alembic, and the command line (``downgrade -1``, exit codes,
``show current``, ``history -i``, ``heads --resolve-dependencies``).

The kinds of cases of Alembic's tests/test_version_traversal.py and
tests/test_revision.py are written here from the behaviour (branch points, merge
points, labels, depends_on, relative walks); tests/test_alembic_oracle.py holds
the same semantics equal to Alembic's on generated graphs.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import copy_store, run_cli

from scopemigrate import cli, errors
from scopemigrate.check import check
from scopemigrate.config import load_config
from scopemigrate.errors import (
    CycleError,
    GraphError,
    MultipleHeadsError,
    TargetError,
    TargetSyntaxError,
    UnknownRevisionError,
)
from scopemigrate.graph import RevisionGraph
from scopemigrate.migration import Migration
from scopemigrate.targets import Name, Range, Relative, Release, Symbol, parse_range, parse_target


def m(
    rev: str,
    parents: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    depends: tuple[str, ...] = (),
    release: str = "2026.1.1",
) -> Migration:
    return Migration(
        revision=rev,
        down_revision=parents,
        release=release,
        branch_labels=labels,
        depends_on=depends,
    )


def code(error: errors.ScopemigrateError) -> int:
    return cli.exit_code_for(error)


TARGET_REFUSED = code(TargetError("x", "y"))
SEVERAL_HEADS = code(MultipleHeadsError("head", ["a", "b"]))


# -- the parser ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("head", Symbol("head")),
        ("plugin@heads", Symbol("heads", "plugin")),
        ("current", Symbol("current")),
        ("+1", Relative(1)),
        ("-2", Relative(-2)),
        ("1234aaaa-1", Relative(-1, "1234aaaa")),
        ("head-1", Relative(-1, "head")),
        ("base+2", Relative(2, "base")),
        ("mid@+1", Relative(1, None, "mid")),
        ("mid@head-1", Relative(-1, "head", "mid")),
        ("mid@base+2", Relative(2, "base", "mid")),
        ("mid@1234", Name("1234", "mid")),
        ("1234", Name("1234")),
        ("548b", Name("548b")),
        # A correction build is a release, not "2026.2.19" minus two.
        ("2026.2.19-2", Name("2026.2.19-2")),
        ("2026.2.23-beta.1", Name("2026.2.23-beta.1")),
    ],
)
def test_parse_target(text: str, parsed: object) -> None:
    assert parse_target(text) == parsed


@pytest.mark.parametrize(
    ("text", "position"), [("", 0), ("@head", 0), ("mid@", 4), ("a b", 1), ("x@current", 2)]
)
def test_bad_target_text_names_the_text_and_the_position(text: str, position: int) -> None:
    with pytest.raises(TargetSyntaxError) as caught:
        parse_target(text)
    assert caught.value.text == text and caught.value.position == position
    assert repr(text) in str(caught.value)


def test_ranges_need_their_colon_as_in_alembic() -> None:
    assert parse_range("a1:b1") == Range(Name("a1"), Name("b1"))
    assert parse_range("-1:current") == Range(Relative(-1), Symbol("current"))
    assert parse_range(":") == Range(None, None)
    with pytest.raises(TargetSyntaxError, match="':' is required"):
        parse_range("a1")


# -- what was seen ------------------------------------------------------------


@pytest.fixture
def hexchain() -> RevisionGraph:
    return RevisionGraph(
        [
            m("1234aaaa0000"),
            m("5678bbbb0000", ("1234aaaa0000",)),
            m("9012cccc0000", ("5678bbbb0000",)),
        ]
    )


def test_a_prefix_that_reads_as_a_version_is_a_prefix(hexchain: RevisionGraph) -> None:
    everything = set(hexchain.migrations)
    assert hexchain.resolve("1234", everything, downgrade=True) == {"1234aaaa0000"}
    assert hexchain.resolve("1234", set()) == {"1234aaaa0000"}
    assert hexchain.resolve("5678-1", set()) == {"1234aaaa0000"}
    with pytest.raises(UnknownRevisionError, match="no revision '548b'"):
        hexchain.resolve("548b+2", set())
    # show and downgrade read a prefix the same way.
    assert hexchain.revision_of("5678") == "5678bbbb0000"
    assert hexchain.resolve("5678", everything, downgrade=True) == {"1234aaaa0000", "5678bbbb0000"}


@pytest.fixture
def labelled() -> RevisionGraph:
    """a1 <- a2 <- a3 (trunk); a2 <- b1 [plugin] <- b2."""
    return RevisionGraph(
        [
            m("a1"),
            m("a2", ("a1",)),
            m("a3", ("a2",)),
            m("b1", ("a2",), ("plugin",)),
            m("b2", ("b1",)),
        ]
    )


@pytest.mark.parametrize(
    ("target", "applied", "downgrade", "message"),
    [
        ("-1", {"a1", "a2"}, False, "upgrade only moves up"),
        ("plugin@-1", {"a1", "a2", "b1"}, False, "upgrade only moves up"),
        ("+2", {"a1"}, True, "downgrade only moves down"),
        ("b1", {"a1", "a2", "a3"}, True, "b1 is not applied"),
        ("a3", {"a1", "a2"}, True, "a3 is not applied"),
        ("+1", {"a1", "a2"}, False, "ambiguous walk: from a2 it could go to a3, b1"),
        ("+1", {"a3", "b2", "a2", "a1", "b1"}, False, r"several revisions are applied \(a3, b2\)"),
        ("-1", {"a3", "b2", "a2", "a1", "b1"}, True, r"several revisions are applied \(a3, b2\)"),
        ("a3+1", set(), False, "nothing lies 1 step"),
        ("+0", set(), False, "upgrade only moves up"),
    ],
)
def test_wrong_directions_and_ambiguous_walks_are_refused(
    labelled: RevisionGraph, target: str, applied: set[str], downgrade: bool, message: str
) -> None:
    with pytest.raises(TargetError, match=message):
        labelled.resolve(target, applied, downgrade=downgrade)


def test_relative_moves_walk_the_current_lineage() -> None:
    graph = RevisionGraph([m("a1"), m("b1", ("a1",)), m("a2"), m("b2", ("a2",))])
    assert graph.resolve("+1", {"a1"}) == {"a1", "b1"}
    two = RevisionGraph([m("c1"), m("d1"), m("d2", ("d1",))])
    assert two.resolve("d2-1", {"c1", "d1", "d2"}, downgrade=True) == {"c1", "d1"}


def test_a_label_covers_the_lineage_of_its_revision() -> None:
    graph = RevisionGraph(
        [m("m1"), m("m2", ("m1",)), m("m3", ("m2",), ("mid",)), m("m4", ("m3",)), m("m5", ("m4",))]
    )
    assert graph.resolve("mid@+1", set()) == {"m1"}
    assert graph.resolve("mid@base", set(graph.migrations), downgrade=True) == set()
    assert graph.branch_members("mid") == set(graph.migrations)


def test_depends_on_as_alembic_defines_it() -> None:
    graph = RevisionGraph(
        [m("a1"), m("a2", ("a1",)), m("a3", ("a2",)), m("b1"), m("b4", ("b1",), depends=("a3",))]
    )
    assert graph.heads == ["a3", "b4"] and graph.real_heads == ["b4"]
    with pytest.raises(MultipleHeadsError) as caught:
        graph.resolve("head", set())
    assert caught.value.heads == ["a3", "b4"] and caught.value.target == "head"
    # downgrade c1 keeps c2, which only depends on c1.
    other = RevisionGraph([m("c1"), m("x1"), m("c2", ("x1",), depends=("c1",)), m("c3", ("c1",))])
    assert other.resolve("c1", set(other.migrations), downgrade=True) == {"c1", "x1", "c2"}


def test_down_revision_and_depends_on_naming_the_same_parent_do_not_crash() -> None:
    graph = RevisionGraph([m("p1"), m("c1", ("p1",), depends=("p1",))])
    assert graph.parents("c1") == ("p1",)
    assert graph.resolve("head", set()) == {"p1", "c1"}
    assert graph.resolve("-1", {"p1", "c1"}, downgrade=True) == {"p1"}


def test_depends_on_may_name_a_branch_label() -> None:
    graph = RevisionGraph(
        [m("p1", labels=("plugin",)), m("a1"), m("a2", ("a1",), depends=("plugin",))]
    )
    assert graph.parents("a2") == ("a1", "p1")
    assert graph.resolve("a2", set()) == {"a1", "a2", "p1"}


def test_a_label_equal_to_a_revision_id_is_refused() -> None:
    with pytest.raises(GraphError, match="branch label 'a1' of 'b1' is also a revision id"):
        RevisionGraph([m("a1"), m("b1", labels=("a1",))])
    with pytest.raises(GraphError, match="would read as a release"):
        RevisionGraph([m("a1", labels=("2026.3.1",))])


def test_every_missing_form_now_resolves(labelled: RevisionGraph) -> None:
    everything = set(labelled.migrations)
    trunk = {"a1", "a2", "a3"}
    assert labelled.resolve("plugin@head-1", set()) == {"a1", "a2", "b1"}
    assert labelled.resolve("base+2", set()) == {"a1", "a2"}
    assert labelled.resolve("plugin@base+2", set()) == {"a1", "a2"}
    assert labelled.resolve("plugin@b2", trunk) == everything
    with pytest.raises(UnknownRevisionError, match="prefix 'b' is ambiguous: b1, b2"):
        labelled.resolve("plugin@b", trunk)
    prefixed = RevisionGraph([m("ab12"), m("ab34", labels=("plugin",))])
    assert prefixed.revision_of("plugin@ab") == "ab34"  # only prefixes on the branch count
    assert labelled.resolve("plugin@heads", set()) == {"a1", "a2", "b1", "b2"}
    assert labelled.resolve("plugin", set()) == {"a1", "a2", "b1"}
    assert labelled.revision_of("plugin") == "b1"
    assert labelled.revision_of("current", ["b2"]) == "b2"
    with pytest.raises(TargetError, match="not on branch 'plugin'"):
        labelled.resolve("plugin@a3", set())
    released = RevisionGraph([m("r1", release="2026.2.19"), m("r2", ("r1",), release="2026.2.23")])
    assert released.revision_of("2026.2.20") == "r1"
    assert released.resolve("2026.2.19", {"r1", "r2"}, downgrade=True) == {"r1"}
    assert released.resolve(Release("2026"), set()) == set()  # sync's installed version


def test_stamp_replaces_the_related_heads_and_keeps_the_others(labelled: RevisionGraph) -> None:
    everything = set(labelled.migrations)
    assert labelled.resolve_stamp("a2", everything) == {"a1", "a2"}
    assert labelled.resolve_stamp("b2", {"a1", "a2", "a3"}) == everything
    assert labelled.resolve_stamp("base", everything) == set()
    other = RevisionGraph([m("a1"), m("c1", labels=("other",))])
    assert other.resolve_stamp("other@base", {"a1", "c1"}) == {"a1"}
    with pytest.raises(TargetError, match="stamp records a named state"):
        labelled.resolve_stamp("-1", everything)


def test_history_range_is_the_path_from_lower_to_upper(labelled: RevisionGraph) -> None:
    rng = parse_range
    assert labelled.history_range(rng("a1:b2"), []) == {"a1", "a2", "b1", "b2"}
    assert labelled.history_range(rng("b1:"), []) == {"b1", "b2"}
    assert labelled.history_range(rng("-1:current"), ["b2"]) == {"b1", "b2"}
    assert labelled.history_range(rng(":current"), ["a2"]) == {"a1", "a2"}
    with pytest.raises(TargetError, match="is not below b2"):
        labelled.history_range(rng("a3:b2"), [])


# -- deliberate differences (docs/authoring.md, "Targets") ----------------------


def test_deliberate_short_prefixes_are_accepted_when_unique() -> None:
    """Alembic wants four characters for a prefix; a unique shorter one is fine here."""
    graph = RevisionGraph([m("ae1027a"), m("b77", ("ae1027a",))])
    assert graph.revision_of("b") == "b77"


def test_deliberate_upgrade_below_every_base_means_base() -> None:
    """Alembic fails with an AssertionError traceback; here it is nothing to apply."""
    graph = RevisionGraph([m("a1"), m("a2", ("a1",))])
    assert graph.resolve("a1-1", set()) == set()


def test_deliberate_redundant_merge_parents_are_handled() -> None:
    """Alembic loads a merge of a revision with its own descendant, then fails mid-upgrade."""
    graph = RevisionGraph([m("a1"), m("a2", ("a1",)), m("mg", ("a1", "a2"))])
    assert graph.resolve("head", set()) == {"a1", "a2", "mg"}
    assert graph.resolve("a2", {"a1", "a2", "mg"}, downgrade=True) == {"a1", "a2"}
    # A depends_on naming what the parent already builds on: Alembic keeps a version
    # row below another after a downgrade; the ledger records only real heads.
    graph = RevisionGraph([m("a1"), m("a2", ("a1",)), m("a3", ("a2",), depends=("a1",))])
    kept = graph.resolve("a2", {"a1", "a2", "a3"}, downgrade=True)
    assert kept == {"a1", "a2"} and graph.heads_of(kept) == ["a2"]


# -- the command line -----------------------------------------------------------


def write_chain(folder: Path) -> Path:
    """1234aaaa0000 <- 5678bbbb0000 <- 9012cccc0000, and a plugin base p1 [plugin]."""
    folder.mkdir()
    files = {
        "1234aaaa0000": ("", ""),
        "5678bbbb0000": ('down_revision = "1234aaaa0000"', ""),
        "9012cccc0000": ('down_revision = "5678bbbb0000"', ""),
        "p1plugin0000": ("", 'branch_labels = ["plugin"]'),
    }
    for rev, (parent, labels) in files.items():
        (folder / f"{rev}.toml").write_text(
            textwrap.dedent(
                f"""\
                revision = "{rev}"
                {parent}
                release = "2026.3.1"
                {labels}
                [[operations]]
                kind = "grant"
                role = "operator"
                scopes = ["x.{rev}"]
                """
            )
        )
    return folder


def test_cli_wrong_directions_are_refused_even_without_a_store(tmp_path: Path) -> None:
    absent = ("--store", str(tmp_path / "nothing-here"))
    for verb, target in (("upgrade", "-1"), ("downgrade", "+2"), ("upgrade", "plugin@-1")):
        refused = run_cli(verb, target, *absent)
        assert refused.returncode == TARGET_REFUSED, (verb, target, refused.stderr)
        assert refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1
    unknown = run_cli("upgrade", "--bogus", *absent)
    assert unknown.returncode == cli.EXIT_USAGE and "No such option" in unknown.stderr


def test_cli_negative_targets_exit_codes_and_read_only_views(tmp_path: Path) -> None:
    chain = write_chain(tmp_path / "migrations")
    store = copy_store("2026.2.15-mixed", tmp_path)
    at = ("--migrations", str(chain), "--store", str(store))

    def heads() -> list[str]:
        return sorted(json.loads(run_cli("current", "--json", *at).stdout)["heads"])

    assert run_cli("upgrade", "1234", *at).returncode == 0
    assert heads() == ["1234aaaa0000"]
    wrong = run_cli("upgrade", "-1", *at)
    assert wrong.returncode == TARGET_REFUSED and "upgrade only moves up" in wrong.stderr
    assert wrong.stderr.count("\n") == 1 and "Traceback" not in wrong.stderr
    assert run_cli("upgrade", "+2", *at).returncode == 0
    assert heads() == ["9012cccc0000"]
    assert run_cli("upgrade", "plugin@head", *at).returncode == 0
    several = run_cli("downgrade", "-1", *at)
    assert several.returncode == TARGET_REFUSED and "9012cccc0000-1" in several.stderr
    down = run_cli("downgrade", "9012-1", *at)
    assert down.returncode == 0, down.stderr
    assert heads() == ["5678bbbb0000", "p1plugin0000"]
    assert run_cli("downgrade", "+2", *at).returncode == TARGET_REFUSED
    assert run_cli("downgrade", "9012", *at).returncode == TARGET_REFUSED
    assert heads() == ["5678bbbb0000", "p1plugin0000"]  # every refusal left the store

    shown = json.loads(run_cli("show", "plugin", "--json", *at).stdout)["revision"]
    assert shown["revision"] == "p1plugin0000"
    many = run_cli("show", "current", *at)
    assert many.returncode == SEVERAL_HEADS and "several heads" in many.stderr
    assert run_cli("downgrade", "plugin@base", *at).returncode == 0
    shown = json.loads(run_cli("show", "current", "--json", *at).stdout)["revision"]
    assert shown["revision"] == "5678bbbb0000"
    ranged = json.loads(run_cli("history", "-r", "-1:current", "--json", *at).stdout)
    assert [r["revision"] for r in ranged["revisions"]] == ["5678bbbb0000", "1234aaaa0000"]
    # One revision type for every view; only the views that read the store know "applied".
    assert ranged["revisions"][0] == shown | {"applied": True}
    assert shown["applied"] is None and shown["is_head"] is False
    marked = run_cli("history", "-i", *at).stdout
    assert "5678bbbb0000 (current)" in marked and "9012cccc0000 (head) (applied)" not in marked
    resolved = json.loads(run_cli("heads", "--resolve-dependencies", "--json", *at).stdout)
    assert sorted(h["revision"] for h in resolved["heads"]) == ["9012cccc0000", "p1plugin0000"]


def test_check_exits_with_the_broken_files_own_error(tmp_path: Path) -> None:
    # The error carries the data (the cycle); check neither rewords nor retypes it.
    folder = tmp_path / "migrations"
    folder.mkdir()
    for rev, parent in (("a1", "b1"), ("b1", "a1")):
        (folder / f"{rev}.toml").write_text(
            f'revision = "{rev}"\ndown_revision = "{parent}"\nrelease = "2026.3.1"\n'
        )
    result = check(load_config(locations=[str(folder)], env={}))
    failure = result.failure()
    assert isinstance(failure, CycleError) and sorted(failure.cycle[:-1]) == ["a1", "b1"]
    assert code(failure) == code(GraphError("x"))
    [problem] = result.problems
    assert problem.kind == "graph" and sorted(problem.revisions) == ["a1", "b1"]
    assert result.to_json()["problems"] == [
        {"kind": "graph", "message": str(failure), "revisions": problem.revisions}
    ]


def test_a_symbol_is_one_of_the_four() -> None:
    assert Symbol("head", "plugin").branch == "plugin"
    with pytest.raises(ValueError, match="'haed' is not one of heads, head, base, current"):
        Symbol("haed")
