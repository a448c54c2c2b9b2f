"""Operations: declarative scope changes, and the list edits that apply and undo them.

Operations are data. Each one selects devices with a filter and edits the
scope lists of one role. Every edit it makes is recorded as a ``FieldEdit``,
which is exactly enough to undo it later (provenance): downgrades remove
what a revision added and put back what it removed, nothing more.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scopemigrate.devices import (
    APPROVED_SCOPES,
    SCOPES,
    DeviceState,
    FieldKind,
    ScopeList,
    field_kind,
    token_field,
)

SCOPE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$")
ROLE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")


def check_scope_name(name: str) -> str:
    if not SCOPE_PATTERN.match(name):
        raise ValueError(
            f"scope {name!r} is not well formed (lowercase words joined by dots, "
            "such as operator.read)"
        )
    return name


class FieldEdit(BaseModel):
    """What one operation did to one scope list of one device."""

    model_config = ConfigDict(frozen=True)

    added: tuple[str, ...] = ()
    # (index before removal, scope), so an undo puts each scope back where it was.
    removed: tuple[tuple[int, str], ...] = ()
    created: bool = False  # the key was absent and the edit created it
    dropped: bool = False  # the list became empty and the key was removed


@functools.lru_cache(maxsize=4096)
def field_edit(
    added: tuple[str, ...] = (),
    removed: tuple[tuple[int, str], ...] = (),
    created: bool = False,
    dropped: bool = False,
) -> FieldEdit:
    """A ``FieldEdit``, shared: a run makes the same few edits to most devices,
    and building a validated model per device costs more than the edit."""
    return FieldEdit(added=added, removed=removed, created=created, dropped=dropped)


class _Operation(BaseModel):
    """Fields every operation shares: the role it edits and which devices it selects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str
    if_any: tuple[str, ...] = ()
    if_all: tuple[str, ...] = ()
    if_none: tuple[str, ...] = ()
    client_ids: tuple[str, ...] = ()
    client_modes: tuple[str, ...] = ()

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if not ROLE_PATTERN.match(value):
            raise ValueError(f"role {value!r} is not well formed (such as operator or node)")
        return value

    @field_validator("if_any", "if_all", "if_none")
    @classmethod
    def _scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_scope_name(s) for s in value)

    def could_match(
        self, roles: frozenset[str], client_id: str | None, client_mode: str | None
    ) -> bool:
        """Whether devices of this kind can match, whatever scopes they hold."""
        return (
            self.role in roles
            and (not self.client_ids or client_id in self.client_ids)
            and (not self.client_modes or client_mode in self.client_modes)
        )

    def matches(self, device: DeviceState) -> bool:
        """Whether this operation applies to ``device`` as it stands now."""
        if self.role not in device.roles:
            return False
        if self.client_ids and device.client_id not in self.client_ids:
            return False
        if self.client_modes and device.client_mode not in self.client_modes:
            return False
        held = set(device.scopes())
        if self.if_any and held.isdisjoint(self.if_any):
            return False
        if self.if_all and not held.issuperset(self.if_all):
            return False
        return not (self.if_none and not held.isdisjoint(self.if_none))

    def target_fields(self, device: DeviceState) -> Iterator[str]:
        """The scope lists this operation edits on a matching device.

        ``scopes`` always (an absent key is an empty list); ``approvedScopes``
        only where the record keeps one; the role's token only where it exists.
        """
        yield SCOPES
        if device.fields.get(APPROVED_SCOPES) is not None:
            yield APPROVED_SCOPES
        token = token_field(self.role)
        if token in device.fields:
            yield token

    def describe(self) -> str:
        parts = [f"role {self.role}"]
        for label, values in (
            ("holding any of", self.if_any),
            ("holding all of", self.if_all),
            ("holding none of", self.if_none),
            ("client id", self.client_ids),
            ("client mode", self.client_modes),
        ):
            if values:
                parts.append(f"{label} {', '.join(values)}")
        return "; ".join(parts)


