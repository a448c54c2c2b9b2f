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
from typing import Any, TypeVar

import orjson

from scopemigrate.devices import ChangeSet, ScopeList
from scopemigrate.errors import GatewayRewroteError, StoreChangedError
from scopemigrate.ledger import Ledger
from scopemigrate.logs import get_logger
from scopemigrate.stores.atomic import (
    Content,
    Identity,
    content_bytes,
    exchange,
    fsync_dir,
    identity,
    set_aside,
    write_temp,
)
from scopemigrate.stores.base import (
    MAX_ATTEMPTS,
    CatchUp,
    Snapshot,
    without_cycle_collector,
)
from scopemigrate.stores.openclaw_json.index import records_of
from scopemigrate.stores.openclaw_json.records import (
    RawFiles,
    dump_openclaw_json,
    ends_with_newline,
    get_scope_list,
    parse_object_file,
    read_bytes,
    read_regular,
    restore_reverted,
)

__all__ = [
    "Lineage",
    "adopt_newcomers",
    "keep_published",
    "rebase",
    "rebase_displaced",
    "scope_base",
    "settle_seconds",
]

log = get_logger(__name__)

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

# Rebases onto the writes our swaps displace, before giving up (exit 16): each
# is cheap next to a redone run, and a gateway that pauses between its writes
# for about as long as one rebase takes leaves a gap well within twenty.
DISPLACED_ROUNDS = 20

# field values per device: device id -> field -> scope list
Fields = dict[str, dict[str, ScopeList]]
T = TypeVar("T")


def settle_seconds(read_seconds: float) -> float:
    """How long to wait for a stale write-back, given how long our read took."""
    return min(max(read_seconds * SETTLE_FACTOR, SETTLE_MIN_SECONDS), SETTLE_MAX_SECONDS)


def scope_base(paired: dict[str, Any], changes: ChangeSet) -> Fields:
    """The values, as read, of every field ``changes`` sets.

    Devices sharing a record's view (``index.records_of``: one per distinct set
    of lists) and a change (the engine's, one per shape) share one dict: at
    100k devices, one dict per device was a tenth of the commit's time."""
    shared: dict[tuple[int, int], dict[str, ScopeList]] = {}
    base: Fields = {}
    for device_id, fields in changes.devices.items():
        record = paired[device_id]
        key = (id(record), id(fields))  # both held by their maps throughout
        values = shared.get(key)
        if values is None:
            values = shared[key] = {name: get_scope_list(record, name) for name in fields}
        base[device_id] = values
    return base


def rebase(
    raw: RawFiles,
    changes: ChangeSet,
    base: Fields,
    publish: Callable[[RawFiles, Fields], T],
    reread: Callable[[], RawFiles],
    paired_path: Path,
) -> tuple[T, bool]:
    """Publish ``changes`` onto ``raw``, rebased onto each rewrite met meanwhile.

    ``publish`` raises ``StoreChangedError``, having published nothing, when
    the files changed since they were read; they are read again and the
    changes set where the fields still hold the values of ``base``.
    Returns what ``publish`` returned, and whether any rebase was needed.
    """
    for attempt in range(REBASE_ROUNDS):
        try:
            current = records_of(raw.paired_index, changes.devices)
            published = publish(raw, restore_reverted(current, changes, base))
        except StoreChangedError:
            log.info("%s: rewritten by another program: rebasing the commit", paired_path)
            raw = reread()
            continue
        return published, attempt > 0
    raise StoreChangedError(
        f"{paired_path}: rewritten by another program throughout {REBASE_ROUNDS} attempts"
    )


