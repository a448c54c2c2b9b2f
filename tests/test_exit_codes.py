"""The documented exit-code table and the CLI's mapping must not drift apart."""

from __future__ import annotations

import re
from pathlib import Path

from scopemigrate import cli, errors

DOC = Path(__file__).parent.parent / "docs" / "exit-codes.md"


def documented() -> dict[str, int]:
    rows = re.findall(r"^\| (\d+) \| [^|]+ \| `(\w+)` \|$", DOC.read_text(), re.MULTILINE)
    return {name: int(code) for code, name in rows}


def test_every_error_class_has_its_documented_code() -> None:
    table = documented()
    assert table, "no rows parsed from docs/exit-codes.md"
    for cls, code in cli.EXIT_CODES:
        if cls is errors.StoreChangedError:
            continue  # retried internally; surfaces as RunFailedError's code
        assert table[cls.__name__] == code
    assert len(set(table.values())) == len(table), "codes must be distinct"


def test_exit_code_for_subclasses() -> None:
    assert cli.exit_code_for(errors.GraphError("x")) == 4
    assert cli.exit_code_for(errors.StoreChangedError("x")) == 9
    assert cli.exit_code_for(errors.ScopemigrateError("x")) == cli.EXIT_INTERNAL
