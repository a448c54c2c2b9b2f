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
from collections.abc import Callable, Iterator
from typing import Annotated, Literal, get_args

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
# A revoke may name every scope under a prefix: ``operator.*`` matches
# ``operator.read`` and ``operator.talk.secrets``, never ``operator`` itself.
WILDCARD = ".*"

# The scope lists of a record an operation can be told to look at or edit:
# the device's two lists, and the token of the operation's role.
DeviceList = Literal["scopes", "approvedScopes"]
ListName = Literal["scopes", "approvedScopes", "token"]
ALL_LISTS: tuple[ListName, ...] = get_args(ListName)


def check_scope_name(name: str) -> str:
    if not SCOPE_PATTERN.match(name):
        raise ValueError(
            f"scope {name!r} is not well formed (lowercase words joined by dots, "
            "such as operator.read)"
        )
    return name


def check_scope_pattern(name: str) -> str:
    """A scope name, or a prefix pattern such as ``operator.*``."""
    if name.endswith(WILDCARD) and SCOPE_PATTERN.match(name[: -len(WILDCARD)]):
        return name
    if "*" in name:
        raise ValueError(
            f"scope pattern {name!r} is not well formed (a prefix followed by .*, "
            "such as operator.*)"
        )
    return check_scope_name(name)


