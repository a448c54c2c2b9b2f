"""The shipped OpenClaw chain, over fixtures of both store generations.

Each migration is checked on the records it exists for and on the guard
records it must leave alone; the hook, given each release's version, must
bring a store paired on 2.17 to exactly what that release needs, and back.
The real-gateway proof of the same is tests/realgw (``nox -s openclaw``).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, copy_store, load_json, run_cli, token_values
from sqlstores import SQLITE_SCHEMA, load_postgres, make_sqlite, view

CHAIN_FIXTURES = FIXTURES.parent / "openclaw-chain"
M1, M1_REVISED, M3, M2, D1 = (
    "4f2c19a0b7e1",
    "a1d7e5c39b20",
    "c3b9f1d2e6a4",
    "d4e8a2f7b1c5",
    "e5f1c8a3d2b7",
)
READ_WRITE = {"operator.read", "operator.write"}
# The 2.15-mixed fixture's devices by role in the story.
CLI = "31a26516362262a5cc9331078bce2e53ad724023e222894ff9fb96f18db4d223"
NODE = "8ae84a3bb8d6b65c7b4b5543c9d2dad765e24dc443e82086aa069ee87470b92b"
READ_ONLY = "ba9c736f"
MAC = "2356a4656ddb9cac48519b43a22761f9b9bddf2e5534d67413e08e4de4d903eb"
# tests/fixtures/openclaw-chain/2026.3.24-node-records
INHERIT = "f72927640cfe424c1d69eac58dc5975d59e576d927e50e20e5c33ce995e58ab1"
NODE_ONLY = "9856b56df29dc46c63258fe0d801402b72bcb51692d887c286650e0a925f2b9d"
OPERATOR_SCOPES = [
    "operator.admin",
    "operator.read",
    "operator.write",
    "operator.approvals",
    "operator.pairing",
]


def paired(state: Path) -> dict[str, Any]:
    data: dict[str, Any] = load_json(state / "devices" / "paired.json")
    return data


def device(state: Path, prefix: str) -> dict[str, Any]:
    (found,) = [record for key, record in paired(state).items() if key.startswith(prefix)]
    return found


def store_with_every_case(tmp_path: Path) -> Path:
    """The 2.15-mixed devices, the CLI record a real 2.17 gateway wrote, and the
    two node records of 2.22-3.28: one store that each shipped migration changes."""
    state = copy_store("2026.2.15-mixed", tmp_path)
    records = paired(state)
    records.update(load_json(FIXTURES / "2026.2.17-real" / "devices" / "paired.json"))
    records.update(load_json(CHAIN_FIXTURES / "2026.3.24-node-records" / "devices" / "paired.json"))
    (state / "devices" / "paired.json").write_text(
        json.dumps(records, indent=2, ensure_ascii=False)
    )
    return state


def test_the_chain_is_ordered_by_release_and_checks_clean() -> None:
    history = run_cli("history", "--json")
    assert history.returncode == 0, history.stderr
    revisions = json.loads(history.stdout)["revisions"]
    assert [(r["revision"], r["release"]) for r in reversed(revisions)] == [
        (M1, "2026.2.19"),
        (M1_REVISED, "2026.2.19"),
        (M3, "2026.3.12"),
        (M2, "2026.4.5"),
        (D1, "2026.4.10"),
    ]
    check = run_cli("check", "--json")
    assert check.returncode == 0 and json.loads(check.stdout)["ok"], check.stdout


def test_m1_is_keyed_on_the_role_and_admin_never_on_the_client(tmp_path: Path) -> None:
    """A 2.17 CLI record the gateway relabelled gateway-client/backend (as observed
    after 2.17 -> 2.21) is repaired; admin held in approvedScopes alone counts."""
    state = copy_store("2026.2.17-real", tmp_path)
    records = paired(state)
    (cli_id,) = records
    relabelled = dict(records[cli_id], clientId="gateway-client", clientMode="backend")
    approved_only = {
        key: value for key, value in relabelled.items() if key not in ("scopes", "deviceId")
    }
    approved_only = {
        "deviceId": "a" * 64,
        **approved_only,
        "scopes": ["operator.approvals"],
        "approvedScopes": ["operator.admin", "operator.approvals", "operator.pairing"],
    }
    records = {cli_id: relabelled, "a" * 64: approved_only}
    (state / "devices" / "paired.json").write_text(json.dumps(records, indent=2))
    up = run_cli("upgrade", "2026.2.19", "--store", str(state))
    assert up.returncode == 0, up.stderr
    after = paired(state)
    for key in records:
        assert set(after[key]["scopes"]) >= READ_WRITE
        assert set(after[key]["tokens"]["operator"]["scopes"]) >= READ_WRITE
        assert (
            after[key]["tokens"]["operator"]["token"] == records[key]["tokens"]["operator"]["token"]
        )
    assert set(after["a" * 64]["approvedScopes"]) >= READ_WRITE
    assert "approvedScopes" not in after[cli_id]  # never created where it was absent


def test_the_read_only_device_stays_exactly_as_it_is_through_the_whole_chain(
    tmp_path: Path,
) -> None:
    state = store_with_every_case(tmp_path)
    before = {k: v for k, v in paired(state).items() if k.startswith(READ_ONLY)}
    assert run_cli("upgrade", "head", "--store", str(state)).returncode == 0
    assert {k: v for k, v in paired(state).items() if k.startswith(READ_ONLY)} == before


def test_m3_gives_node_only_records_empty_lists_and_nothing_else(tmp_path: Path) -> None:
    state = store_with_every_case(tmp_path)
    original = (state / "devices" / "paired.json").read_bytes()
    up = run_cli("upgrade", "2026.3.12", "--store", str(state), "-v")
    assert up.returncode == 0, up.stderr
    assert "+scopes: []  +approvedScopes: []" in up.stdout
    after = paired(state)
    for key in (NODE, NODE_ONLY):
        assert after[key]["scopes"] == [] and after[key]["approvedScopes"] == []
    # The Mac holds the operator role and keeps its lists; the inheriting node
    # record keeps its lists; neither gains an empty list.
    assert after[MAC]["scopes"] and "approvedScopes" not in after[MAC]
    assert after[INHERIT]["approvedScopes"] == OPERATOR_SCOPES
    down = run_cli("downgrade", "base", "--store", str(state))
    assert down.returncode == 0, down.stderr
    assert (state / "devices" / "paired.json").read_bytes() == original


def test_m2_strips_operator_scopes_from_node_tokens_only(tmp_path: Path) -> None:
    state = store_with_every_case(tmp_path)
    before = paired(state)
    original = (state / "devices" / "paired.json").read_bytes()
    assert run_cli("upgrade", "2026.4.5", "--store", str(state)).returncode == 0
    record = paired(state)[INHERIT]
    assert record["tokens"]["node"]["scopes"] == []
    assert record["tokens"]["node"]["token"] == before[INHERIT]["tokens"]["node"]["token"]
    assert (
        record["tokens"]["node"]["createdAtMs"] == before[INHERIT]["tokens"]["node"]["createdAtMs"]
    )
    # The device's operator scopes and its operator token keep what they held.
    assert record["scopes"] == OPERATOR_SCOPES
    assert record["tokens"]["operator"] == before[INHERIT]["tokens"]["operator"]
    assert paired(state)[MAC]["tokens"]["node"] == before[MAC]["tokens"]["node"]  # already []
    assert run_cli("downgrade", "base", "--store", str(state)).returncode == 0
    assert (state / "devices" / "paired.json").read_bytes() == original


# What each release needs of the every-case store, stated from HISTORY.md, not
# from the migrations: (M1 applies, M3 applies, M2 applies).
NEEDS = {
    "2026.2.17": (False, False, False),
    "2026.2.19": (True, False, False),
    "2026.2.21": (True, False, False),
    "2026.2.22": (True, False, False),
    "2026.3.13": (True, True, False),
    "2026.3.24": (True, True, False),
    "2026.4.5": (True, True, True),
    "2026.4.10": (True, True, True),
    "2026.7.1": (True, True, True),
    "2026.8.1": (True, True, True),
    "2026.9.6": (True, True, True),
}


def assert_needs(state: Path, original: dict[str, Any], release: str) -> None:
    m1, m3, m2 = NEEDS[release]
    now = paired(state)
    for key, record in original.items():
        scopes = record.get("scopes")
        admin = scopes is not None and "operator.admin" in scopes
        if admin and "operator" in record["roles"]:
            gained = set(now[key]["scopes"]) - set(scopes)
            assert gained == (READ_WRITE - set(scopes) if m1 else set()), (release, key)
        elif key not in (NODE, NODE_ONLY):
            assert now[key].get("scopes") == scopes, (release, key)
    for key in (NODE, NODE_ONLY):
        expected = [] if m3 else None
        assert now[key].get("scopes") == expected and now[key].get("approvedScopes") == expected
    node_token = now[INHERIT]["tokens"]["node"]["scopes"]
    assert node_token == ([] if m2 else original[INHERIT]["tokens"]["node"]["scopes"]), release


def test_the_hook_brings_a_2_17_store_to_each_release_up_and_down(tmp_path: Path) -> None:
    state = store_with_every_case(tmp_path)
    original = paired(state)
    original_bytes = (state / "devices" / "paired.json").read_bytes()
    ups = list(NEEDS)
    for release in [*ups, *reversed(ups[:-1])]:
        hook = run_cli("hook", "--installed-version", release, "--store", str(state))
        assert hook.returncode == 0, (release, hook.stderr)
        assert_needs(state, original, release)
        assert not any(token in hook.stdout + hook.stderr for token in token_values(state))
    assert (state / "devices" / "paired.json").read_bytes() == original_bytes


@pytest.mark.parametrize("release", list(NEEDS)[1:])
def test_the_hook_jumps_from_2_17_to_a_release_and_back_in_one_step(
    tmp_path: Path, release: str
) -> None:
    """No stop on the way: 2.17 straight to each release, then straight back to 2.17."""
    state = store_with_every_case(tmp_path)
    original = paired(state)
    original_bytes = (state / "devices" / "paired.json").read_bytes()
    hook = run_cli("hook", "--installed-version", release, "--store", str(state))
    assert hook.returncode == 0, (release, hook.stderr)
    assert_needs(state, original, release)
    back = run_cli("hook", "--installed-version", "2026.2.17", "--store", str(state))
    assert back.returncode == 0, (release, back.stderr)
    assert_needs(state, original, "2026.2.17")
    assert (state / "devices" / "paired.json").read_bytes() == original_bytes


def test_sync_down_undoes_only_what_the_older_release_does_not_need(tmp_path: Path) -> None:
    """A scope someone granted by hand after the upgrade survives every downgrade."""
    state = store_with_every_case(tmp_path)
    assert run_cli("hook", "--installed-version", "2026.9.6", "--store", str(state)).returncode == 0
    records = paired(state)
    records[INHERIT]["tokens"]["node"]["scopes"] = ["node.exec"]  # minted by the product since
    records[CLI]["scopes"].append("operator.talk")
    (state / "devices" / "paired.json").write_text(json.dumps(records, indent=2))
    hook = run_cli("hook", "--installed-version", "2026.4.2", "--store", str(state))
    assert hook.returncode == 0, hook.stderr
    after = paired(state)
    assert set(after[INHERIT]["tokens"]["node"]["scopes"]) == {*OPERATOR_SCOPES, "node.exec"}
    assert after[NODE]["scopes"] == [] and set(after[CLI]["scopes"]) >= READ_WRITE
    hook = run_cli("hook", "--installed-version", "2026.2.17", "--store", str(state))
    assert hook.returncode == 0, hook.stderr
    after = paired(state)
    assert "scopes" not in after[NODE] and after[CLI]["scopes"][-1] == "operator.talk"
    assert not READ_WRITE & set(after[CLI]["scopes"])


def test_the_sqlite_generation_gets_the_same_repair_and_retired_files_stay(
    tmp_path: Path,
) -> None:
    source = store_with_every_case(tmp_path / "json")
    state = make_sqlite(tmp_path / "sqlite", source)
    retired = state / "devices" / "paired.json.migrated"
    retired.parent.mkdir(parents=True, exist_ok=True)
    retired.write_bytes((source / "devices" / "paired.json").read_bytes())
    up = run_cli("upgrade", "head", "--store", str(state), "--json")
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["store"].endswith("openclaw.sqlite")
    assert run_cli("upgrade", "head", "--store", str(source)).returncode == 0
    with sqlite3.connect(state / "state" / "openclaw.sqlite") as conn:
        rows = {
            device_id: (json.loads(s) if s else None, json.loads(a) if a else None, json.loads(t))
            for device_id, s, a, t in conn.execute(
                "SELECT device_id, scopes_json, approved_scopes_json, tokens_json "
                "FROM device_pairing_paired"
            )
        }
    for key, record in paired(source).items():
        assert rows[key][0] == record.get("scopes") and rows[key][1] == record.get("approvedScopes")
        assert rows[key][2] == record.get("tokens", {})
    assert retired.read_bytes() != (source / "devices" / "paired.json").read_bytes()


def empty_tables(state: Path) -> Path:
    """The database 5.30-beta.1 to 7.1 create: device tables, no rows."""
    database = state / "state" / "openclaw.sqlite"
    database.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(database) as conn:
        conn.executescript(SQLITE_SCHEMA.read_text())
    return database


def test_an_empty_database_beside_live_json_files_is_not_the_store(tmp_path: Path) -> None:
    state = store_with_every_case(tmp_path)
    database = empty_tables(state)
    before = database.read_bytes()
    up = run_cli("upgrade", "head", "--store", str(state), "--json")
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["store"] == str(state)
    assert set(paired(state)[CLI]["scopes"]) >= READ_WRITE
    assert database.read_bytes() == before


def test_after_the_import_existing_rows_win_and_pending_was_only_renamed(tmp_path: Path) -> None:
    """OpenClaw's import keeps a row already in SQLite over paired.json and only
    renames pending.json: a store migrated as JSON before the switch is migrated
    again in SQLite, where the rows did not get the repair."""
    source = copy_store("2026.2.15-mixed", tmp_path / "json")
    assert run_cli("upgrade", "head", "--store", str(source)).returncode == 0
    state = make_sqlite(tmp_path / "sqlite", FIXTURES / "2026.2.15-mixed")  # rows as imported
    with sqlite3.connect(state / "state" / "openclaw.sqlite") as conn:
        conn.execute("DELETE FROM device_pairing_pending")  # pending is not imported
    devices = state / "devices"
    devices.mkdir(exist_ok=True)
    for name in ("paired.json", "pending.json", "scopemigrate-ledger.json"):
        target = name + ".migrated" if name != "scopemigrate-ledger.json" else name
        shutil.copyfile(source / "devices" / name, devices / target)
    retired = {p.name: p.read_bytes() for p in devices.iterdir()}
    up = run_cli("upgrade", "head", "--store", str(state), "--json")
    assert up.returncode == 0, up.stderr
    result = json.loads(up.stdout)
    assert result["store"].endswith("openclaw.sqlite") and result["pending_removed"] == 0
    assert len(result["devices"]) == 7
    assert {p.name: p.read_bytes() for p in devices.iterdir()} == retired


def test_findings_name_each_device_and_its_command_without_touching_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    shutil.copytree(CHAIN_FIXTURES / "2026.4.10-findings", state)
    assert run_cli("upgrade", "head", "--store", str(state)).returncode == 0
    before = (state / "devices" / "paired.json").read_bytes()
    verify = run_cli("verify", "--store", str(state))
    assert verify.returncode == 0, verify.stderr
    lines = verify.stdout.splitlines()
    assert "2 device(s) no data repair can fix:" in lines
    seeded, revoked = "2fdf8f9ac548", "f74b01118270"
    (seeded_line,) = [line for line in lines if seeded in line]
    assert "holds no active device token" in seeded_line
    assert f"openclaw devices rotate --device {seeded}" in seeded_line
    assert "--role operator" in seeded_line
    (revoked_line,) = [line for line in lines if revoked in line]
    assert "for role node" in revoked_line and "--role node" in revoked_line
    assert "--role operator" not in revoked_line  # its operator token is active
    assert not any("ec009f1a1478" in line for line in lines)  # read-only: fine
    as_json = json.loads(run_cli("verify", "--json", "--store", str(state)).stdout)
    assert [(f["kind"], f["roles"]) for f in as_json["findings"]] == [
        ("no-token", ["operator"]),
        ("role-without-token", ["node"]),
    ]
    assert (state / "devices" / "paired.json").read_bytes() == before


@pytest.mark.parametrize(("release", "told"), [("2026.4.5", False), ("2026.4.10", True)])
def test_the_hook_prints_one_line_about_findings_from_4_10(
    tmp_path: Path, release: str, told: bool
) -> None:
    state = tmp_path / "state"
    shutil.copytree(CHAIN_FIXTURES / "2026.4.10-findings", state)
    hook = run_cli("hook", "--installed-version", release, "--store", str(state))
    assert hook.returncode == 0, hook.stderr
    about = [line for line in hook.stdout.splitlines() if "no data repair" in line]
    assert len(about) == (1 if told else 0)
    if told:
        assert "2 device(s)" in about[0] and "scopemigrate verify" in about[0]


def test_json_sqlite_and_postgres_give_the_same_store_up_and_down(
    tmp_path: Path, pg_url: str
) -> None:
    """The PostgreSQL run compiles the new kinds to SQL; all three must agree,
    and a downgrade must give each store back as it was."""
    source = store_with_every_case(tmp_path / "json")
    sqlite_state = make_sqlite(tmp_path / "sqlite", source)
    load_postgres(pg_url, source)
    stores = {"json": str(source), "sqlite": str(sqlite_state), "postgres": pg_url}
    originals = {kind: view(kind, spec) for kind, spec in stores.items()}
    for kind, spec in stores.items():
        up = run_cli("upgrade", "head", "--store", spec)
        assert up.returncode == 0, (kind, up.stderr)
    after = {kind: view(kind, spec) for kind, spec in stores.items()}
    assert after["json"] == after["sqlite"] == after["postgres"]
    assert after["json"][0][INHERIT]["tokens"]["node"][0] == []
    assert after["json"][0][NODE_ONLY]["approvedScopes"] == []
    for kind, spec in stores.items():
        down = run_cli("downgrade", "base", "--store", spec)
        assert down.returncode == 0, (kind, down.stderr)
        assert view(kind, spec) == originals[kind], kind


@pytest.mark.parametrize(
    ("pair", "asked"),
    [("2026.2.17-to-2026.2.19", "operator.read"), ("2026.2.17-to-2026.2.21", "operator.write")],
)
def test_stores_real_gateways_left_are_repaired_and_restored(
    tmp_path: Path, pair: str, asked: str
) -> None:
    """What a real 2.19/2.21 wrote after refusing a 2.17 CLI: the record gains
    read and write in both lists, the refused request goes, downgrade restores."""
    state = tmp_path / "state"
    shutil.copytree(CHAIN_FIXTURES / pair, state)
    files = {p.name: p.read_bytes() for p in (state / "devices").iterdir()}
    (request,) = load_json(state / "devices" / "pending.json").values()
    assert request["isRepair"] and request["scopes"] == [asked]
    up = run_cli("upgrade", "head", "--store", str(state), "--json")
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["pending_removed"] == 1  # satisfied: no approval loop
    (record,) = paired(state).values()
    assert set(record["scopes"]) >= READ_WRITE
    assert set(record["tokens"]["operator"]["scopes"]) >= READ_WRITE
    down = run_cli("downgrade", "base", "--store", str(state))
    assert down.returncode == 0, down.stderr
    assert {
        p.name: p.read_bytes()
        for p in (state / "devices").iterdir()
        if p.suffix == ".json" and "ledger" not in p.name
    } == files
