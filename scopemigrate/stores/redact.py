"""Secrets in store URLs, masked before a URL (or an error about it) is shown.

A PostgreSQL URL may carry a password in its user info
(``postgresql://u:PW@host/db``) and in its query (``?password=PW``,
``?sslpassword=PW``); it reaches us through ``--store``, ``SCOPEMIGRATE_STORE``
and the configuration alike. Every message, ``--json`` document and ledger
entry names a store by ``redact_url`` of it. The URL is masked by its text,
never by a parser: a malformed URL (``postgresql://u:PW@[::1/db``) is masked
as well as a good one, and ``check_url`` then refuses it in one line.

``passfile=PATH`` names a file whose contents are secret; we never read it
(the driver does), so only its path can appear in a message.

Standard library only (``stores/layout.py`` masks the URLs it refuses).
"""

from __future__ import annotations

import re

__all__ = ["MASK", "check_url", "redact_url", "scrub"]

MASK = "***"

# scheme://[userinfo@]rest: the user info runs to the last "@" before the path
# (a password may hold an unescaped "@", "/" or "?" in a malformed URL, so the
# widest match is masked).
_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^#]*@)")
# Any query or key=value parameter whose name holds "password" (password,
# sslpassword, and whatever libpq adds).
_SECRET_PARAM = re.compile(r"(?P<key>(?:^|[?&;\s])[A-Za-z_]*password=)(?P<value>[^&;#\s]*)", re.I)


def _mask_info(found: re.Match[str]) -> str:
    info = found.group("info")[:-1]  # without the "@"
    # The path starts at the first "/" after the host; a "@" beyond it belongs
    # to the path or query, unless the password hid an "@" (masked either way).
    user, colon, _secret = info.partition(":")
    if "/" in user or "?" in user:
        return f"{found.group('head')}{MASK}@"
    return f"{found.group('head')}{user}{':' + MASK if colon else ''}@"


def redact_url(url: str) -> str:
    """``url`` with its password (user info and query) replaced by ``***``."""
    masked = _USERINFO.sub(_mask_info, url, count=1)
    return _SECRET_PARAM.sub(lambda m: m.group("key") + MASK, masked)


def _secrets_of(url: str) -> list[str]:
    found: list[str] = []
    info = _USERINFO.match(url)
    if info is not None:
        _, colon, secret = info.group("info")[:-1].partition(":")
        if colon and secret:
            found.append(secret)
    found += [m.group("value") for m in _SECRET_PARAM.finditer(url) if m.group("value")]
    return found


def scrub(message: str, url: str) -> str:
    """A driver's message about ``url`` with the URL and each of its secrets masked
    (libpq quotes the connection string it could not parse)."""
    text = message.replace(url, redact_url(url))
    for secret in sorted(_secrets_of(url), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def check_url(url: str) -> str | None:
    """What is malformed in a PostgreSQL URL, or None: an unclosed IPv6 bracket, a
    port that is not a number. The answer never quotes the URL."""
    from urllib.parse import urlsplit

    try:
        hosts = urlsplit(url).netloc.rpartition("@")[2]
    except ValueError:  # urllib: "Invalid IPv6 URL"
        return "unbalanced [ ] around an IPv6 address"
    for host in hosts.split(","):  # libpq takes host1:port1,host2:port2
        if host.count("[") != host.count("]"):
            return "unbalanced [ ] around an IPv6 address"
        _, colon, port = host.rpartition("]")[2].rpartition(":")
        if colon and port and not port.isdigit():
            return "a port that is not a number"
    return None
