"""Reading an operator's input file (an env file, a manifest) with one-line errors."""
from __future__ import annotations

import os
from pathlib import Path


def read_bytes(path: str | os.PathLike[str], kind: str, error: type[Exception]) -> bytes:
    """``path``'s bytes; each way it can be unreadable raises ``error("<path>: <why>")``, where
    ``kind`` names what the file should have been ("an env file")."""
    name = str(path)
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{name}: no such file") from None
    except IsADirectoryError:
        raise error(f"{name}: is a directory, not {kind}") from None
    except PermissionError:
        raise error(f"{name}: permission denied") from None
    except OSError as exc:
        raise error(f"{name}: cannot read ({exc.strerror or exc})") from None
