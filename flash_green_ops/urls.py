"""URLs from operator input: urllib's split, with its one refusal turned into a message.

``urlsplit`` raises ValueError on one fault only, square brackets in the host part that do not
hold an IPv6 address (``http://[::1/x``, ``http://[db]/``); the message names the fault and
never quotes the value, which may hold a password.
"""
from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

BAD_BRACKETS = "has '[' or ']' in its host that do not enclose an IPv6 address (as in http://[::1]:8080/)"


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
