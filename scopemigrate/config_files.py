"""Where configuration files are looked for: the current folder, then upwards.

As git and the pyproject tools do, a command run from a subfolder of a
project uses the project's configuration: the nearest folder, from the current
one upwards, holding ``scopemigrate.toml`` or a ``pyproject.toml`` with a
``[tool.scopemigrate]`` table. The search stops at a repository's root (a
folder holding ``.git``), so a project never picks up settings from outside it.

``os`` only: the ``upgrade head`` quick answer (``quick/mark.py``) walks the same
folders without paying for TOML or dataclasses.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the quick paths)
if TYPE_CHECKING:
    from collections.abc import Iterator

STANDALONE = "scopemigrate.toml"
PYPROJECT = "pyproject.toml"
REPOSITORY_MARKERS = (".git",)


def search_folders(start: str) -> Iterator[str]:
    """``start``, then each parent, up to a repository's root or the file system's."""
    folder = os.path.abspath(start)
    while True:
        yield folder
        if any(os.path.exists(os.path.join(folder, m)) for m in REPOSITORY_MARKERS):
            return
        parent = os.path.dirname(folder)
        if parent == folder:
            return
        folder = parent
