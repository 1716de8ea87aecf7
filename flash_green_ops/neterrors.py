"""Why a network call failed, in the operating system's words, for messages."""
from __future__ import annotations


def connection_reason(exc: BaseException) -> str:
    """Why a connection failed, as the operating system said it, from a requests, urllib3 or
    botocore exception chain: an OSError's strerror (``Connection refused``), else the message
    of an innermost OSError that has none (``Remote end closed connection without response``,
    ``timed out``), else the exception's type. Never the libraries' own messages: they quote
    URLs."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    innermost = None
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
        reason = getattr(e, "reason", None)
        inner = [e.__cause__, e.__context__, *[a for a in e.args if isinstance(a, BaseException)],
                 reason if isinstance(reason, BaseException) else None]
        if isinstance(e, OSError) and not any(inner) and e.args and innermost is None:
            innermost = str(e)
        stack.extend(inner)
    return innermost or type(exc).__name__
