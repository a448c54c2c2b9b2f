"""Hostile store data: every bad input a one-line error with its exit code, the store
left byte for byte; everything written back readable by OpenClaw's ``JSON.parse``.

The store is input from whoever can write the state dir (see docs/threat-model.md).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIRST_CHAIN, cli_path, copy_store, load_json, run_cli
from hostile import assert_clean_refusal, node_parses, tree_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scopemigrate import commands, load_config
from scopemigrate.errors import BadStoreError, ScopemigrateError
from scopemigrate.printable import printable, printable_json
from scopemigrate.stores.jsontext import MAX_DEPTH, loads

BAD_STORE = 5
STORE_AHEAD = 8
CONFIG = 3
BAD_JOURNAL = 15
FIRST = "31a26516362262a5cc9331078bce2e53ad724023e222894ff9fb96f18db4d223"


def paired_text(store: Path) -> str:
    return (store / "devices" / "paired.json").read_text(encoding="utf-8")


def set_paired(store: Path, text: str) -> None:
    (store / "devices" / "paired.json").write_text(text, encoding="utf-8")


def with_value(store: Path, literal: str) -> None:
    """paired.json with the first device's createdAtMs replaced by ``literal``, as text."""
    text = paired_text(store)
    set_paired(store, text.replace('"createdAtMs": 1769900000000', f'"createdAtMs": {literal}', 1))


def refused(
    store: Path, *args: str, code: int = BAD_STORE, migrations: tuple[str, ...] = ()
) -> str:
    before = tree_state(store)
    done = run_cli(*(args or ("upgrade", "head")), "--store", str(store), *migrations)
    assert_clean_refusal(done, code)
    assert tree_state(store) == before
    return done.stderr