class Lineage:
    """One store file as this run published it, and the versions others wrote over it.

    ``truth`` is what the file must hold: our version, with every record that
    another program's version changed carried in (the devices it paired, the
    stamps it set) and our edits re-applied to it (``reapply``: only where it
    holds what we read; it says whether it changed anything). A record that a
    writer's version holds as one of our published versions held it, the
    writer did not change: ours stands (it may carry what an earlier writer's
    version added, which that writer never saw). Nothing is parsed until
    another program has written; our versions are kept as the trees published
    (records are never edited once in one).
    """

    def __init__(
        self,
        path: Path,
        ours: Identity | None,
        data: Content,
        reapply: Callable[[dict[str, Any]], Fields],
        render: Callable[[bytes, dict[str, Any], Fields], bytes],
        keyed_by: str,
    ):
        self.path = path
        self.ours: set[Identity | None] = {ours}
        self._data = data  # a writer is run again only once another program wrote
        self._reapply = reapply  # our edits, in place; returns what it set, by key
        self._render = render  # a writer's bytes with what reapply set spliced in
        self._keyed_by = keyed_by
        self._exposed: list[dict[str, Any]] = []  # every version of ours that was at path
        self._truth: dict[str, Any] | None = None
        # The last version absorbed: its bytes, what reapply set, whether records
        # of ours were carried into it (then it is written whole).
        self._found: tuple[bytes, Fields, bool] | None = None

    def absorb(self, data: bytes) -> bool:
        """Carry another program's version into ``truth``; whether it lacks something
        of ``truth`` (so ``truth`` must be published over it)."""
        with without_cycle_collector():  # it parses whole files
            return self._absorb(data)

    def _absorb(self, data: bytes) -> bool:
        if self._truth is None:
            self._truth = parse_object_file(self.path, content_bytes(self._data), self._keyed_by)
            self._exposed.append(self._truth)
        truth = self._truth
        theirs = parse_object_file(self.path, data, self._keyed_by)
        edited = self._reapply(theirs)  # in place: theirs, our edits re-applied
        carried = False
        merged: dict[str, Any] = {}
        for key in [*theirs, *(key for key in truth if key not in theirs)]:
            value = theirs.get(key, _ABSENT)
            if any(version.get(key, _ABSENT) == value for version in self._exposed):
                kept = truth.get(key, _ABSENT)  # as we published it: not theirs to change
                carried = carried or kept != value
                value = kept
            if value is not _ABSENT:
                merged[key] = value
        self._truth = merged
        self._found = (data, edited, carried)
        return bool(edited) or carried

    def publish(self, absorbed: Identity | None) -> Path | None:
        """Swap ``truth`` in; returns the version it displaced when that is one
        neither ours nor the one ``absorb`` took in (``absorbed``): a newer write."""
        assert self._truth is not None and self._found is not None, "publish before absorb"
        data, edited, carried = self._found
        if carried:
            rendered = _dump_whole(self._truth, ends_with_newline(data))
        else:
            rendered = self._render(data, self._truth, edited)
        tmp = write_temp(self.path, rendered)
        self.ours.add(identity(tmp))
        self._exposed.append(self._truth)
        if not exchange(tmp, self.path):
            os.replace(tmp, self.path)  # no renameat2 here: docs/threat-model.md
            return None
        return set_aside(tmp, self.path, {*self.ours, absorbed})

    def accept(self, seen: Identity | None) -> None:
        """The version at path, ``seen``, holds all of ``truth``: it counts as ours."""
        self.ours.add(seen)
        if self._truth is not None:
            self._exposed.append(self._truth)


_ABSENT: Any = object()  # a key a version does not hold


def _dump_whole(value: dict[str, Any], trailing_newline: bool) -> bytes:
    """``dump_openclaw_json``'s bytes, by orjson where it can: the rebase races a
    writer, and the standard library's indenting writer takes most of a round
    (five times orjson's at 400 devices). orjson refuses integers beyond 64 bits;
    its floats are the shortest that read back the same (``JSON.parse`` reads
    either spelling as the same number)."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    except TypeError:
        return dump_openclaw_json(value, trailing_newline)
    return text + b"\n" if trailing_newline else text


def rebase_displaced(lineage: Lineage, displaced: Path | None) -> bool:
    """Rebase onto each version our swaps displaced, until one displaces only ours.

    Returns whether there was any. Each is deleted only once a version holding
    it is published.
    """
    met = displaced is not None
    for _ in range(DISPLACED_ROUNDS):
        if displaced is None:
            if met:
                fsync_dir(lineage.path.parent)  # our last swap, made durable
            return met
        data = read_bytes(displaced)
        newer = lineage.publish(None) if data is not None and lineage.absorb(data) else None
        displaced.unlink()
        displaced = newer
    raise GatewayRewroteError(
        f"{lineage.path}: rewritten by another program at each of {DISPLACED_ROUNDS} publishes"
    )


def keep_published(
    lineage: Lineage, displaced: Path | None, settle_seconds: float, gateway_seen: bool
) -> bool:
    """Make sure no other program's write undoes ours, or is lost, once we published.

    First whatever our publish displaced is rebased onto. Then, when a gateway
    may be writing (``gateway_seen``, or someone wrote around our publish), wait
    for a stale write-back (a gateway that read before our publish, writing
    after it): it is taken in, and our changes re-applied to every field it
    reverted (only those: a field it changed to something else is its own
    newer decision). Returns whether anyone wrote the file after us.
    """
    touched = rebase_displaced(lineage, displaced)
    if not (gateway_seen or touched):
        return touched  # no writer: nothing to wait for (docs/threat-model.md)
    for _ in range(SETTLE_ROUNDS):
        time.sleep(settle_seconds)
        if identity(lineage.path) in lineage.ours:
            return touched
        seen, data = read_regular(lineage.path)
        if data is None or seen in lineage.ours:
            return touched
        touched = True
        if not lineage.absorb(data):
            lineage.accept(seen)
            return touched
        rebase_displaced(lineage, lineage.publish(seen))
        fsync_dir(lineage.path.parent)
    # Still reverted after every round: a writer that keeps putting the old
    # lists back. Claiming success would leave the ledger ahead of the devices.
    raise GatewayRewroteError(
        f"{lineage.path}: a running gateway wrote back the scopes this run had just "
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
