"""Whether an OpenClaw gateway is running on this state dir, where OpenClaw lets us see it.

A gateway writes ``paired.json`` without any lock, so a run beside it can be
undone by a stale write-back (see ``gateway.py``). OpenClaw says where its
gateway listens: ``OPENCLAW_GATEWAY_PORT``, else ``gateway.port`` in
``<state>/openclaw.json``, else 18789, on loopback. A port that answers there
is taken as the gateway: reported, never relied on (a gateway of another
state dir may hold the port, and a stopped one may be restarting).
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Mapping
from pathlib import Path

from scopemigrate.errors import ScopemigrateError
from scopemigrate.stores.jsontext import read_regular

__all__ = ["DEFAULT_PORT", "gateway_address", "gateway_answering"]

DEFAULT_PORT = 18789
CONFIG_NAME = "openclaw.json"
# openclaw.json is JSON5 (comments, trailing commas): when it is not plain
# JSON, the port is looked for by its key.
_PORT_KEY = re.compile(rb'"?port"?\s*:\s*(\d{1,5})\b')
PROBE_SECONDS = 0.2


def _port(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    if isinstance(value, str) and value.isdigit():
        return _port(int(value))
    return None


def gateway_address(state_dir: Path, env: Mapping[str, str]) -> tuple[str, int]:
    """Where this state dir's gateway listens, by OpenClaw's own settings."""
    port = _port(env.get("OPENCLAW_GATEWAY_PORT", ""))
    if port is None:
        port = _configured_port(state_dir / CONFIG_NAME)
    return "127.0.0.1", port or DEFAULT_PORT


def _configured_port(path: Path) -> int | None:
    try:
        found = read_regular(path)
    except ScopemigrateError:
        return None  # not a file we read: the default
    if found is None:
        return None
    data = found[1]
    try:
        document = json.loads(data)
    except ValueError:
        key = _PORT_KEY.search(data[data.find(b'"gateway"') :] if b'"gateway"' in data else b"")
        return _port(int(key.group(1))) if key else None
    gateway = document.get("gateway") if isinstance(document, dict) else None
    return _port(gateway.get("port")) if isinstance(gateway, dict) else None


def gateway_answering(state_dir: Path, env: Mapping[str, str]) -> str | None:
    """``host:port`` when something answers where the gateway would listen, else None."""
    host, port = gateway_address(state_dir, env)
    # A plain connect to a numeric address: no name lookup, whose codec (idna)
    # a run that dropped root for the store's owner may no longer import.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(PROBE_SECONDS)
        try:
            probe.connect((host, port))
        except OSError:
            return None
    return f"{host}:{port}"
