"""Findings: devices a release will refuse that no data repair can fix.

From OpenClaw 2026.4.10 a device's effective roles are the approved roles
that hold an active (not revoked) device token (``listEffectivePairedDeviceRoles``;
changelog 4.10: "fail closed for paired device records that have no device
tokens"). A role without one is answered ``role-upgrade``. No scope edit can
mint the token a remote client must present, so scopemigrate never touches
these devices: it names each one and the command that issues the token
(``openclaw devices rotate``, which mints one for any approved role). A
local client reconnecting on loopback heals by itself, since a local
role-upgrade is approved silently from 4.2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from scopemigrate.devices import DeviceState, token_role
from scopemigrate.versions import parse_release, selection_ceiling

# The first release that refuses a role without an active token.
ACTIVE_TOKEN_RELEASE = "2026.4.10"


@dataclass(frozen=True)
class Finding:
    """One device, the roles it will be refused, and what the user must do."""

    device_id: str
    label: str
    # no-token: the record holds no active token at all;
    # role-without-token: some approved roles hold one, these do not.
    kind: Literal["no-token", "role-without-token"]
    roles: list[str]
    since: str
    commands: list[str]

    @property
    def message(self) -> str:
        what = (
            "holds no active device token"
            if self.kind == "no-token"
            else f"holds no active device token for role {', '.join(self.roles)}"
        )
        return (
            f"{self.device_id} ({self.label}) {what}: OpenClaw {self.since}+ refuses it as "
            f"role-upgrade; run {' and '.join(self.commands)}, then give the device the new "
            "token (or pair it again)"
        )


def rotate_command(device_id: str, role: str) -> str:
    return f"openclaw devices rotate --device {device_id} --role {role}"


def device_finding(device: DeviceState) -> Finding | None:
    """The finding for one device, or None when every approved role holds a token."""
    tokens = {role for role in map(token_role, device.fields) if role is not None}
    active = tokens - device.revoked_tokens
    missing = sorted(device.roles - active)
    if not missing:
        return None
    return Finding(
        device_id=device.device_id,
        label=device.label,
        kind="role-without-token" if active & device.roles else "no-token",
        roles=missing,
        since=ACTIVE_TOKEN_RELEASE,
        commands=[rotate_command(device.device_id, role) for role in missing],
    )


def scan(devices: Iterable[DeviceState], release: str | None = None) -> list[Finding]:
    """Every finding of ``devices``; with ``release``, only those that release hits."""
    # A pre-release of 4.10 already carries the check, as it carries revisions.
    ceiling = None if release is None else selection_ceiling(parse_release(release))
    if ceiling is not None and ceiling < parse_release(ACTIVE_TOKEN_RELEASE):
        return []
    return [found for device in devices if (found := device_finding(device)) is not None]


def summary(found: list[Finding]) -> str | None:
    """The hook's one line about them, or None."""
    if not found:
        return None
    return (
        f"scopemigrate: {len(found)} device(s) have a role without an active device token "
        "and will be refused (role-upgrade); no data repair can fix that: "
        "'scopemigrate verify' lists each with its 'openclaw devices rotate' command"
    )