@pytest.mark.parametrize(
    ("literal", "says"),
    [
        ("1e400", "beyond what a double holds"),
        ("-1e400", "beyond what a double holds"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("1" + "0" * 5000, "4,300 digits"),
    ],
)
def test_numbers_json_parse_would_not_read_back_are_refused(
    mixed: Path, literal: str, says: str
) -> None:
    with_value(mixed, literal)
    assert says in refused(mixed)


def test_nesting_a_thousand_deep_is_a_one_line_error(mixed: Path) -> None:
    deep = "[" * 1000 + "]" * 1000
    set_paired(mixed, paired_text(mixed).replace('"platform": "linux"', f'"x": {deep}', 1))
    assert f"more than {MAX_DEPTH} levels" in refused(mixed)


def test_a_lone_surrogate_in_a_scope_is_refused_not_a_crash(mixed: Path) -> None:
    set_paired(mixed, paired_text(mixed).replace('"operator.admin"', '"operator.\\ud800"', 1))
    assert "lone UTF-16 surrogate" in refused(mixed)


def test_a_surrogate_pair_is_text_and_goes_through(mixed: Path) -> None:
    set_paired(mixed, paired_text(mixed).replace('"platform": "linux"', '"x": "\\ud83d\\ude00"', 1))
    assert run_cli("upgrade", "head", "--store", str(mixed)).returncode == 0
    assert load_json(mixed / "devices" / "paired.json")[FIRST]["x"] == "\U0001f600"
    node_parses(mixed / "devices" / "paired.json")


def test_pending_as_a_directory_is_refused(mixed: Path) -> None:
    pending = mixed / "devices" / "pending.json"
    pending.unlink()
    pending.mkdir()
    assert "a directory" in refused(mixed)


def test_pending_as_a_fifo_is_refused_without_hanging(mixed: Path) -> None:
    pending = mixed / "devices" / "pending.json"
    pending.unlink()
    os.mkfifo(pending)
    # run_cli has a timeout: a plain open() of a FIFO would block forever.
    assert "a FIFO" in refused(mixed)


def test_a_ledger_linked_to_dev_zero_is_refused_not_read(mixed: Path) -> None:
    (mixed / "devices" / "scopemigrate-ledger.json").symlink_to("/dev/zero")
    for verb in (("upgrade", "head"), ("current",), ("verify",)):
        assert "symbolic link" in refused(mixed, *verb)


def test_a_ledger_that_is_a_device_is_refused(mixed: Path) -> None:
    os.mknod(mixed / "devices" / "scopemigrate-ledger.json", 0o600 | 0o020000, os.makedev(1, 5))
    assert "a character device" in refused(mixed, "current")


@pytest.mark.parametrize("literal", ["NaN", "1e400"])
def test_pending_requests_with_timestamps_json_parse_cannot_read_are_refused(
    mixed: Path, literal: str
) -> None:
    pending = mixed / "devices" / "pending.json"
    text = pending.read_text(encoding="utf-8")
    pending.write_text(text.replace('"ts": 1771150000000', f'"ts": {literal}', 1))
    refused(mixed)


@pytest.mark.parametrize("value", [None, "missing", "another-id"])
def test_a_request_id_other_than_its_key_is_refused_up_front(mixed: Path, value: Any) -> None:
    pending = mixed / "devices" / "pending.json"
    document = json.loads(pending.read_text(encoding="utf-8"))
    record = next(iter(document.values()))
    if value == "missing":
        del record["requestId"]
    else:
        record["requestId"] = value
    pending.write_text(json.dumps(document, indent=2))
    assert "requestId" in refused(mixed)


def test_pending_requests_survive_the_round_trip_exactly(mixed: Path) -> None:
    before = (mixed / "devices" / "pending.json").read_bytes()
    assert run_cli("upgrade", "head", "--store", str(mixed)).returncode == 0
    assert run_cli("downgrade", "base", "--store", str(mixed)).returncode == 0
    assert (mixed / "devices" / "pending.json").read_bytes() == before


def ledger_path(store: Path) -> Path:
    return store / "devices" / "scopemigrate-ledger.json"


def edit_ledger(store: Path, edit: Any) -> None:
    document = json.loads(ledger_path(store).read_text(encoding="utf-8"))
    edit(document)
    ledger_path(store).write_text(json.dumps(document, indent=2), encoding="utf-8")


def test_a_ledger_naming_an_unknown_revision_is_refused_by_upgrade_head(mixed: Path) -> None:
    assert run_cli("upgrade", "head", "--store", str(mixed)).returncode == 0

    def unknown_head(document: dict[str, Any]) -> None:
        document["heads"] = ["ffffffffffff"]

    edit_ledger(mixed, unknown_head)
    # The at-head mark binds the heads: the quick answer cannot vouch, the full run refuses.
    assert "ffffffffffff" in refused(mixed, "upgrade", "head", code=STORE_AHEAD)


def test_a_ledger_claiming_an_earlier_head_is_not_answered_at_head(mixed: Path) -> None:
    assert run_cli("upgrade", "head", "--store", str(mixed)).returncode == 0

    def at_base(document: dict[str, Any]) -> None:
        document["heads"] = []

    edit_ledger(mixed, at_base)
    done = run_cli("upgrade", "head", "--store", str(mixed))
    assert done.returncode == 0 and "nothing to do" not in done.stdout


# The provenance tests edit the one revision's provenance: they run on the
# one-revision chain the shipped chain starts with.
ONE_REVISION = ("--migrations", str(FIRST_CHAIN))


def edit_provenance(store: Path, edit: Callable[[dict[str, Any]], Any]) -> None:
    """Edit the ledger's one revision's provenance as device id -> field -> edits
    (the ledger groups it per distinct change: it is written back a group a device)."""

    def per_device(document: dict[str, Any]) -> None:
        (entry,) = document["applied"].values()
        devices = {d: copy.deepcopy(g["fields"]) for g in entry["provenance"] for d in g["devices"]}
        edit(devices)
        entry["provenance"] = [{"fields": f, "devices": [d]} for d, f in devices.items()]

    edit_ledger(store, per_device)


def test_edited_provenance_cannot_make_a_downgrade_remove_admin(mixed: Path) -> None:
    assert run_cli("upgrade", "head", "--store", str(mixed), *ONE_REVISION).returncode == 0

    def remove_admin(provenance: dict[str, Any]) -> None:
        edits = provenance.setdefault(FIRST, {}).setdefault("scopes", [])
        edits.append({"added": ["operator.admin"], "removed": []})

    edit_provenance(mixed, remove_admin)
    message = refused(mixed, "downgrade", "base", migrations=ONE_REVISION)
    assert "operator.admin" in message and "ledger was edited" in message
    assert "operator.admin" in load_json(mixed / "devices" / "paired.json")[FIRST]["scopes"]


def test_edited_provenance_cannot_make_a_downgrade_grant_admin(mixed: Path) -> None:
    assert run_cli("upgrade", "head", "--store", str(mixed), *ONE_REVISION).returncode == 0
    node = next(
        k
        for k, v in load_json(mixed / "devices" / "paired.json").items()
        if "operator.admin" not in v.get("scopes", [])
    )

    def grant_admin(provenance: dict[str, Any]) -> None:
        fields = provenance.setdefault(node, {})
        fields.setdefault("scopes", []).append({"removed": [[0, "operator.admin"]]})

    edit_provenance(mixed, grant_admin)
    refused(mixed, "downgrade", "base", migrations=ONE_REVISION)


SCOPE = st.sampled_from(
    ["operator.admin", "operator.read", "operator.write", "operator.pairing", "node.exec"]
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(["scopes", "approvedScopes", "tokens.operator", "tokens.node"]),
    added=st.lists(SCOPE, max_size=3),
    removed=st.lists(SCOPE, max_size=2),
)
def test_a_downgrade_undoes_only_what_the_revision_could_do(
    tmp_path_factory: pytest.TempPathFactory, field: str, added: list[str], removed: list[str]
) -> None:
    """Random provenance edits: a downgrade either refuses, touching nothing, or
    changes only scopes the revision grants (operator.read, operator.write)."""
    store = copy_store("2026.2.15-mixed", tmp_path_factory.mktemp("prov"))
    config = load_config(store=str(store), locations=[str(FIRST_CHAIN)], env={})
    commands.upgrade(config, "head")
    edit_provenance(
        store,
        lambda provenance: (
            provenance.setdefault(FIRST, {})
            .setdefault(field, [])
            .append({"added": added, "removed": [[i, s] for i, s in enumerate(removed)]})
        ),
    )
    before = tree_state(store)
    paired_before = load_json(store / "devices" / "paired.json")
    try:
        commands.downgrade(config, "base")
    except BadStoreError:
        assert tree_state(store) == before
        return
    after = load_json(store / "devices" / "paired.json")
    for device_id, record in paired_before.items():
        gone = set(record.get("scopes", [])) - set(after[device_id].get("scopes", []))
        came = set(after[device_id].get("scopes", [])) - set(record.get("scopes", []))
        assert gone <= {"operator.read", "operator.write"} and not came


def test_printable_escapes_terminal_controls_and_line_breaks() -> None:
    name = "phone\x1b]0;owned\x07\x1b[2J\nerror: forged\r\u202eevil\x9b31m\ud800"
    shown = printable(name)
    assert shown.isprintable() and "\n" not in shown
    assert shown.startswith("phone\\e]0;owned\\x07\\e[2J\\nerror: forged\\r\\u202eevil\\x9b")
    document = json.dumps({"name": name + "\x7f"}, ensure_ascii=False)
    assert json.loads(printable_json(document)) == {"name": name + "\x7f"}
    assert printable_json(document).isprintable()


@given(st.text())
def test_printable_leaves_one_printable_line(text: str) -> None:
    shown = printable(text)
    assert "\n" not in shown and "\r" not in shown
    assert printable(shown) == shown  # nothing unsafe is left to escape
    assert not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in shown)


