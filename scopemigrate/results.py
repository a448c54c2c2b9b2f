"""What every verb's result shares: one ``to_json``, and the one JSON document printer.

The verbs return frozen dataclasses; ``--json`` prints their fields, plus the
computed properties a result names in ``json_extra``, so the JSON and the
Python API always say the same thing. Every document printed, a result's or
an error's, carries ``schema_version`` (docs/json.md lists the schemas).

Standard library only: the quick paths print documents too.
"""

from __future__ import annotations

import json
from dataclasses import Field, asdict
from typing import Any, ClassVar

__all__ = ["SCHEMA_VERSION", "JsonResult", "json_document"]

# Raised when a document loses or renames a key, or changes a key's type or
# meaning; a key added is not a new version (readers must ignore unknown keys).
SCHEMA_VERSION = 1


def json_document(data: dict[str, Any]) -> str:
    """The text of one ``--json`` document: ``schema_version`` first, then ``data``."""
    return json.dumps({"schema_version": SCHEMA_VERSION, **data}, indent=2, ensure_ascii=False)


class JsonResult:
    """Mixin for a result dataclass: ``to_json`` = its fields + its ``json_extra`` properties."""

    json_extra: ClassVar[tuple[str, ...]] = ()
    # Set by @dataclass on each result; declared so that asdict accepts ``self``.
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def to_json(self) -> dict[str, Any]:
        fields: dict[str, Any] = asdict(self)
        return fields | {name: getattr(self, name) for name in self.json_extra}
