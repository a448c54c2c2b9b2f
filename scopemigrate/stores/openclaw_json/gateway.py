"""The race with a running gateway, which rewrites paired.json without any lock.

Three answers, in the order a commit meets them: our changes are *rebased*
onto a version the gateway wrote since we read (each changed field is set
where it still holds the value we read); a stale write-back right after our
publish is *settled* (the fields it reverted get our values again); and
devices it paired meanwhile are *adopted* through the run's ``CatchUp``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scopemigrate.devices import ChangeSet, ScopeList
from scopemigrate.errors import GatewayRewroteError, StoreChangedError
from scopemigrate.ledger import Ledger
from scopemigrate.stores.atomic import exchange, fsync_dir, identity, write_temp
from scopemigrate.stores.base import MAX_ATTEMPTS, CatchUp, Snapshot
from scopemigrate.stores.openclaw_json.index import records_of
from scopemigrate.stores.openclaw_json.records import (
    RawFiles,
    get_scope_list,
    parse_object_file,
    read_regular,
    render_paired,
    restore_reverted,
)

__all__ = ["adopt_newcomers", "keep_published", "rebase", "scope_base", "settle_seconds"]

# A gateway that read paired.json just before our publish writes its stale
# version back within about the time it takes to parse and write the file,
# which is about what our own read takes; wait a few times that, within bounds.
# The floor covers a gateway descheduled for a few time slices on a busy
# machine (measured: 50 ms lost writes with three test runs on two cores, 250
# ms did not); only a run that changes the store pays it, once.
SETTLE_FACTOR = 3.0


SETTLE_MIN_SECONDS = 0.25


SETTLE_MAX_SECONDS = 1.0


SETTLE_ROUNDS = 20


REBASE_ROUNDS = 10

# field values per device: device id -> field -> scope list
Fields = dict[str, dict[str, ScopeList]]


def settle_seconds(read_seconds: float) -> float:
    """How long to wait for a stale write-back, given how long our read took."""
    return min(max(read_seconds * SETTLE_FACTOR, SETTLE_MIN_SECONDS), SETTLE_MAX_SECONDS)


def scope_base(paired: dict[str, Any], changes: ChangeSet) -> Fields:
    """The values, as read, of every field ``changes`` sets."""
    return {
        device_id: {name: get_scope_list(paired[device_id], name) for name in fields}
        for device_id, fields in changes.devices.items()
    }


def rebase(
    raw: RawFiles,
    changes: ChangeSet,
    base: Fields,
    publish: Callable[[RawFiles, Fields], None],
    reread: Callable[[], RawFiles],
    paired_path: Path,
) -> bool:
    """Publish ``changes`` onto ``raw``, rebased onto each rewrite met meanwhile.

    ``publish`` raises ``StoreChangedError``, having published nothing, when
    the files changed since they were read; they are read again and the
    changes set where the fields still hold the values of ``base``.
    Returns whether any rebase was needed.
    """
    for attempt in range(REBASE_ROUNDS):
        try:
            current = records_of(raw.paired_index, changes.devices)
            publish(raw, restore_reverted(current, changes, base))
        except StoreChangedError:
            raw = reread()
            continue
        return attempt > 0
    raise StoreChangedError(
        f"{paired_path}: rewritten by another program throughout {REBASE_ROUNDS} attempts"
    )


def keep_published(
    paired_path: Path, changes: ChangeSet, base: Fields, settle_seconds: float
) -> bool:
    """Make sure a gateway's stale write did not undo ours right after we published.

    A gateway that read paired.json before our rename and writes after it
    puts the old scope lists back. Wait for such a write to land, then
    re-apply our changes to every field it reverted (and only those: a
    field the gateway changed to something else is its own newer decision).
    Returns whether anyone wrote paired.json after us.
    """
    published = identity(paired_path)
    touched = False
    wait = True
    for _ in range(SETTLE_ROUNDS):
        if wait:
            time.sleep(settle_seconds)
        seen, data = read_regular(paired_path)
        if seen == published or data is None:
            return touched
        touched = True
        current = parse_object_file(paired_path, data, "device id")
        restored = restore_reverted(current, changes, base)
        if not restored:
            return touched
        tmp = write_temp(paired_path, render_paired(data, current, restored))
        wait = True
        if not exchange(tmp, paired_path):
            os.replace(tmp, paired_path)
        elif identity(tmp) != seen:
            # Rewritten again meanwhile: put that version back, retry at once.
            exchange(tmp, paired_path)
            wait = False
        tmp.unlink(missing_ok=True)
        fsync_dir(paired_path.parent)
        if wait:
            published = identity(paired_path)
    # Still reverted after every round: a writer that keeps putting the old
    # lists back. Claiming success would leave the ledger ahead of the devices.
    raise GatewayRewroteError(
        f"{paired_path}: a running gateway wrote back the scopes this run had just "
        f"repaired, {SETTLE_ROUNDS} times"
    )


def adopt_newcomers(
    raced: Snapshot[RawFiles] | None,
    ledger: Ledger,
    catch_up: CatchUp | None,
    commit: Callable[[Snapshot[RawFiles], ChangeSet, Ledger], Snapshot[RawFiles] | None],
    read: Callable[[], Snapshot[RawFiles]],
) -> None:
    """Bring up, through ``catch_up``, devices others paired around our commit.

    ``raced`` is the store as others left it (None: nobody wrote around us);
    ``commit`` publishes as the run's commit did and returns the same.
    """
    for _ in range(MAX_ATTEMPTS):
        if raced is None or catch_up is None:
            return
        proposal = catch_up.propose(raced, ledger)
        if proposal is None:
            return
        more, candidate = proposal
        try:
            next_raced = commit(raced, more, candidate)
        except StoreChangedError:
            raced = read()
            continue
        catch_up.accepted()
        ledger, raced = candidate, next_raced
