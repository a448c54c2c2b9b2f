"""What every verb's result shares: one ``to_json``.

The verbs return frozen dataclasses; ``--json`` prints their fields, plus the
computed properties a result names in ``json_extra``, so the JSON and the
Python API always say the same thing.
"""

from __future__ import annotations

from dataclasses import Field, asdict
from typing import Any, ClassVar

__all__ = ["JsonResult"]


class JsonResult:
    """Mixin for a result dataclass: ``to_json`` = its fields + its ``json_extra`` properties."""

    json_extra: ClassVar[tuple[str, ...]] = ()
    # Set by @dataclass on each result; declared so that asdict accepts ``self``.
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def to_json(self) -> dict[str, Any]:
        fields: dict[str, Any] = asdict(self)
        return fields | {name: getattr(self, name) for name in self.json_extra}
