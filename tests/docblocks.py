"""The shell blocks of a Markdown page, and whether a command's output matches a shown one.

The convention (docs/contributing.md):

- A fenced block whose info string is ``sh`` (or ``bash``, ``shell``) is run.
- A ``text`` block right after it (blank lines between at most) is its
  expected output, stdout and stderr together as a terminal shows them.
- ``<!-- docs-test: skip WHY -->`` on the line before a block keeps it from
  running; ``<!-- docs-test: exit N -->`` says it must exit N instead of 0.
- In shown output, a line holding only ``…`` stands for any number of lines,
  and ``…`` inside a line for any text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SHELLS = ("sh", "bash", "shell")
_FENCE = re.compile(r"^(```+)\s*([\w-]*)[^\n]*$")
_MARK = re.compile(r"^<!--\s*docs-test:\s*(skip|exit)\b\s*(.*?)\s*-->$")


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    script: str
    skip: str | None = None  # why it is not run
    exit_code: int = 0
    expected: str | None = None  # the text block that follows, if any

    @property
    def where(self) -> str:
        return f"{self.page.name}:{self.line}"


def shell_blocks(page: Path) -> list[Block]:
    """Every shell block of ``page`` in order, with its marks and shown output."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    previous: Block | None = None  # a shell block whose output may follow
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            if lines[index].strip():
                previous = None
            index += 1
            continue
        fence, info = opening.groups()
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != fence:
            end += 1
        body = "\n".join(lines[index + 1 : end]) + "\n"
        if info in SHELLS:
            block = Block(page, index + 1, body)
            mark = _mark_before(lines, index)
            if mark is not None:
                kind, value = mark
                if kind == "skip":
                    if not value:
                        raise ValueError(f"{page.name}:{index + 1}: say why a block is skipped")
                    block.skip = value
                else:
                    block.exit_code = int(value)
            blocks.append(block)
            previous = block
        elif info == "text" and previous is not None:
            previous.expected = body
            previous = None
        else:
            previous = None
        index = end + 1
    return blocks


def _mark_before(lines: list[str], index: int) -> tuple[str, str] | None:
    above = index - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    found = _MARK.match(lines[above].strip()) if above >= 0 else None
    return (found.group(1), found.group(2)) if found else None


def _line_pattern(expected: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in expected.split("…")) + r"\Z")


def output_matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` is what ``expected`` shows, with ``…`` as wildcards."""
    want = [line.rstrip() for line in expected.rstrip("\n").splitlines()]
    got = [line.rstrip() for line in actual.rstrip("\n").splitlines()]

    def match(w: int, g: int) -> bool:
        if w == len(want):
            return g == len(got)
        if want[w].strip() == "…":
            return any(match(w + 1, k) for k in range(g, len(got) + 1))
        return (
            g < len(got)
            and _line_pattern(want[w]).match(got[g]) is not None
            and match(w + 1, g + 1)
        )

    return match(0, 0)
