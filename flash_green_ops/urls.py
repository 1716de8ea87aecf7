"""URLs from operator input: urllib's split with its one refusal turned into a message, and why
a URL with credentials is misread (a password holding a character URLs reserve).

Messages name the fault and never quote the value, which may hold a password.
"""
from __future__ import annotations

from urllib.parse import SplitResult, urlsplit, urlunsplit

from flash_green_ops import redact

# ``urlsplit`` raises ValueError on one fault only: square brackets in the host part that do not
# hold an IPv6 address (``http://[::1/x``, ``http://[db]/``).
BAD_BRACKETS = "has '[' or ']' in its host that do not enclose an IPv6 address (as in http://[::1]:8080/)"
# Unencoded in the user:password part, each ends it early: "/" and "?" start the path and the
# query, "#" the fragment (URL parsers), so the host becomes "user:pass" and "pass" a port.
RESERVED = "/?#"
FIX = "percent-encode it (/ as %2F, ? as %3F, # as %23, @ as %40)"


def split(value: str) -> SplitResult:
    """``urlsplit(value.strip())``; raises ValueError(BAD_BRACKETS) where urllib refuses it."""
    try:
        return urlsplit(value.strip())
    except ValueError:
        raise ValueError(BAD_BRACKETS) from None


def scheme(value: str) -> str:
    """The scheme in lower case; "" when there is none or the value is not a URL."""
    try:
        return split(value).scheme.lower()
    except ValueError:
        return ""


def unencoded_in_password(url: str) -> str:
    """The reserved characters (RESERVED, or a second "@") found unencoded in ``url``'s
    ``user:password@`` part, "" when none. Never returns the password itself."""
    _, sep, rest = url.strip().partition("://")
    if not sep or "@" not in rest:
        return ""
    userinfo, _, host = rest.rpartition("@")
    if ":" not in userinfo:  # no password
        return ""
    password = userinfo.split(":", 1)[1]
    if "=" in password.partition("?")[2]:  # "host:port/db?key=a@b": an "@" in a query value
        return ""
    return "".join(c for c in RESERVED + "@" if c in password)


def display_url(url: str) -> str:
    """``url`` without user:password@ and with every registered secret masked, for messages."""
    try:
        parts = split(url)
    except ValueError:
        return "(a URL that does not parse)"
    if redact.hides_userinfo(url) or ("@" in url and "@" not in parts.netloc):
        # urllib cannot tell where the password ends (an unescaped '/', '?' or '#' in it), or
        # there is no "scheme://" at all (``user:pw@host``), so no part after the scheme can be
        # shown safely.
        return f"{parts.scheme}://{redact.MASK}" if parts.netloc else redact.MASK
    if "@" not in parts.netloc:
        return redact.mask(url)
    # Drop everything up to the last "@": parts.port would raise on a port out of range.
    return redact.mask(urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])))