class Grant(_Operation):
    """Add scopes to matching devices."""

    kind: Literal["grant"] = "grant"
    scopes: tuple[str, ...] = Field(min_length=1)

    @field_validator("scopes")
    @classmethod
    def _granted(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_scope_name(s) for s in value)

    def edit(self, name: str, current: ScopeList) -> tuple[ScopeList, FieldEdit | None]:
        return add_scopes(current, self.scopes, field_kind(name))


class Revoke(_Operation):
    """Remove scopes from matching devices."""

    kind: Literal["revoke"] = "revoke"
    scopes: tuple[str, ...] = Field(min_length=1)

    @field_validator("scopes")
    @classmethod
    def _revoked(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_scope_name(s) for s in value)

    def edit(self, name: str, current: ScopeList) -> tuple[ScopeList, FieldEdit | None]:
        return remove_scopes(current, self.scopes, field_kind(name))


class Rename(_Operation):
    """Replace one scope by another, in place, on matching devices."""

    kind: Literal["rename"] = "rename"
    old: str
    new: str

    @field_validator("old", "new")
    @classmethod
    def _names(cls, value: str) -> str:
        return check_scope_name(value)

    @model_validator(mode="after")
    def _distinct(self) -> Rename:
        if self.old == self.new:
            raise ValueError(f"rename of {self.old!r} to itself changes nothing; remove it")
        return self

    def edit(self, name: str, current: ScopeList) -> tuple[ScopeList, FieldEdit | None]:
        return rename_scope(current, self.old, self.new, field_kind(name))


Operation = Annotated[Grant | Revoke | Rename, Field(discriminator="kind")]
OPERATION_KINDS = ("grant", "revoke", "rename")


def _insert(scopes: list[str], scope: str, kind: FieldKind) -> None:
    if kind is FieldKind.TOKEN:
        # Sorted position: keeps OpenClaw's sorted token lists sorted, and an
        # undo that removes the scope gives back the list exactly as it was.
        bisect.insort(scopes, scope)
    else:
        scopes.append(scope)


def add_scopes(
    current: ScopeList, scopes: tuple[str, ...], kind: FieldKind
) -> tuple[ScopeList, FieldEdit | None]:
    result = list(current or [])
    added: list[str] = []
    for scope in scopes:
        if scope not in result:
            _insert(result, scope, kind)
            added.append(scope)
    if not added:
        return current, None
    return result, field_edit(tuple(added), (), current is None)


def remove_scopes(
    current: ScopeList, scopes: tuple[str, ...], kind: FieldKind
) -> tuple[ScopeList, FieldEdit | None]:
    if not current:
        return current, None
    removed = tuple((i, s) for i, s in enumerate(current) if s in scopes)
    if not removed:
        return current, None
    result = [s for s in current if s not in scopes]
    if not result and kind is FieldKind.DEVICE:
        return None, field_edit((), removed, False, True)
    return result, field_edit((), removed)


def rename_scope(
    current: ScopeList, old: str, new: str, kind: FieldKind
) -> tuple[ScopeList, FieldEdit | None]:
    if not current or old not in current:
        return current, None
    index = current.index(old)
    removed = tuple((i, s) for i, s in enumerate(current) if s == old)
    result = [s for s in current if s != old]
    added: tuple[str, ...] = ()
    if new not in result:
        added = (new,)
        if kind is FieldKind.TOKEN:
            bisect.insort(result, new)
        else:
            result.insert(index, new)
    return result, field_edit(added, removed)


def undo_edit(current: ScopeList, edit: FieldEdit) -> ScopeList:
    """Reverse one ``FieldEdit``: drop what it added, put back what it removed.

    Scopes that were present before the edit, or granted since by someone
    else, are never touched.
    """
    result = [s for s in (current or []) if s not in edit.added]
    # Count copies so that a list that held a scope twice gets both back, while
    # a scope re-granted since the edit is not doubled.
    wanted = {scope: sum(1 for _, s in edit.removed if s == scope) for _, scope in edit.removed}
    for index, scope in sorted(edit.removed):
        if result.count(scope) < wanted[scope]:
            result.insert(min(index, len(result)), scope)
    if edit.created and not result:
        return None
    if current is None and not edit.dropped and not result:
        return None
    return result
