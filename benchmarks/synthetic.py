"""Realistic synthetic device stores and migration chains for the benchmarks.

The device mix follows the example stores in ``tests/fixtures/openclaw/``
(written by a real gateway and hand-checked): CLI operators holding the
2026.2.15 admin scopes, Control UI browsers, node hosts with empty token
scopes, read-only probes, operators that are also nodes, records carrying
fields scopemigrate does not know, plus revoked and rotated tokens. Every
device gets its own id, public key and token, so no two records are equal
and the store compresses no better than a real one.

Stores are written record by record, so a million devices never sit in
memory at once here (the benchmark measures scopemigrate's memory, not ours).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_STORE = ROOT / "tests" / "fixtures" / "openclaw" / "2026.2.15-mixed" / "devices"
SQLITE_SCHEMA = ROOT / "tests" / "fixtures" / "openclaw-sqlite-schema.sql"
POSTGRES_SCHEMA = ROOT / "examples" / "postgres" / "schema.sql"
SHIPPED_MIGRATION = ROOT / "migrations" / "2026.2.19_operator_read_write.toml"

# One in this many devices has an open repair request in pending.json.
PENDING_EVERY = 100
# One operator in this many is a watch app, which later releases address.
WATCH_EVERY = 100
WATCH_CLIENT = "openclaw-watch"


def _templates() -> list[dict[str, Any]]:
    paired = json.loads((TEMPLATE_STORE / "paired.json").read_text(encoding="utf-8"))
    return list(paired.values())


def _b64(seed: bytes, size: int = 32) -> str:
    digest = hashlib.sha256(seed).digest()[:size]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def devices(count: int) -> Iterator[dict[str, Any]]:
    """``count`` device records in the fixture's mix, each unique, deterministic."""
    templates = _templates()
    for index in range(count):
        record = json.loads(json.dumps(templates[index % len(templates)]))
        seed = index.to_bytes(8, "big")
        device_id = hashlib.sha256(b"device" + seed).hexdigest()
        record["deviceId"] = device_id
        record["publicKey"] = _b64(b"key" + seed)
        if index % WATCH_EVERY == 4 and record.get("role") == "operator":
            record["clientId"], record["platform"] = WATCH_CLIENT, "watchOS 12"
        stamp = 1769900000000 + index * 1000
        record["createdAtMs"] = record["approvedAtMs"] = stamp
        for role, token in record.get("tokens", {}).items():
            token["token"] = _b64(b"token" + role.encode() + seed)
            token["createdAtMs"] = stamp
            token["lastUsedAtMs"] = stamp + 86_400_000
            if index % 17 == 0:
                token["revokedAtMs"] = stamp + 2 * 86_400_000  # a revoked token, kept
            elif index % 13 == 0:
                token["rotatedAtMs"] = stamp + 3_600_000
        yield record


def pending_for(record: dict[str, Any], index: int) -> dict[str, Any]:
    """An open repair request of the kind 2026.2.19 left behind."""
    request_id = hashlib.md5(b"request" + index.to_bytes(8, "big")).hexdigest()
    return {
        "requestId": request_id,
        "deviceId": record["deviceId"],
        "publicKey": record["publicKey"],
        "clientId": record.get("clientId"),
        "clientMode": record.get("clientMode"),
        "role": "operator",
        "roles": ["operator"],
        "scopes": ["operator.read"],
        "remoteIp": "127.0.0.1",
        "silent": False,
        "isRepair": True,
        "ts": 1771150000000 + index,
    }


