"""Where OpenClaw keeps its state, resolved exactly the way OpenClaw does."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

LEGACY_DIRS = (".clawdbot", ".moldbot", ".moltbot")


def _expand(value: str, home: Path) -> Path:
    if value == "~" or value.startswith("~/"):
        return home / value[2:] if len(value) > 1 else home
    return Path(value)


def openclaw_home(env: Mapping[str, str]) -> Path:
    value = env.get("OPENCLAW_HOME") or env.get("HOME") or str(Path.home())
    return _expand(value, Path(env.get("HOME") or Path.home()))


def resolve_state_dir(env: Mapping[str, str] | None = None, profile: str | None = None) -> Path:
    """The state dir: env override, profile, ``~/.openclaw``, a legacy dir, or the default."""
    env = os.environ if env is None else env
    home = openclaw_home(env)
    for name in ("OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR"):
        value = env.get(name, "").strip()
        if value:
            return _expand(value, home)
    if profile:
        return home / f".openclaw-{profile}"
    default = home / ".openclaw"
    if default.is_dir():
        return default
    for legacy in LEGACY_DIRS:
        if (home / legacy).is_dir():
            return home / legacy
    return default