def _distinct_lists(value: tuple[str, ...], label: str) -> None:
    if len(set(value)) != len(value):
        raise ValueError(f"{label} names a list twice")


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
    # The device lists the three filters above look in. OpenClaw from 2.21
    # keeps what was approved in approvedScopes, which can hold a scope the
    # granted list lacks.
    holding_in: tuple[DeviceList, ...] = ("scopes",)
    # Devices that also hold one of these roles are left alone.
    unless_roles: tuple[str, ...] = ()
    # Only devices whose record has none of these keys (absent, not empty).
    if_missing: tuple[DeviceList, ...] = ()
    client_ids: tuple[str, ...] = ()
    client_modes: tuple[str, ...] = ()
    # The lists this operation edits; see ``target_fields``.
    lists: tuple[ListName, ...] = ALL_LISTS

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        return _check_role(value)

    @field_validator("unless_roles")
    @classmethod
    def _roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_role(r) for r in value)

    @field_validator("if_any", "if_all", "if_none")
    @classmethod
    def _scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_scope_name(s) for s in value)

    @field_validator("holding_in", "lists")
    @classmethod
    def _some_lists(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("names no list; leave it out for the default")
        _distinct_lists(value, "it")
        return value

    @field_validator("if_missing")
    @classmethod
    def _missing(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _distinct_lists(value, "it")
        return value

    @model_validator(mode="after")
    def _roles_consistent(self) -> _Operation:
        if self.role in self.unless_roles:
            raise ValueError(
                f"unless_roles names the operation's own role {self.role!r}: it could never apply"
            )
        return self

    def could_match(
        self, roles: frozenset[str], client_id: str | None, client_mode: str | None
    ) -> bool:
        """Whether devices of this kind can match, whatever scopes they hold."""
        return (
            self.role in roles
            and roles.isdisjoint(self.unless_roles)
            and (not self.client_ids or client_id in self.client_ids)
            and (not self.client_modes or client_mode in self.client_modes)
        )

    def matches(self, device: DeviceState) -> bool:
        """Whether this operation applies to ``device`` as it stands now."""
        if not self.could_match(device.roles, device.client_id, device.client_mode):
            return False
        if any(device.fields.get(name) is not None for name in self.if_missing):
            return False
        held: set[str] = set()
        for name in self.holding_in:
            held.update(device.fields.get(name) or ())
        if self.if_any and held.isdisjoint(self.if_any):
            return False
        if self.if_all and not held.issuperset(self.if_all):
            return False
        return not (self.if_none and not held.isdisjoint(self.if_none))

    def target_fields(self, device: DeviceState) -> Iterator[str]:
        """The scope lists this operation edits on a matching device, of ``lists``.

        ``scopes`` always (an absent key is an empty list); ``approvedScopes``
        only where the record keeps one; the role's token only where it exists.
        """
        if SCOPES in self.lists:
            yield SCOPES
        if APPROVED_SCOPES in self.lists and device.fields.get(APPROVED_SCOPES) is not None:
            yield APPROVED_SCOPES
        token = token_field(self.role)
        if "token" in self.lists and token in device.fields:
            yield token

    def describe(self) -> str:
        parts = [f"role {self.role}"]
        for label, values in (
            ("holding none of the roles", self.unless_roles),
            (f"holding any of ({' or '.join(self.holding_in)})", self.if_any),
            (f"holding all of ({' or '.join(self.holding_in)})", self.if_all),
            (f"holding none of ({' or '.join(self.holding_in)})", self.if_none),
            ("without the keys", self.if_missing),
            ("client id", self.client_ids),
            ("client mode", self.client_modes),
        ):
            if values:
                parts.append(f"{label} {', '.join(values)}")
        if self.lists != ALL_LISTS:
            parts.append(f"editing {', '.join(self.lists)}")
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
    """Remove scopes from matching devices.

    ``scopes`` names scopes or prefix patterns (``operator.*``);
    ``outside_role`` also removes every scope that does not carry the role's
    own prefix (for role ``node``: everything but ``node.*``). The edit
    records the concrete scopes it removed, so a downgrade puts back exactly
    those, where they were, whatever the patterns matched.
    """

    kind: Literal["revoke"] = "revoke"
    scopes: tuple[str, ...] = ()
    outside_role: bool = False

    @field_validator("scopes")
    @classmethod
    def _revoked(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_scope_pattern(s) for s in value)

    @model_validator(mode="after")
    def _revokes_something(self) -> Revoke:
        if not self.scopes and not self.outside_role:
            raise ValueError(
                "a revoke needs scopes (names or patterns such as operator.*) "
                "or outside_role = true"
            )
        return self

    @property
    def exact(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes if not s.endswith(WILDCARD))

    @property
    def prefixes(self) -> tuple[str, ...]:
        """``operator.*`` as ``operator.``: what a matching scope starts with."""
        return tuple(s[:-1] for s in self.scopes if s.endswith(WILDCARD))

    @property
    def kept_prefix(self) -> str | None:
        """With ``outside_role``, the prefix a scope must carry to stay."""
        return f"{self.role}." if self.outside_role else None

    def revokes(self, scope: str) -> bool:
        kept = self.kept_prefix
        return (
            scope in self.exact
            or scope.startswith(self.prefixes)
            or (kept is not None and not scope.startswith(kept))
        )

    def edit(self, name: str, current: ScopeList) -> tuple[ScopeList, FieldEdit | None]:
        return remove_matching(current, self.revokes, field_kind(name))


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


class Ensure(_Operation):
    """Add device lists that are missing, as empty lists; downgrade removes them again.

    It grants nothing. It exists for records a release reads differently when
    a key is absent than when it holds ``[]`` (OpenClaw from 3.12 fails closed
    on a device with neither ``scopes`` nor ``approvedScopes``). A list the
    record already has, empty or not, is left as it is.
    """

    kind: Literal["ensure"] = "ensure"
    lists: tuple[ListName, ...] = ("scopes", "approvedScopes")

    @field_validator("lists")
    @classmethod
    def _device_lists(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "token" in value:
            raise ValueError("an ensure adds device lists only (scopes, approvedScopes)")
        return value

    def target_fields(self, device: DeviceState) -> Iterator[str]:
        yield from self.lists

    def edit(self, name: str, current: ScopeList) -> tuple[ScopeList, FieldEdit | None]:
        if current is not None:
            return current, None
        return [], field_edit(created=True)


Operation = Annotated[Grant | Revoke | Rename | Ensure, Field(discriminator="kind")]
OPERATION_KINDS = ("grant", "revoke", "rename", "ensure")


def _check_role(value: str) -> str:
    if not ROLE_PATTERN.match(value):
        raise ValueError(f"role {value!r} is not well formed (such as operator or node)")
    return value


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
    return remove_matching(current, scopes.__contains__, kind)


def remove_matching(
    current: ScopeList, revoked: Callable[[str], bool], kind: FieldKind
) -> tuple[ScopeList, FieldEdit | None]:
    """Remove every scope ``revoked`` says yes to, recording where each one was."""
    if not current:
        return current, None
    removed = tuple((i, s) for i, s in enumerate(current) if revoked(s))
    if not removed:
        return current, None
    result = [s for s in current if not revoked(s)]
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
