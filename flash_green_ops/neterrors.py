"""Why a network call failed, in the operating system's words, for messages."""
from __future__ import annotations

from collections.abc import Iterator


def chain(exc: BaseException) -> Iterator[BaseException]:
    """Every exception in ``exc``'s chain, once each, depth first: causes, contexts, and those a
    library wraps in its args or its ``reason``."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack.extend(_links(e))


def _links(e: BaseException) -> list[BaseException | None]:
    reason = getattr(e, "reason", None)
    return [e.__cause__, e.__context__, *[a for a in e.args if isinstance(a, BaseException)],
            reason if isinstance(reason, BaseException) else None]


def connection_reason(exc: BaseException) -> str:
    """Why a connection failed, as the operating system said it, from a requests, urllib or
    botocore exception chain: an OSError's strerror (``Connection refused``), else the message
    of an innermost OSError that has none (``Remote end closed connection without response``,
    ``timed out``), else the exception's type. Never the libraries' own messages: they quote
    URLs."""
    innermost = None
    for e in chain(exc):
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
        if isinstance(e, OSError) and not any(_links(e)) and e.args and innermost is None:
            innermost = str(e)
    return innermost or type(exc).__name__


def verify_reason(exc: BaseException) -> str | None:
    """OpenSSL's certificate verification message, from anywhere in ``exc``'s chain; or None."""
    import ssl  # here: the env stage imports this module and needs no TLS

    return next((e.verify_message or str(e.reason) for e in chain(exc) if isinstance(e, ssl.SSLCertVerificationError)),
                None)
