"""What the settle window costs a changing ``upgrade head``, with and without a gateway.

After publishing, a run waits for a stale write-back (a gateway that read
``paired.json`` before the publish writing after it) only when a gateway may be
writing: one answers on the port its configuration names, or someone wrote the
store around the commit. Three cases, each the best of ``--rounds`` runs of the
installed CLI on a fresh copy of a synthetic store:

- none: nothing answers on the gateway's port (the run pays no wait);
- idle: a listener answers there but never writes (the wait is paid: what
  every changing run paid before the window was made conditional);
- writing: ``tests/gateway_writer.py`` rewrites the store in a loop, as a
  gateway does, and answers on the port: paced (a pause of about 0.5 s
  between its cycles, a gateway stamping tokens twice a second) and busy
  (back to back, 0.03 s); the exit code is reported too: 0, or 16 when the
  gateway kept undoing the repair.

Usage: python benchmarks/settle_window.py [--sizes 10000,100000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic
from scale import tool

WRITER = Path(__file__).resolve().parent.parent / "tests" / "gateway_writer.py"


def listener() -> tuple[socket.socket, int]:
    """A loopback port that answers (accepts and closes), as an idle gateway's would."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            connection.close()

    threading.Thread(target=answer, daemon=True).start()
    return server, int(server.getsockname()[1])


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as server:
        return int(server.getsockname()[1])  # closed again: nothing answers there


def upgrade(work: Path, chain: Path, port: int) -> tuple[float, int]:
    env = {**os.environ, "OPENCLAW_GATEWAY_PORT": str(port)}
    command = [tool(), "upgrade", "head", "-q", "--no-backup", "--store", str(work)]
    command += ["--migrations", str(chain)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    return time.perf_counter() - started, done.returncode


def measure(count: int, rounds: int, root: Path, chain: Path) -> dict[str, tuple[float, int]]:
    original = root / f"json-{count}"
    synthetic.write_json_store(original, count)
    work = root / f"work-{count}"
    results: dict[str, tuple[float, int]] = {}
    for case in ("none", "idle", "paced", "busy"):
        runs = []
        for attempt in range(rounds):
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(original, work)
            if case == "none":
                runs.append(upgrade(work, chain, free_port()))
            elif case == "idle":
                server, port = listener()
                runs.append(upgrade(work, chain, port))
                server.close()
            else:
                stop = root / f"stop-{count}-{attempt}"
                pause = "0.5" if case == "paced" else "0.03"
                writer = subprocess.Popen(
                    [
                        sys.executable,
                        str(WRITER),
                        str(work),
                        str(stop),
                        str(root / "log"),
                        "1",
                        pause,
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert writer.stdout is not None
                port = int(writer.stdout.readline().split()[1])
                time.sleep(0.5)  # a few of its cycles under way
                runs.append(upgrade(work, chain, port))
                stop.touch()
                writer.wait(timeout=600)
        results[case] = min(runs)
        seconds, code = results[case]
        print(f"  {count:>7} devices  {case:8s} {seconds:7.2f} s  exit {code}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        chain = synthetic.write_chain(root / "chain", 1)
        for count in (int(size) for size in options.sizes.split(",")):
            results = measure(count, options.rounds, root, chain)
            cost = results["idle"][0] - results["none"][0]
            print(f"  {count:>7} devices  window {cost:+.2f} s (idle minus none)", flush=True)


if __name__ == "__main__":
    main()