@given(st.text())
def test_printable_json_keeps_the_value(text: str) -> None:
    document = json.dumps({"k": text}, ensure_ascii=False)
    assert json.loads(printable_json(document)) == {"k": text}


def test_a_device_name_cannot_reach_the_terminal_raw(mixed: Path) -> None:
    evil = "Phone\x1b]0;owned\x07\x1b[31m\nerror: forged line\u202e"
    paired = load_json(mixed / "devices" / "paired.json")
    paired[FIRST]["displayName"] = evil
    (mixed / "devices" / "paired.json").write_text(json.dumps(paired, indent=2))
    for args in (("upgrade", "head", "--dry-run"), ("upgrade", "head", "-v")):
        done = run_cli(*args, "--store", str(mixed))
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout and "\u202e" not in done.stdout
        assert not any(line.startswith("error: forged") for line in done.stdout.splitlines())
        assert "Phone\\e]0;owned\\x07\\e[31m\\nerror: forged line\\u202e" in done.stdout


def test_a_path_with_control_characters_is_escaped_in_errors(tmp_path: Path) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path / "a\x1b[2Jb\nerror- x")
    (store / "devices" / "pending.json").write_text("{")
    done = run_cli("upgrade", "head", "--store", str(store))
    assert_clean_refusal(done, BAD_STORE)
    assert "\x1b" not in done.stderr and "a\\e[2Jb\\nerror- x" in done.stderr


