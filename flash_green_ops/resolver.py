"""Host name lookup with a deadline, for every step that connects by name.

``socket.getaddrinfo`` has no timeout of its own, and a broken resolver can stall for many
seconds, past any connect or HTTP timeout. The lookup runs in a daemon thread that the caller
waits for until the deadline (a lookup still stuck then dies with the process).
"""
from __future__ import annotations

import socket
import threading
import time


def addresses(host: str, port: int | str | None, deadline: float) -> list[str]:
    """``host``'s addresses (TCP), in the resolver's order without repeats. Raises
    TimeoutError when the resolver has not answered by ``deadline`` (time.monotonic), and the
    resolver's own OSError (socket.gaierror) when the name does not resolve."""
    outcome: dict = {}

    def lookup() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise TimeoutError("no answer from the resolver within the timeout")
    if "error" in outcome:
        raise outcome["error"]
    found: list[str] = []
    for info in outcome["infos"]:
        if info[4][0] not in found:  # localhost may resolve to the same address twice
            found.append(info[4][0])
    return found


def connect(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to ``host`` within ``timeout`` in all, the lookup included: each address
    in turn (as socket.create_connection does) with the time that is left."""
    deadline = time.monotonic() + timeout
    error: OSError = TimeoutError(f"no address of {host} answered within the timeout")
    for address in addresses(host, port, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            return socket.create_connection((address, port), timeout=left)
        except OSError as exc:
            error = exc
    raise error
