"""Where scopemigrate runs: Linux and macOS.

The commit protocol relies on POSIX file semantics that Windows does not
offer: ``os.O_NOFOLLOW`` against planted symlinks, fsync of a directory so a
rename survives a crash, and renaming over a file another process holds
open. Rather than run there with weaker guarantees than the docs promise, the
console entry refuses at start, before it reads anything.
"""

from __future__ import annotations

import sys

# Its own code: not an error of the store, the files or the configuration.
EXIT_UNSUPPORTED_PLATFORM = 13


def refusal(platform: str) -> str | None:
    """The one-line refusal for ``platform`` (a ``sys.platform`` value), or None."""
    if platform.startswith(("win32", "cygwin", "msys")):
        return (
            "error: scopemigrate runs on Linux and macOS only; Windows lacks the "
            "POSIX file semantics its crash-safe commits rely on (use WSL)"
        )
    return None


def refuse_unsupported() -> None:
    """Exit with ``EXIT_UNSUPPORTED_PLATFORM`` and one line on stderr on Windows."""
    message = refusal(sys.platform)
    if message is not None:
        print(message, file=sys.stderr)
        sys.exit(EXIT_UNSUPPORTED_PLATFORM)
