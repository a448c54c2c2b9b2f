"""Release ordering.

OpenClaw versions look like ``2026.2.19``, ``2026.2.19-2`` (a correction build,
after the release) and ``2026.2.23-beta.1`` (before the release). ``packaging``
already reads those forms as PEP 440 post- and pre-releases, so they order
correctly without any code of ours.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from scopemigrate.errors import ConfigError


def parse_release(text: str) -> Version:
    """Parse a release string, raising ``ConfigError`` with the text on failure."""
    try:
        return Version(text.strip())
    except InvalidVersion:
        raise ConfigError(
            f"{text!r} is not a release version (expected a form such as 2026.2.19, "
            "2026.2.19-2 or 2026.2.23-beta.1)"
        ) from None


def selection_ceiling(installed: Version) -> Version:
    """The highest migration release that an installed version already carries.

    A pre-release of a release (``2026.2.23-beta.1``) carries that release's
    scope changes, so it selects the revisions of ``2026.2.23`` itself: a grant
    applied early is harmless, a missing one breaks clients. Every other form
    selects revisions at or below itself.
    """
    if installed.is_prerelease or installed.is_devrelease:
        return Version(installed.base_version)
    return installed


def looks_like_release(text: str) -> bool:
    """True when ``text`` parses as a release and starts with a digit."""
    if not text[:1].isdigit():
        return False
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True
