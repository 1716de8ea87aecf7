"""Why a URL with credentials is misread: a password holding a character URLs reserve."""
from __future__ import annotations

# Unencoded in the user:password part, each ends it early: "/" and "?" start the path and the
# query, "#" the fragment (URL parsers), so the host becomes "user:pass" and "pass" a port.
RESERVED = "/?#"
FIX = "percent-encode it (/ as %2F, ? as %3F, # as %23, @ as %40)"


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