def _write_object(path: Path, items: Iterator[tuple[str, dict[str, Any]]]) -> None:
    """``JSON.stringify(object, null, 2)`` as OpenClaw writes it, one entry at a time."""
    with path.open("w", encoding="utf-8") as out:
        first = True
        out.write("{")
        for key, record in items:
            body = json.dumps(record, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            out.write(("\n" if first else ",\n") + f"  {json.dumps(key)}: {body}")
            first = False
        out.write("\n}" if not first else "}")
    path.chmod(0o600)


def write_json_store(state_dir: Path, count: int) -> Path:
    """An OpenClaw JSON state dir with ``count`` devices; returns paired.json."""
    folder = state_dir / "devices"
    folder.mkdir(parents=True, exist_ok=True)
    pending: list[tuple[str, dict[str, Any]]] = []

    def paired_items() -> Iterator[tuple[str, dict[str, Any]]]:
        for index, record in enumerate(devices(count)):
            if index % PENDING_EVERY == 1 and "operator.admin" in record.get("scopes", []):
                request = pending_for(record, index)
                pending.append((request["requestId"], request))
            yield record["deviceId"], record

    _write_object(folder / "paired.json", paired_items())
    _write_object(folder / "pending.json", iter(pending))
    return folder / "paired.json"


PAIRED_COLUMNS = {
    "deviceId": "device_id",
    "publicKey": "public_key",
    "displayName": "display_name",
    "platform": "platform",
    "deviceFamily": "device_family",
    "clientId": "client_id",
    "clientMode": "client_mode",
    "role": "role",
    "roles": "roles_json",
    "scopes": "scopes_json",
    "approvedScopes": "approved_scopes_json",
    "remoteIp": "remote_ip",
    "tokens": "tokens_json",
    "createdAtMs": "created_at_ms",
    "approvedAtMs": "approved_at_ms",
}
JSON_COLUMNS = ("roles_json", "scopes_json", "approved_scopes_json", "tokens_json")
COLUMNS = tuple(PAIRED_COLUMNS.values())


def device_rows(count: int, encode: Any) -> Iterator[tuple[Any, ...]]:
    """Rows for ``device_pairing_paired``; ``encode`` turns a list/object into its column value."""
    for record in devices(count):
        values = []
        for key, column in PAIRED_COLUMNS.items():
            value = record.get(key)
            values.append(encode(value) if column in JSON_COLUMNS and value is not None else value)
        yield tuple(values)


def write_sqlite_store(state_dir: Path, count: int) -> Path:
    """An OpenClaw SQLite state dir (2026.9 generation) with ``count`` devices."""
    database = state_dir / "state" / "openclaw.sqlite"
    database.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(database)
    conn.executescript(SQLITE_SCHEMA.read_text(encoding="utf-8"))
    conn.executemany(
        f"INSERT INTO device_pairing_paired ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in COLUMNS)})",
        # OpenClaw writes these columns with JSON.stringify(value): compact.
        device_rows(
            count, lambda value: json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        ),
    )
    conn.commit()
    conn.close()
    return database


def load_postgres(url: str, count: int) -> None:
    """Fill a PostgreSQL registry with ``count`` devices by COPY (fast enough for a million)."""
    import psycopg
    from psycopg.types.json import Jsonb

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(POSTGRES_SCHEMA.read_text(encoding="utf-8"))
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY device_pairing_paired ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in device_rows(count, Jsonb):
                copy.write_row(row)
        conn.execute("VACUUM ANALYZE device_pairing_paired")


def write_chain(folder: Path, length: int) -> Path:
    """The shipped 2026.2.19 migration followed by ``length - 1`` later releases.

    Later releases look like a product's history after a big repair: each
    grants a feature scope to one kind of client (a watch app, about one
    device in a hundred) or renames one it granted earlier. Every device is
    still checked against every revision; few gain anything.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SHIPPED_MIGRATION.name).write_bytes(SHIPPED_MIGRATION.read_bytes())
    parent = "4f2c19a0b7e1"
    for step in range(1, length):
        revision = f"bench{step:07x}"
        if step % 5 == 0:
            old = f"operator.watch.feature{step - 3}"
            operation = f'kind = "rename"\nrole = "operator"\nold = "{old}"\nnew = "{old}.v2"\n'
        else:
            operation = (
                f'kind = "grant"\nrole = "operator"\nscopes = ["operator.watch.feature{step}"]\n'
            )
        operation += f'client_ids = ["{WATCH_CLIENT}"]\n'
        (folder / f"2026.3.{step}_{revision}.toml").write_text(
            f'revision = "{revision}"\ndown_revision = "{parent}"\n'
            f'release = "2026.3.{step}"\nmessage = "watch feature {step}"\n\n'
            f"[[operations]]\n{operation}",
            encoding="utf-8",
        )
        parent = revision
    return folder
