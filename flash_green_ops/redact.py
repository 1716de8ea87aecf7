"""The one place that knows what is secret, and masks it.

Secret *values* are registered in a process-wide set as soon as they are read (from an env
file, the process environment, or a secret backend). Every message, report and log line goes
through :func:`mask` before it leaves the process, so a value that slips into a message by
mistake is still never printed.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote, urlsplit

from flash_green_ops import conninfo

MASK = "***"

# Values this short would mask ordinary text (digits in line numbers); they are still never
# put in messages on purpose, but the safety net cannot catch them without ruining output.
MIN_MASKED_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()


def register(value: str | None) -> None:
    """Remember ``value`` as secret (and its URL-encoded forms, as they appear in URLs)."""
    if not value:
        return
    forms = {value, value.strip(), quote(value, safe=""), quote_plus(value)}
    with _lock:
        _secrets.update(f for f in forms if len(f) >= MIN_MASKED_LENGTH)


def register_all(values: Iterable[str | None]) -> None:
    for value in values:
        register(value)


def mask(text: object) -> str:
    """``text`` as a string with every registered secret value replaced by ``***``."""
    result = str(text)
    with _lock:
        # Longest first, so a secret that contains another is masked whole.
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in result:
            result = result.replace(secret, MASK)
    return result


def is_secret_key(key: str, names: Iterable[str], suffixes: Iterable[str]) -> bool:
    """Whether the *value* of ``key`` is secret, by the contract's names and suffixes."""
    return key in set(names) or any(key.endswith(s) for s in suffixes)


def hides_userinfo(url: str) -> bool:
    """Whether urllib cannot tell where ``url``'s user information ends.

    urllib ends the host part at the first '/', '?' or '#', so an unescaped one inside a
    password (``http://u:pa/ss@host/``) leaves the '@' and the password in the path, and
    urllib sees no password at all. Any '@' after ``scheme://`` that urllib did not read as
    the userinfo's end counts (one in a query too), so such a URL is treated as all secret.
    """
    text = url.strip()
    return "@" in text.partition("://")[2] and "@" not in urlsplit(text).netloc


def url_password(url: str) -> str | None:
    """The password inside a URL (``scheme://user:password@host``) or a libpq conninfo string.

    PostgreSQL URLs and conninfo strings are read as libpq reads them (flash_green_ops/conninfo.py,
    which needs no psycopg: the env stage must not pay its import); other URLs through urllib.
    Raises ValueError when the value cannot be parsed, or when no password was found although
    one may hide after an unescaped '/', '?' or '#': the caller should then treat the whole
    value as secret.
    """
    parts = urlsplit(url.strip())
    if parts.scheme and parts.scheme.lower() not in ("postgresql", "postgres"):
        password = parts.password
    else:
        password = conninfo.parse(url).get("password")
    if not password and hides_userinfo(url):
        raise ValueError("where the URL's user information ends is ambiguous")
    return password or None


def _probable_password(url: str) -> str:
    """What an operator most likely meant as the password: from the first ':' after
    ``scheme://`` to the last '@'. Registered when no parser could locate the password."""
    userinfo = url.strip().partition("://")[2].rpartition("@")[0]
    return userinfo.partition(":")[2]


def register_env(values: Mapping[str, str], names: Iterable[str], suffixes: Iterable[str],
                 url_keys: Iterable[str]) -> None:
    """Register every secret value of an environment mapping, per the contract's rules."""
    names, suffixes = list(names), list(suffixes)
    for key, value in values.items():
        if is_secret_key(key, names, suffixes):
            register(value)
    for key in url_keys:
        register_url(values.get(key))


def register_url(url: str | None) -> None:
    """Register the password inside ``url`` (as written and percent-decoded: both may be
    quoted), or the whole value when its password cannot be located."""
    if not url:
        return
    try:
        password = url_password(url)
    except Exception:  # unparseable URL: its password cannot be located, so hide it all
        register(url)
        register(_probable_password(url))
    else:
        register_all([password, unquote(password or "")])
