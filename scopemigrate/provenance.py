"""Provenance per distinct edit: what a revision did, and the devices it did it to.

A revision makes the same few edits to most devices: every CLI operator that
held ``operator.admin`` gains the same two scopes in the same three lists. The
ledger of format 1 wrote those edits once per device, which at a million
devices is about half the size of ``paired.json``. Here a revision's
provenance is a list of groups, one per distinct change (each field a device's
change touched, with its edits in order), each naming the devices it applied
to. A device id appears once per revision, so the ledger grows with the fleet
by an id per changed device and with the chain by its distinct edits.

The conversion from format 1 (device id -> field -> edits) is lossless both
ways, so a ledger written by the previous version is read and migrated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from scopemigrate.operations import FieldEdit

# Format 1: device id -> field -> edits in the order they were made.
DeviceProvenance = dict[str, dict[str, list[FieldEdit]]]
# One device's change in one revision: field -> edits in order.
DeviceChange = Mapping[str, Sequence[FieldEdit]]
_ChangeKey = tuple[tuple[str, tuple[FieldEdit, ...]], ...]


class EditGroup(BaseModel):
    """One distinct change, and every device of the revision it applied to."""

    model_config = ConfigDict(frozen=True)

    # Field -> the edits made to it, in order; fields in the order the engine
    # touched them, so a device's change converts back exactly.
    fields: dict[str, list[FieldEdit]]
    devices: list[str] = Field(default_factory=list)


def _migrate(value: Any) -> Any:
    """Format 1's object keyed by device id becomes the list of groups."""
    if not isinstance(value, Mapping):
        return value
    for device_id, change in value.items():
        if not isinstance(change, Mapping) or not all(
            isinstance(edits, list) for edits in change.values()
        ):
            raise ValueError(f"device {device_id}: expected an object of lists of edits")
    try:
        return group_devices(value.items())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"an edit of format 1 is not valid ({where}: {first['msg']})") from None


# A revision's provenance as the ledger keeps it; a format-1 value is migrated
# on validation, so ``AppliedRevision.provenance: Provenance`` reads both.
Provenance = Annotated[list[EditGroup], BeforeValidator(_migrate)]


def _key(change: DeviceChange) -> _ChangeKey:
    return tuple((name, tuple(edits)) for name, edits in change.items())


class ProvenanceBuilder:
    """Collects one revision's provenance device by device, grouping equal changes.

    Devices with the same role, scopes and token scopes get the same change;
    it is stored once, with the list of its devices.
    """

    def __init__(self) -> None:
        self._groups: dict[_ChangeKey, tuple[DeviceChange, list[str]]] = {}

    def add(self, device_id: str, change: DeviceChange) -> None:
        """Record ``change`` (field -> edits in order), the device's whole change
        in this revision, as made to ``device_id``."""
        self.add_devices((device_id,), change)

    def add_devices(self, device_ids: Iterable[str], change: DeviceChange) -> None:
        """Record ``change`` as made to each of ``device_ids``, in order."""
        if change:
            self.devices_of(change).extend(device_ids)

    def devices_of(self, change: DeviceChange) -> list[str]:
        """The devices ``change`` (not empty) is recorded for, in order: appending
        to it records the change for one more device without keying it again
        (hashing a change's edits was most of a device's cost at 100k)."""
        key = _key(change)
        found = self._groups.get(key)
        if found is None:
            found = self._groups[key] = (dict(key), [])
        return found[1]

    def __len__(self) -> int:
        return sum(len(devices) for _, devices in self._groups.values())

    def build(self) -> list[EditGroup]:
        """The groups, in the order their first device was recorded."""
        return [
            EditGroup(fields={name: list(edits) for name, edits in change.items()}, devices=devices)
            for change, devices in self._groups.values()
        ]


def group_devices(per_device: Iterable[tuple[str, Any]]) -> list[EditGroup]:
    """Format 1's ``(device id, field -> edits)`` pairs as groups (edits validated)."""
    builder = ProvenanceBuilder()
    for device_id, change in per_device:
        builder.add(
            str(device_id),
            {
                str(name): [FieldEdit.model_validate(edit) for edit in edits]
                for name, edits in change.items()
            },
        )
    return builder.build()


def from_device_provenance(provenance: DeviceProvenance) -> list[EditGroup]:
    """Format 1's provenance of one revision as groups, losing nothing."""
    return group_devices(provenance.items())


def iter_device_changes(groups: Iterable[EditGroup]) -> Iterator[tuple[str, DeviceChange]]:
    """Each device's change, group by group: what a downgrade undoes."""
    for group in groups:
        for device_id in group.devices:
            yield device_id, group.fields


def to_device_provenance(groups: Iterable[EditGroup]) -> DeviceProvenance:
    """Groups back as format 1 (device id -> field -> edits)."""
    return {
        device_id: {name: list(edits) for name, edits in change.items()}
        for device_id, change in iter_device_changes(groups)
    }


def changed_devices(groups: Iterable[EditGroup]) -> int:
    """How many devices a revision changed (each is in one group)."""
    return sum(len(group.devices) for group in groups)


def dump_groups(groups: Iterable[EditGroup]) -> Iterator[bytes]:
    """The groups as one JSON list, piece by piece, for a ledger written as it goes.

    One group a line, its device ids on that line without indentation: at a
    million devices the ids are nearly all of the text, and an indented line
    per id would add a fifth to it.
    """
    yield b"["
    separator = b"\n"
    for group in groups:
        yield separator
        yield group.model_dump_json().encode("utf-8")
        separator = b",\n"
    yield b"\n]" if separator != b"\n" else b"]"
