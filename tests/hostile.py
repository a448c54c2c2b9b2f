"""Helpers of the hostile-store suites: a store's exact state, and what a clean refusal is."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

FileState = tuple[str, int, int, int, bytes | str | None]
# The lock file is the tool's own (empty, kept between runs), not store data.
LOCK_NAME = ".scopemigrate.lock"


def tree_state(root: Path) -> dict[str, FileState]:
    """Every entry under ``root``: its kind, owner, group, mode, and bytes (files) or
    target (links), without following a link: byte for byte, mode for mode."""
    found: dict[str, FileState] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in [*dirs, *files]:
            if name == LOCK_NAME:
                continue
            path = Path(folder) / name
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                content: bytes | str | None = os.readlink(path)
                kind = "link"
            elif stat.S_ISREG(st.st_mode):
                content = path.read_bytes()
                kind = "file"
            else:
                content, kind = None, "dir" if stat.S_ISDIR(st.st_mode) else "other"
            found[str(path.relative_to(root))] = (
                kind,
                st.st_uid,
                st.st_gid,
                stat.S_IMODE(st.st_mode),
                content,
            )
    return found


def assert_clean_refusal(
    done: subprocess.CompletedProcess[str], code: int, *secrets_never_shown: str
) -> None:
    """One line on stderr starting ``error:``, the expected exit code, no traceback,
    and none of ``secrets_never_shown`` anywhere in the output."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    for secret in secrets_never_shown:
        assert secret not in done.stdout + done.stderr


def node_parses(*paths: Path) -> None:
    """OpenClaw's own reader accepts each file: ``JSON.parse`` in node, and finds no
    value it would read differently from what we meant (a finite number)."""
    script = (
        "const fs = require('fs');"
        "for (const p of process.argv.slice(1)) {"
        "  const v = JSON.parse(fs.readFileSync(p, 'utf8'));"
        "  const walk = (x) => { if (typeof x === 'number' && !isFinite(x)) throw p;"
        "    if (x && typeof x === 'object') Object.values(x).forEach(walk); };"
        "  walk(v); }"
    )
    done = subprocess.run(
        ["node", "-e", script, *map(str, paths)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