URLS = [
    "postgresql://u:PW-1@127.0.0.1:1/db?password=PW-2&sslpassword=PW-3&passfile=/nonexistent",
    "postgresql://127.0.0.1:1/db?sslmode=disable&password=PW-2",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("verb", [("current",), ("upgrade", "head", "--json", "-v"), ("verify",)])
def test_a_password_in_the_url_is_never_shown(url: str, verb: tuple[str, ...]) -> None:
    for done in (
        run_cli(*verb, "--store", url),
        run_cli(*verb, env={"SCOPEMIGRATE_STORE": url}),
    ):
        assert done.returncode not in (0, 1), done.stderr  # a connection failure's code
        assert_clean_refusal(done, done.returncode, "PW-1", "PW-2", "PW-3")
        assert "***" in done.stderr


@pytest.mark.parametrize(
    "url", ["postgresql://u:PW-1@[::1/db", "postgresql://u:PW-1@[::1]:port/db?password=PW-2"]
)
def test_a_malformed_url_is_a_one_line_error_without_its_secret(url: str) -> None:
    for done in (
        run_cli("current", "--store", url),
        run_cli("current", env={"SCOPEMIGRATE_STORE": url}),
    ):
        assert_clean_refusal(done, CONFIG, "PW-1", "PW-2")


def test_an_unknown_scheme_does_not_show_the_password() -> None:
    done = run_cli("current", "--store", "postgress://u:PW-1@h/db?password=PW-2")
    assert_clean_refusal(done, CONFIG, "PW-1", "PW-2")


def test_the_json_reader_bounds_hold_for_any_text() -> None:
    """``loads`` either parses, to a value json.dumps writes as JSON.parse reads it,
    or raises a BadStoreError: never another exception."""

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
    def check(data: bytes) -> None:
        try:
            value = loads("x.json", data)
        except BadStoreError:
            return
        json.dumps(value, allow_nan=False).encode("utf-8")

    check()


def json_values() -> st.SearchStrategy[Any]:
    leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    )


