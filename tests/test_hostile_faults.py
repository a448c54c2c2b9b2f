"""Resource faults: out of space or quota at any step of a run leaves nothing behind.

The fault is injected at the OS-call seam (every call a run makes that can
allocate: creating a file or folder, linking, renaming, flushing), once per
call position in turn, so each step of the commit is hit, on any machine
(no mount needed).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_store
from hostile import tree_state

from scopemigrate import commands, load_config
from scopemigrate.errors import ScopemigrateError

SEAM = ("open", "mkdir", "link", "replace", "rename", "fsync", "symlink")


@contextmanager
def faulty_os(fail_at: int | None, code: int) -> Iterator[list[str]]:
    """Count the seam's calls; the one numbered ``fail_at`` fails with ``code``."""
    calls: list[str] = []
    originals = {name: getattr(os, name) for name in SEAM}

    def wrap(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if name == "open" and not (args[1] & os.O_CREAT):
                return real(*args, **kwargs)  # reading allocates nothing
            calls.append(name)
            if len(calls) - 1 == fail_at:
                raise OSError(code, os.strerror(code))
            return real(*args, **kwargs)

        return call

    with pytest.MonkeyPatch.context() as patch:
        for name, real in originals.items():
            patch.setattr(os, name, wrap(name, real))
        yield calls


def leftovers(store: Path) -> list[str]:
    devices = store / "devices"
    return sorted(
        p.name
        for p in devices.iterdir()
        if p.name.endswith(".scopemigrate-tmp") or p.name == "scopemigrate-journal.json"
    )


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
@pytest.mark.parametrize("verb", ["upgrade", "downgrade"])
def test_no_space_at_any_step_leaves_no_temp_file(tmp_path: Path, code: int, verb: str) -> None:
    def fresh(index: int) -> Path:
        store = copy_store("2026.2.15-mixed", tmp_path / f"s{index}")
        if verb == "downgrade":
            commands.upgrade(load_config(store=str(store), env={}), "head")
        return store

    def act(store: Path) -> None:
        config = load_config(store=str(store), env={})
        if verb == "upgrade":
            commands.upgrade(config, "head")
        else:
            commands.downgrade(config, "base")

    with faulty_os(None, code) as calls:
        act(fresh(0))
    assert len(calls) > 5  # the seam sees the commit
    for step in range(len(calls)):
        store = fresh(step + 1)
        before = tree_state(store)
        failed = False
        with faulty_os(step, code):
            try:
                act(store)
            except ScopemigrateError as exc:
                failed = True
                assert "\n" not in str(exc)
        assert leftovers(store) == [], (step, calls[step])
        if failed:  # a fault after the first publish is rolled forward at once
            after = tree_state(store)
            assert {k: v for k, v in after.items() if "backups" not in k} == {
                k: v for k, v in before.items() if "backups" not in k
            }, (step, calls[step])
