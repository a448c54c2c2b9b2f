"""A throwaway PostgreSQL server for the tests: initdb and pg_ctl in a temp dir.

PostgreSQL refuses to run as root; as root the server runs as the
unprivileged ``postgres`` user (created by Debian's package), listening only
on a Unix socket inside its own directory. The tests' server does not fsync
(nothing it holds must survive a crash); the benchmarks' does, as a
production server would (``durable=True``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PORT = 54329


def find_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed (the nox tests session installs it)"
        )
    return candidates[-1]


@dataclass
class Server:
    root: Path
    user: str | None  # who runs the server when we are root
    durable: bool = False  # fsync as a production server does (the benchmarks)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/scopemigrate?host={self.root}&port={PORT}"

    def admin_url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.root}&port={PORT}"

    def _run(self, *args: str) -> None:
        command = list(args)
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        data = self.root / "data"
        self._run(
            find_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        options = f"-c listen_addresses='' -k {self.root} -p {PORT}"
        if not self.durable:
            options += " -c fsync=off"
        self._run(
            find_bin("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )
        self._run(
            find_bin("createdb"),
            "-h",
            str(self.root),
            "-p",
            str(PORT),
            "-U",
            "postgres",
            "scopemigrate",
        )

    def stop(self) -> None:
        try:
            self._run(find_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_server(durable: bool = False) -> Server:
    root = Path(tempfile.mkdtemp(prefix="scopemigrate-pg-"))
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        entry = pwd.getpwnam(user)  # Debian's postgresql package creates this user
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = Server(root, user, durable)
    try:
        server.start()
    except BaseException:
        log = root / "log"
        detail = log.read_text() if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {detail[-2000:]}") from None
    return server
