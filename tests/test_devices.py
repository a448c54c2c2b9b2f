"""The engine's field names: a device token's field and its role, both ways."""

from __future__ import annotations

import pytest

from scopemigrate.devices import APPROVED_SCOPES, SCOPES, token_field, token_role


@pytest.mark.parametrize("role", ["operator", "node", "a.b", "tokens.", ""])
def test_token_role_inverts_token_field(role: str) -> None:
    assert token_role(token_field(role)) == role


@pytest.mark.parametrize("name", [SCOPES, APPROVED_SCOPES, "token.operator", "xtokens.operator"])
def test_device_fields_name_no_token_role(name: str) -> None:
    assert token_role(name) is None
