"""The engine's view of a device, independent of any store format.

A store adapter turns its records into ``DeviceState`` objects and turns the
engine's ``ChangeSet`` back into its own format. Scope lists are addressed by
abstract field names, so the engine never learns how a store lays them out:

* ``scopes``: the device's granted scopes, kept in insertion order;
* ``approvedScopes``: the approved ceiling, only where the record has one;
* ``tokens.<role>``: the scopes of the device token for ``<role>``, kept sorted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

SCOPES = "scopes"
APPROVED_SCOPES = "approvedScopes"
TOKEN_PREFIX = "tokens."


def token_field(role: str) -> str:
    """The abstract field name of the scopes of a role's device token."""
    return TOKEN_PREFIX + role


def token_role(name: str) -> str | None:
    """The role whose device token ``name`` is the scopes of (``token_field``'s
    inverse); None for a device-level field."""
    return name[len(TOKEN_PREFIX) :] if name.startswith(TOKEN_PREFIX) else None


class FieldKind(Enum):
    """How a scope list is ordered and what an empty list looks like."""

    DEVICE = "device"  # insertion order; OpenClaw writes an empty list as an absent key
    TOKEN = "token"  # sorted; OpenClaw writes an empty list as []


def field_kind(name: str) -> FieldKind:
    return FieldKind.TOKEN if name.startswith(TOKEN_PREFIX) else FieldKind.DEVICE


def revoked_roles(tokens: dict[str, Any]) -> frozenset[str]:
    """The roles of a record's ``tokens`` object whose token carries ``revokedAtMs``."""
    return frozenset(
        role
        for role, token in tokens.items()
        if isinstance(token, dict) and token.get("revokedAtMs") is not None
    )


# A scope list as read from a store; None means the key is absent.
ScopeList = list[str] | None


# Slotted: a store holds one per device (100,000 of them is a tenth of the
# file's size in per-instance dicts: docs/performance.md).
@dataclass(slots=True)
class DeviceState:
    """A mutable working copy of one device's scope lists, as the engine sees it.

    ``fields`` is the device's own dict, but its lists may be shared with other
    devices (a reader shares the lists of devices holding the same): a field
    is set by replacing its list, never by editing the list in place.
    """

    device_id: str
    label: str
    roles: frozenset[str]
    client_id: str | None = None
    client_mode: str | None = None
    fields: dict[str, ScopeList] = field(default_factory=dict)
    # Roles whose device token is revoked (``revokedAtMs`` set): no operation
    # edits them differently, but OpenClaw from 4.10 counts such a role as
    # not approved (see findings.py).
    revoked_tokens: frozenset[str] = frozenset()

    def scopes(self) -> list[str]:
        """The device's granted scopes (empty when the key is absent)."""
        return list(self.fields.get(SCOPES) or [])


@dataclass(frozen=True)
class PendingRequest:
    """A pairing request waiting for approval; ``raw`` is the adapter's own record."""

    request_id: str
    device_id: str
    roles: frozenset[str]
    scopes: tuple[str, ...]
    is_repair: bool
    raw: dict[str, Any]


@dataclass
class ChangeSet:
    """What one run writes: final values of the changed fields, and pending edits."""

    devices: dict[str, dict[str, ScopeList]] = field(default_factory=dict)
    pending_removed: list[str] = field(default_factory=list)
    # (original index, raw record): requests a downgrade puts back where they were.
    pending_restored: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.devices or self.pending_removed or self.pending_restored)


@dataclass(frozen=True)
class DevicePlan:
    """The net effect of a run on one device, for plans and reports (no secrets)."""

    device_id: str
    label: str
    added: dict[str, list[str]]
    removed: dict[str, list[str]]
    # Lists that appeared or went away empty: a change no scope shows.
    emptied: list[str] = field(default_factory=list)  # [] -> absent
    created: list[str] = field(default_factory=list)  # absent -> []


def net_plan(device: DeviceState, before: dict[str, ScopeList]) -> DevicePlan | None:
    """The net change of ``device`` against its fields ``before``, or None when unchanged."""
    added: dict[str, list[str]] = {}
    removed: dict[str, list[str]] = {}
    changed: dict[str, ScopeList] = {}
    for name, value in device.fields.items():
        old = before.get(name)
        if value == old:
            continue
        changed[name] = value
        old_set, new_set = set(old or []), set(value or [])
        plus = [s for s in (value or []) if s not in old_set]
        minus = [s for s in (old or []) if s not in new_set]
        if plus:
            added[name] = plus
        if minus:
            removed[name] = minus
    if not changed:
        return None
    created = [name for name, value in changed.items() if value == [] and before.get(name) is None]
    emptied = [name for name, value in changed.items() if value is None and before.get(name) == []]
    return DevicePlan(device.device_id, device.label, added, removed, emptied, created)
