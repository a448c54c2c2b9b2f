"""The quick verdicts (and ``current``'s quick answer) equal the full run's on
generated graphs with ``depends_on``.

``quick.verdicts`` restates two decisions of the full path for speed: "is the
store at head?" (``upgrade head`` / ``upgrade heads``) and "is it at the
revisions of release R?" (the hook's ``sync``). Here hypothesis draws DAGs
(merges, several bases, ``depends_on`` on any earlier revision, a dependency
on a newer release), brings a store to several states through the full path,
and holds the quick answer equal to a full dry run in each. A ``depends_on``
naming a branch label is deliberately left to the full run: the quick answer
is then "cannot vouch", never a wrong "nothing to do".
"""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

from conftest import copy_store
from hypothesis import given, settings
from hypothesis import strategies as st

from scopemigrate import commands
from scopemigrate.config import Config, load_config
from scopemigrate.errors import ScopemigrateError
from scopemigrate.quick.verdicts import (
    at_head,
    at_release,
    current_view,
    history_view,
)

RELEASES = ("2026.1.1", "2026.2.1", "2026.3.1")
# revision -> (down_revision, depends_on, release)
Spec = dict[str, tuple[list[str], list[str], str]]


@st.composite
def graphs(draw: st.DrawFn) -> Spec:
    spec: Spec = {}
    for index in range(draw(st.integers(1, 6))):
        earlier = sorted(spec)
        some = (
            st.lists(st.sampled_from(earlier), max_size=2, unique=True) if earlier else st.just([])
        )
        down, depends = draw(some), draw(some)
        # A release never goes backwards along down_revision; depends_on may
        # name a newer release (the release's set is then not closed).
        floor = max((RELEASES.index(spec[p][2]) for p in down), default=0)
        spec[f"r{index}"] = (down, depends, RELEASES[draw(st.integers(floor, 2))])
    return spec


def write_files(folder: Path, spec: Spec, labels: dict[str, str] | None = None) -> None:
    folder.mkdir()
    for rev, (down, depends, release) in spec.items():
        label = f"branch_labels = [{labels[rev]!r}]" if labels and rev in labels else ""
        (folder / f"{rev}.toml").write_text(
            textwrap.dedent(
                f"""\
                revision = "{rev}"
                down_revision = {down!r}
                depends_on = {depends!r}
                release = "{release}"
                message = "{rev}: operators gain x.{rev}"
                {label}
                [[operations]]
                kind = "grant"
                role = "operator"
                scopes = ["x.{rev}"]
                """
            ).replace("'", '"'),
            encoding="utf-8",
        )


def full_at_head(config: Config, target: str) -> bool:
    try:
        return not commands.upgrade(config, target, dry_run=True).revisions
    except ScopemigrateError:
        return False  # refused (several heads): the quick path must not answer either


def full_at_release(config: Config, release: str) -> bool:
    try:
        return not commands.sync(config, release, dry_run=True).runs
    except ScopemigrateError:
        return False


def assert_current_equal(config: Config) -> None:
    """The quick ``current`` answers, and answers as the full command does."""
    full = commands.current(config)
    quick = current_view(config)
    assert quick is not None  # plain files, a JSON store: it must vouch
    shown = [(info.revision, info.release, info.message) for info in full.revisions]
    assert quick == (full.store, full.store_exists, shown)
    history = commands.history(config)
    lines = [
        (i.down_revision, i.revision, i.is_head, i.applied, i.release, i.message)
        for i in history.revisions
    ]
    assert history_view(config) == (history.current, lines)


def assert_verdicts_equal(config: Config) -> None:
    assert_current_equal(config)
    heads = commands.current(config).heads
    for target in ("head", "heads"):
        quick, quick_heads = at_head(config, target)
        assert quick == full_at_head(config, target), (target, heads)
        assert quick_heads == (heads if heads else [])
    for release in RELEASES:
        quick, quick_heads = at_release(config, release)
        assert quick == full_at_release(config, release), (release, heads)
        assert quick_heads == heads


@settings(max_examples=40, deadline=None, derandomize=True)
@given(spec=graphs(), data=st.data())
def test_quick_verdicts_equal_the_full_run_with_depends_on(spec: Spec, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        write_files(root / "migrations", spec)
        store = copy_store("2026.2.15-mixed", root)
        config = load_config(store=str(store), locations=[str(root / "migrations")], env={})
        assert_verdicts_equal(config)  # no ledger yet
        # A few states reached through the full path: upgrades to chosen
        # revisions and releases, then everything.
        steps = data.draw(st.lists(st.sampled_from([*spec, *RELEASES]), max_size=3))
        for step in [*steps, "heads"]:
            if step in RELEASES:
                commands.sync(config, step)
            else:
                commands.upgrade(config, step)
            assert_verdicts_equal(config)


def test_a_depends_on_naming_a_label_is_left_to_the_full_run(tmp_path: Path) -> None:
    spec: Spec = {"a1": ([], [], "2026.1.1"), "b1": ([], ["alpha"], "2026.1.1")}
    write_files(tmp_path / "migrations", spec, labels={"a1": "alpha"})
    store = copy_store("2026.2.15-mixed", tmp_path)
    config = load_config(store=str(store), locations=[str(tmp_path / "migrations")], env={})
    commands.upgrade(config, "heads")
    assert full_at_head(config, "heads") and full_at_release(config, "2026.1.1")
    assert at_head(config, "heads") == (False, ["b1"])
    assert at_release(config, "2026.1.1") == (False, ["b1"])


def test_head_with_several_heads_is_not_vouched_for(tmp_path: Path) -> None:
    # Two heads, both applied: "upgrade head" is refused by the full run (name
    # one), so the quick path must not say "nothing to do"; "heads" is a no-op.
    spec: Spec = {"a1": ([], [], "2026.1.1"), "b1": ([], [], "2026.1.1")}
    write_files(tmp_path / "migrations", spec)
    store = copy_store("2026.2.15-mixed", tmp_path)
    config = load_config(store=str(store), locations=[str(tmp_path / "migrations")], env={})
    commands.upgrade(config, "heads")
    assert at_head(config, "heads") == (True, ["a1", "b1"])
    assert at_head(config, "head") == (False, ["a1", "b1"])
    assert not full_at_head(config, "head")


def test_a_cycle_below_a_head_is_left_to_the_full_run(tmp_path: Path) -> None:
    # b1 <- a1 <- c1 applied, then b1 edited to build on a1: every revision is
    # still reachable from the head c1, yet the files hold a cycle (the full run
    # exits 4); the quick path must not vouch.
    spec: Spec = {"b1": ([], [], "2026.1.1"), "a1": (["b1"], [], "2026.1.1")}
    spec["c1"] = (["a1"], [], "2026.1.1")
    folder = tmp_path / "migrations"
    write_files(folder, spec)
    store = copy_store("2026.2.15-mixed", tmp_path)
    config = load_config(store=str(store), locations=[str(folder)], env={})
    commands.upgrade(config, "heads")
    assert at_head(config, "heads") == (True, ["c1"])
    edited = (
        (folder / "b1.toml").read_text().replace("down_revision = []", 'down_revision = ["a1"]')
    )
    (folder / "b1.toml").write_text(edited)
    assert at_head(config, "heads")[0] is False
    assert not full_at_head(config, "heads")