FIELDS = ["deviceId", "role", "roles", "scopes", "approvedScopes", "tokens", "displayName", "x"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field=st.sampled_from(FIELDS), value=json_values())
def test_mutated_records_are_migrated_readably_or_refused_untouched(
    tmp_path_factory: pytest.TempPathFactory, field: str, value: Any
) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path_factory.mktemp("mut"))
    paired = load_json(store / "devices" / "paired.json")
    paired[FIRST][field] = value
    (store / "devices" / "paired.json").write_text(json.dumps(paired, indent=2))
    before = tree_state(store)
    try:
        commands.upgrade(load_config(store=str(store), env={}), "head")
    except ScopemigrateError as exc:
        assert isinstance(exc, BadStoreError) and "\n" not in str(exc)
        assert tree_state(store) == before
        return
    for name in ("paired.json", "pending.json", "scopemigrate-ledger.json"):
        loads(name, (store / "devices" / name).read_bytes())  # no NaN, no Infinity


def test_what_an_upgrade_writes_is_read_by_json_parse(mixed: Path) -> None:
    paired = load_json(mixed / "devices" / "paired.json")
    paired[FIRST]["displayName"] = "Téléphone ☎ \u2028 \U0001f600"
    paired[FIRST]["big"] = 10**30
    paired[FIRST]["ratio"] = 1.5e300
    (mixed / "devices" / "paired.json").write_text(json.dumps(paired, indent=2, ensure_ascii=False))
    assert run_cli("upgrade", "head", "--store", str(mixed)).returncode == 0
    node_parses(*(mixed / "devices").glob("*.json"))
    assert run_cli("downgrade", "base", "--store", str(mixed)).returncode == 0
    node_parses(*(mixed / "devices").glob("*.json"))


def test_the_cli_never_hangs_on_a_fifo_ledger(mixed: Path) -> None:
    os.mkfifo(mixed / "devices" / "scopemigrate-ledger.json")
    done = subprocess.run(
        [cli_path(), "current", "--store", str(mixed)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_clean_refusal(done, BAD_STORE)


JOURNAL = "scopemigrate-journal.json"
MALFORMED_JOURNALS: list[Any] = [
    [],
    {},
    None,
    "files",
    {"files": []},
    {"files": "x"},
    {"files": [1]},
    {"files": [{"name": 1, "tmp": ".paired.json.ab.scopemigrate-tmp", "old": None}]},
    {"files": [{"name": "paired.json", "tmp": "../../victim", "old": None}]},
    {"files": [{"name": "../victim", "tmp": "../.victim.ab.scopemigrate-tmp", "old": None}]},
    {"files": [{"name": "paired.json", "tmp": ".paired.json.ab.scopemigrate-tmp", "old": "x"}]},
    {"files": [{"name": "paired.json", "tmp": ".paired.json.ab.scopemigrate-tmp"}]},
    {
        "files": [{"name": "paired.json", "tmp": ".paired.json.ab.scopemigrate-tmp", "old": None}],
        "pending_restored": [["x", {}]],
    },
]


@pytest.mark.parametrize("journal", MALFORMED_JOURNALS, ids=range(len(MALFORMED_JOURNALS)))
def test_a_malformed_journal_is_one_line_with_its_own_code(
    mixed: Path, tmp_path: Path, journal: Any
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (mixed / "devices" / JOURNAL).write_text(json.dumps(journal))
    (mixed / "devices" / ".paired.json.ab.scopemigrate-tmp").write_text("{}")
    for verb in (("verify",), ("upgrade", "head")):
        refused(mixed, *verb, code=BAD_JOURNAL)
    assert victim.read_text() == "keep"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(journal=json_values())
def test_random_journals_are_recovered_or_refused_never_a_crash(
    tmp_path_factory: pytest.TempPathFactory, journal: Any
) -> None:
    root = tmp_path_factory.mktemp("journal")
    store = copy_store("2026.2.15-mixed", root)
    victim = root / "victim"
    victim.write_text("keep")
    (store / "devices" / JOURNAL).write_text(json.dumps(journal))
    before = tree_state(store)
    try:
        commands.verify(load_config(store=str(store), env={}))
    except ScopemigrateError as exc:
        assert "\n" not in str(exc)
        assert tree_state(store) == before
    assert victim.read_text() == "keep"
