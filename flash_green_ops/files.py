"""Reading an operator's input file (an env file, a contract, a manifest) with one-line errors.

Only regular files are read, and only up to a size bound: a FIFO would block ``open()`` until
something writes to it, and ``/dev/zero`` or a runaway file would be read until memory runs out.
"""
from __future__ import annotations

import os
import stat

MIB = 1024 * 1024

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}


def read_bytes(path: str | os.PathLike[str], kind: str, error: type[Exception], limit: int) -> bytes:
    """``path``'s bytes, at most ``limit`` of them; each way it can be unusable raises
    ``error("<path>: <why>")``, where ``kind`` names what the file should have been
    ("an env file")."""
    name = str(path)
    try:
        # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; it changes
        # nothing for a regular file.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise error(f"{name}: no such file") from None
    except PermissionError:
        raise error(f"{name}: permission denied") from None
    except OSError as exc:
        raise error(f"{name}: cannot read ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise error(f"{name}: is {what}, not {kind}: give the path of a regular file")
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(limit + 1)  # one more byte tells a file at the bound from a larger one
        except OSError as exc:
            raise error(f"{name}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise error(f"{name}: larger than {limit // MIB} MiB, too large for {kind}")
    return data
