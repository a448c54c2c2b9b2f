"""M2 and M3 against each release's own shipped ``verifyDeviceToken``.

Neither record can be produced by a real client on loopback here (a node
token that inherited operator scopes was minted by 2.22-4.2 on approval; a
node record without scope lists by approvals up to 3.28), so the records
are fixtures in the shape the approve code writes (HISTORY.md section 5),
checked before and after the repair by the release's own function: 4.5 and
7.1 on the JSON store, 8.1 after its own import into SQLite, and 2.22 as
the control where both records still pass.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from harness import Home, Releases, report, scopemigrate

FIXTURE = Path(__file__).parents[1] / "fixtures" / "openclaw-chain" / "2026.3.24-node-records"
INHERIT = "f72927640cfe424c1d69eac58dc5975d59e576d927e50e20e5c33ce995e58ab1"  # M2
NODE_ONLY = "9856b56df29dc46c63258fe0d801402b72bcb51692d887c286650e0a925f2b9d"  # M3
BROKEN = {
    "2026.2.22": set(),
    "2026.4.5": {INHERIT, NODE_ONLY},
    "2026.7.1": {INHERIT, NODE_ONLY},
    "2026.8.1": {INHERIT, NODE_ONLY},
}
SQLITE = {"2026.8.1"}


def checks(home: Home, version: str, tokens: dict[str, str]) -> dict[str, str | None]:
    """Each device's refusal reason (None: accepted) for a node device-token connect."""
    found: dict[str, str | None] = {}
    for device_id, token in tokens.items():
        answer = home.shipped(version, "verify-token", str(home.state), device_id, "node", token)
        assert "error" not in answer, answer
        found[device_id] = None if answer["ok"] else str(answer["reason"])
    return found


@pytest.mark.parametrize("version", list(BROKEN))
def test_node_records_pass_the_shipped_check_after_the_repair(
    version: str, releases: Releases, tmp_path: Path
) -> None:
    home = Home(tmp_path / "home", releases)
    shutil.copytree(FIXTURE / "devices", home.state / "devices")
    paired = json.loads((FIXTURE / "devices" / "paired.json").read_text())
    tokens = {device_id: paired[device_id]["tokens"]["node"]["token"] for device_id in paired}
    if version in SQLITE:
        imported = home.shipped(version, "import-legacy", str(home.state))
        assert imported["ok"], imported
        assert (home.state / "devices" / "paired.json.migrated").exists()
    retired = {p.name: p.read_bytes() for p in (home.state / "devices").glob("*.migrated")}

    before = checks(home, version, tokens)
    assert {d for d, reason in before.items() if reason} == BROKEN[version], before
    up = scopemigrate("upgrade", "head", "--store", str(home.state))
    assert up.returncode == 0, up.stderr
    after = checks(home, version, tokens)
    assert not any(after.values()), after
    down = scopemigrate("downgrade", "base", "--store", str(home.state))
    assert down.returncode == 0, down.stderr
    assert checks(home, version, tokens) == before  # the exact inverse
    assert {p.name: p.read_bytes() for p in (home.state / "devices").glob("*.migrated")} == retired

    names = {INHERIT: "node token with operator scopes (M2)", NODE_ONLY: "node-only, no lists (M3)"}
    store = "SQLite after its own import" if version in SQLITE else "paired.json"
    report(
        f"verifyDeviceToken {version} ({store}): before: "
        + "; ".join(f"{names[d]}: {before[d] or 'ok'}" for d in names)
        + "; after upgrade head: both ok; after downgrade base: as before"
    )
