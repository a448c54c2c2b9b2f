"""Grant, revoke and rename: what each edit does to one scope list, and its exact undo."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from scopemigrate.devices import DeviceState, FieldKind
from scopemigrate.operations import (
    FieldEdit,
    Grant,
    Rename,
    Revoke,
    add_scopes,
    remove_scopes,
    rename_scope,
    undo_edit,
)

SCOPE_NAMES = ["operator.read", "operator.write", "operator.admin", "node.exec", "a.b"]
scope_lists = st.one_of(st.none(), st.lists(st.sampled_from(SCOPE_NAMES), max_size=6))
scope_tuples = st.lists(st.sampled_from(SCOPE_NAMES), min_size=1, max_size=3).map(tuple)
kinds = st.sampled_from(list(FieldKind))


def device(scopes: list[str] | None, roles: tuple[str, ...] = ("operator",)) -> DeviceState:
    fields: dict[str, list[str] | None] = {"tokens.operator": sorted(scopes or [])}
    if scopes is not None:
        fields["scopes"] = scopes
    return DeviceState(
        device_id="d" * 64,
        label="cli",
        roles=frozenset(roles),
        client_id="cli",
        client_mode="cli",
        fields=fields,
    )


def test_grant_appends_to_device_lists_and_sorts_into_token_lists() -> None:
    value, edit = add_scopes(["b.z", "a.y"], ("a.x",), FieldKind.DEVICE)
    assert value == ["b.z", "a.y", "a.x"]
    assert edit == FieldEdit(added=("a.x",))
    value, edit = add_scopes(["a.y", "b.z"], ("a.x",), FieldKind.TOKEN)
    assert value == ["a.x", "a.y", "b.z"]


def test_grant_of_held_scope_records_nothing() -> None:
    current = ["operator.read"]
    value, edit = add_scopes(current, ("operator.read",), FieldKind.DEVICE)
    assert value is current and edit is None


def test_grant_to_absent_key_creates_it_and_undo_removes_the_key() -> None:
    value, edit = add_scopes(None, ("operator.read",), FieldKind.DEVICE)
    assert value == ["operator.read"] and edit is not None and edit.created
    assert undo_edit(value, edit) is None


def test_revoke_of_last_device_scope_drops_the_key_but_keeps_an_empty_token_list() -> None:
    value, edit = remove_scopes(["a.b"], ("a.b",), FieldKind.DEVICE)
    assert value is None and edit is not None and edit.dropped
    assert undo_edit(value, edit) == ["a.b"]
    value, edit = remove_scopes(["a.b"], ("a.b",), FieldKind.TOKEN)
    assert value == [] and edit is not None and not edit.dropped


def test_revoke_undo_puts_scopes_back_at_their_places() -> None:
    original = ["a.b", "operator.read", "node.exec", "operator.read"]
    value, edit = remove_scopes(original, ("operator.read",), FieldKind.DEVICE)
    assert value == ["a.b", "node.exec"]
    assert edit is not None and undo_edit(value, edit) == original


def test_rename_keeps_position_and_merges_into_an_existing_scope() -> None:
    value, edit = rename_scope(["x.a", "old.s", "x.b"], "old.s", "new.s", FieldKind.DEVICE)
    assert value == ["x.a", "new.s", "x.b"]
    assert edit is not None and undo_edit(value, edit) == ["x.a", "old.s", "x.b"]
    value, edit = rename_scope(["old.s", "new.s"], "old.s", "new.s", FieldKind.DEVICE)
    assert value == ["new.s"] and edit is not None and edit.added == ()
    # new.s was there before: the undo must not remove it.
    assert undo_edit(value, edit) == ["old.s", "new.s"]


def test_undo_leaves_scopes_granted_since_by_someone_else() -> None:
    value, edit = add_scopes(["a.b"], ("operator.read",), FieldKind.DEVICE)
    assert edit is not None
    later = [*value, "operator.talk"]  # the gateway granted a scope since
    assert undo_edit(later, edit) == ["a.b", "operator.talk"]
    value, edit = remove_scopes(["a.b", "c.d"], ("c.d",), FieldKind.DEVICE)
    assert edit is not None
    regranted = [*(value or []), "c.d"]  # granted again by hand since
    assert undo_edit(regranted, edit) == ["a.b", "c.d"]  # not doubled


@given(current=scope_lists, scopes=scope_tuples, kind=kinds)
def test_grant_then_undo_is_identity(
    current: list[str] | None, scopes: tuple[str, ...], kind: FieldKind
) -> None:
    value, edit = add_scopes(current, scopes, kind)
    assert set(scopes) <= set(value or [])
    assert (value if edit is None else undo_edit(value, edit)) == current


@given(current=scope_lists, scopes=scope_tuples, kind=kinds)
def test_revoke_then_undo_is_identity(
    current: list[str] | None, scopes: tuple[str, ...], kind: FieldKind
) -> None:
    value, edit = remove_scopes(current, scopes, kind)
    assert not set(scopes) & set(value or [])
    assert (value if edit is None else undo_edit(value, edit)) == current


@given(
    current=scope_lists,
    names=st.lists(st.sampled_from(SCOPE_NAMES), min_size=2, max_size=2, unique=True),
    kind=kinds,
)
def test_rename_then_undo_is_identity(
    current: list[str] | None, names: list[str], kind: FieldKind
) -> None:
    old, new = names
    value, edit = rename_scope(current, old, new, kind)
    if edit is not None:
        assert old not in (value or []) and new in (value or [])
    assert (value if edit is None else undo_edit(value, edit)) == current


def test_filters_select_by_role_held_scopes_and_client() -> None:
    admin = device(["operator.admin"])
    probe = device(["operator.read"])
    node = device(None, roles=("node",))
    grant = Grant(role="operator", scopes=("operator.write",), if_any=("operator.admin",))
    assert grant.matches(admin) and not grant.matches(probe) and not grant.matches(node)
    assert Grant(role="operator", scopes=("a.b",), if_none=("operator.admin",)).matches(probe)
    assert not Grant(role="operator", scopes=("a.b",), if_all=("operator.admin", "x.y")).matches(
        admin
    )
    assert not Grant(role="operator", scopes=("a.b",), client_ids=("openclaw-macos",)).matches(
        admin
    )
    assert Grant(role="operator", scopes=("a.b",), client_modes=("cli",)).matches(admin)


def test_target_fields_skip_absent_approved_scopes_and_other_roles_tokens() -> None:
    grant = Grant(role="operator", scopes=("a.b",))
    assert list(grant.target_fields(device(["x.y"]))) == ["scopes", "tokens.operator"]
    with_ceiling = device(["x.y"])
    with_ceiling.fields["approvedScopes"] = ["x.y"]
    assert "approvedScopes" in list(grant.target_fields(with_ceiling))
    assert list(Grant(role="node", scopes=("a.b",)).target_fields(device(["x.y"]))) == ["scopes"]


@pytest.mark.parametrize(
    ("model", "data", "fragment"),
    [
        (Grant, {"role": "operator", "scopes": ["Operator Read"]}, "not well formed"),
        (Grant, {"role": "operator", "scopes": []}, "at least 1"),
        (Grant, {"role": "Oper ator", "scopes": ["a.b"]}, "role"),
        (Revoke, {"role": "operator", "scopes": ["a.b"], "if_any": ["!"]}, "not well formed"),
        (Rename, {"role": "operator", "old": "a.b", "new": "a.b"}, "to itself"),
        (Grant, {"role": "operator", "scopes": ["a.b"], "unknown": 1}, "Extra inputs"),
    ],
)
def test_malformed_operations_are_refused(model: type, data: dict, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        model(**data)
