"""The operation features the OpenClaw chain needs: patterns, role prefixes,
lists added where missing, and the filters that select them; each undone
exactly through its recorded edit."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import run_cli
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from scopemigrate.devices import DeviceState, FieldKind
from scopemigrate.operations import Ensure, Operation, Revoke, remove_matching, undo_edit

NAMES = ["operator.read", "operator.talk.secrets", "node.exec", "node", "operator", "a.b"]
lists = st.one_of(st.none(), st.lists(st.sampled_from(NAMES), max_size=6))
parse = TypeAdapter(Operation).validate_python


def node_device(
    fields: dict[str, list[str] | None], roles: tuple[str, ...] = ("node",)
) -> DeviceState:
    return DeviceState("d" * 64, "n", frozenset(roles), "node-host", "node", dict(fields))


def test_a_pattern_matches_below_its_prefix_only() -> None:
    op = Revoke(role="operator", scopes=("operator.*",))
    assert op.revokes("operator.read") and op.revokes("operator.talk.secrets")
    assert not op.revokes("operator") and not op.revokes("node.exec")


def test_outside_role_keeps_the_roles_own_scopes() -> None:
    op = Revoke(role="node", outside_role=True, lists=("token",))
    value, edit = op.edit("tokens.node", ["node.exec", "operator.admin", "operator.read"])
    assert value == ["node.exec"] and edit is not None
    assert edit.removed == ((1, "operator.admin"), (2, "operator.read"))
    device = node_device({"scopes": ["operator.admin"], "tokens.node": ["operator.admin"]})
    assert list(op.target_fields(device)) == ["tokens.node"]  # never the device's lists


@given(lists, st.sampled_from(list(FieldKind)))
def test_a_revoke_by_pattern_is_undone_exactly(current: list[str] | None, kind: FieldKind) -> None:
    op = Revoke(role="node", scopes=("operator.*", "a.b"), outside_role=True)
    value, edit = remove_matching(current, op.revokes, kind)
    if edit is None:
        assert value is current
        return
    assert not any(op.revokes(s) for s in value or [])
    assert undo_edit(value, edit) == current


def test_ensure_adds_only_missing_lists_and_undo_removes_them() -> None:
    op = Ensure(role="node", unless_roles=("operator",), if_missing=("scopes", "approvedScopes"))
    bare = node_device({"scopes": None, "approvedScopes": None})
    assert op.matches(bare)
    value, edit = op.edit("scopes", None)
    assert value == [] and edit is not None and edit.created
    assert undo_edit(value, edit) is None
    assert op.edit("scopes", []) == ([], None)
    assert not op.matches(node_device({"scopes": [], "approvedScopes": None}))
    assert not op.matches(node_device({"scopes": None}, roles=("node", "operator")))


def test_holding_in_lets_filters_read_approved_scopes() -> None:
    op = parse(
        {
            "kind": "grant",
            "role": "operator",
            "scopes": ["operator.read"],
            "if_any": ["operator.admin"],
            "holding_in": ["scopes", "approvedScopes"],
        }
    )
    device = DeviceState(
        "e" * 64,
        "x",
        frozenset({"operator"}),
        None,
        None,
        {"scopes": None, "approvedScopes": ["operator.admin"]},
    )
    assert op.matches(device)
    narrow = parse(
        {
            "kind": "grant",
            "role": "operator",
            "scopes": ["operator.read"],
            "if_any": ["operator.admin"],
        }
    )
    assert not narrow.matches(device)


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"kind": "revoke", "role": "node"}, "needs scopes"),
        ({"kind": "revoke", "role": "node", "scopes": ["operator*"]}, "not well formed"),
        ({"kind": "revoke", "role": "node", "scopes": ["*"]}, "not well formed"),
        ({"kind": "ensure", "role": "node", "lists": ["token"]}, "device lists only"),
        ({"kind": "ensure", "role": "node", "lists": []}, "names no list"),
        (
            {"kind": "grant", "role": "node", "scopes": ["a.b"], "lists": ["scopes", "scopes"]},
            "names a list twice",
        ),
        (
            {"kind": "grant", "role": "node", "scopes": ["a.b"], "unless_roles": ["node"]},
            "could never apply",
        ),
        (
            {"kind": "grant", "role": "node", "scopes": ["a.b"], "holding_in": ["tokens"]},
            "holding_in",
        ),
        ({"kind": "ensure", "role": "node", "if_missing": ["token"]}, "if_missing"),
    ],
)
def test_bad_operations_are_refused_with_the_field_named(document: dict, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(document)
    assert says in str(caught.value)


def test_revision_authors_the_new_kinds_from_the_command_line(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    at = ("--migrations", str(folder))
    first = run_cli(
        "revision",
        "-m",
        "strip",
        "--release",
        "2026.4.5",
        "--revoke-outside-role",
        "node",
        "--lists",
        "token",
        *at,
    )
    assert first.returncode == 0, first.stderr
    second = run_cli(
        "revision",
        "-m",
        "lists",
        "--release",
        "2026.4.6",
        "--ensure",
        "node:scopes,approvedScopes",
        "--unless-role",
        "operator",
        "--if-missing",
        "scopes",
        "--if-missing",
        "approvedScopes",
        *at,
    )
    assert second.returncode == 0, second.stderr
    third = run_cli(
        "revision",
        "-m",
        "admins",
        "--release",
        "2026.4.7",
        "--grant",
        "operator:operator.read",
        "--if-any",
        "operator.admin",
        "--holding-in",
        "scopes",
        "--holding-in",
        "approvedScopes",
        "--revoke",
        "node:operator.*",
        *at,
    )
    assert third.returncode == 0, third.stderr
    operations = [
        op
        for path in sorted(folder.glob("*.toml"))
        for op in tomllib.loads(path.read_text())["operations"]
    ]
    assert operations == [
        {"kind": "revoke", "role": "node", "lists": ["token"], "outside_role": True},
        {
            "kind": "ensure",
            "role": "node",
            "unless_roles": ["operator"],
            "if_missing": ["scopes", "approvedScopes"],
        },
        {
            "kind": "grant",
            "role": "operator",
            "if_any": ["operator.admin"],
            "holding_in": ["scopes", "approvedScopes"],
            "scopes": ["operator.read"],
        },
        {
            "kind": "revoke",
            "role": "node",
            "if_any": ["operator.admin"],
            "holding_in": ["scopes", "approvedScopes"],
            "scopes": ["operator.*"],
        },
    ]
    assert run_cli("check", *at).returncode == 0
    bad = run_cli("revision", "-m", "bad", "--release", "2026.4.8", "--ensure", "node:token", *at)
    assert bad.returncode != 0 and "device lists only" in bad.stderr
    assert len(list(folder.glob("*.toml"))) == 3
