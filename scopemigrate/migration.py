"""The migration model: one revision of the scope schema, as pure validated data."""

from __future__ import annotations

import re
from typing import Any

from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field, field_validator

from scopemigrate.operations import Operation
from scopemigrate.versions import looks_like_release, parse_release

REVISION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _as_tuple(value: Any) -> Any:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return value


class Migration(BaseModel):
    """A migration file's content. Loading one never executes code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    revision: str
    # Parents; empty for a base, several for a merge. TOML has no null, so a
    # base omits the key or writes an empty string or list.
    down_revision: tuple[str, ...] = ()
    release: str
    message: str = ""
    branch_labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    operations: tuple[Operation, ...] = Field(default=())

    @field_validator("down_revision", "branch_labels", "depends_on", mode="before")
    @classmethod
    def _listish(cls, value: Any) -> Any:
        return _as_tuple(value)

    @field_validator("revision")
    @classmethod
    def _revision(cls, value: str) -> str:
        if not REVISION_PATTERN.match(value):
            raise ValueError(
                f"revision id {value!r} must be letters, digits, '_' or '-' (at most 64)"
            )
        return value

    @field_validator("release")
    @classmethod
    def _release(cls, value: str) -> str:
        # A ValueError, so that a bad release in a file is a migration-file
        # error naming the file and field, not a configuration error.
        if not looks_like_release(value):
            raise ValueError(
                f"{value!r} is not a release version (expected a form such as 2026.2.19, "
                "2026.2.19-2 or 2026.2.23-beta.1)"
            )
        return value

    @property
    def release_version(self) -> Version:
        return parse_release(self.release)

    def to_document(self) -> dict[str, Any]:
        """The TOML document for this migration (what ``revision`` writes)."""
        doc: dict[str, Any] = {"revision": self.revision}
        if len(self.down_revision) == 1:
            doc["down_revision"] = self.down_revision[0]
        elif self.down_revision:
            doc["down_revision"] = list(self.down_revision)
        doc["release"] = self.release
        doc["message"] = self.message
        if self.branch_labels:
            doc["branch_labels"] = list(self.branch_labels)
        if self.depends_on:
            doc["depends_on"] = list(self.depends_on)
        doc["operations"] = [
            {"kind": op.kind} | op.model_dump(mode="json", exclude_defaults=True)
            for op in self.operations
        ]
        return doc
