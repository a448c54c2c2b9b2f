"""Release ordering.

OpenClaw versions look like ``2026.2.19``, ``2026.2.19-2`` (a correction build,
after the release) and ``2026.2.23-beta.1`` (before the release). ``packaging``
already reads those forms as PEP 440 post- and pre-releases, so they order
correctly without any code of ours.

Two more spellings reach us from install steps, and each is read as the
upstream release it names:

- a git tag's leading ``v`` (``v2026.2.19``) is dropped;
- a Debian package version, told apart by an epoch (``1:2026.2.19-1``) or a
  tilde (``2026.2.19~beta1-1``). The epoch is dropped: it only says that the
  package's numbering was reset, and migrations are tagged with OpenClaw's
  own releases. The Debian revision after the last ``-`` is dropped: it is
  the packaging's build, the same upstream code. A tilde sorts before the
  release in Debian, so ``~beta1`` is a pre-release, as ``-beta.1`` is.

A Debian version without an epoch or a tilde (``2026.2.19-1``) cannot be told
from OpenClaw's correction build of the same spelling, and is read as one:
it selects the revisions of ``2026.2.19`` and of any correction build up to
``-1``.

Only ``os``-level cost at import: ``packaging`` and ``re`` load when a version
is not a plain dotted release (``plain_release`` orders those alone, as
``packaging`` would), so the hook's no-op with ``2026.2.19`` pays for neither.
"""

from __future__ import annotations

from scopemigrate.errors import ConfigError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the quick paths)
if TYPE_CHECKING:
    from packaging.version import Version

RELEASE_FORMS = (
    "expected a form such as 2026.2.19, 2026.2.19-2, 2026.2.23-beta.1, v2026.2.19 "
    "or a Debian version such as 1:2026.2.19-1"
)

# [epoch:]upstream[-revision] as dpkg writes it; only an epoch or a tilde marks
# a version as Debian's (see the module's docstring).
_DEBIAN = r"\A(?:\d+:)?(?P<upstream>\d[0-9A-Za-z.+~-]*?)(?:-[0-9A-Za-z.+~]+)?\Z"
_ASCII_DIGITS = frozenset("0123456789")


def plain_release(text: str) -> tuple[int, ...] | None:
    """A plain dotted release (``2026.2.19``, after ``upstream_release``) as the key
    ``packaging`` orders it by (trailing zeros dropped), else None."""
    parts = upstream_release(text).split(".")
    if not all(part and _ASCII_DIGITS.issuperset(part) for part in parts):
        return None
    key = [int(part) for part in parts]
    while key and key[-1] == 0:
        key.pop()
    return tuple(key)


def upstream_release(text: str) -> str:
    """The release a version string names, in a form ``packaging`` reads."""
    value = text.strip()
    if value[:1] in ("v", "V") and value[1:2].isdigit():
        value = value[1:]
    if ":" in value or "~" in value:
        import re

        found = re.match(_DEBIAN, value)
        if found is not None:
            value = found.group("upstream").replace("~", "-")
    return value


def parse_release(text: str) -> Version:
    """Parse a release string, raising ``ConfigError`` with the text on failure."""
    from packaging.version import InvalidVersion, Version

    value = upstream_release(text)
    if value[:1].isdigit():
        try:
            return Version(value)
        except InvalidVersion:
            pass
    raise ConfigError(f"{text!r} is not a release version ({RELEASE_FORMS})")


def selection_ceiling(installed: Version) -> Version:
    """The highest migration release that an installed version already carries.

    A pre-release of a release (``2026.2.23-beta.1``) carries that release's
    scope changes, so it selects the revisions of ``2026.2.23`` itself: a grant
    applied early is harmless, a missing one breaks clients. Every other form
    selects revisions at or below itself.
    """
    if installed.is_prerelease or installed.is_devrelease:
        from packaging.version import Version

        return Version(installed.base_version)
    return installed


def looks_like_release(text: str) -> bool:
    """True when ``text`` names a release in one of the forms above."""
    if plain_release(text) is not None:
        return True  # packaging reads every plain dotted release
    try:
        parse_release(text)
    except ConfigError:
        return False
    return True
