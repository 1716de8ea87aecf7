"""Which PostgreSQL client program (pg_dump, psql, pg_restore) the runbook uses.

One search for every step, so the database step's pg_dump check (runbook/database.py) judges
the very pg_dump the backup (runbook/backup.py) runs: an explicit bin dir, else PATH, else the
newest /usr/lib/postgresql/<major>/bin (Debian/Ubuntu install clients there, off PATH).
"""
from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path

BIN_GLOB = "/usr/lib/postgresql/*/bin"


def _version(directory: str) -> tuple[int, ...]:
    # "/usr/lib/postgresql/15/bin" -> (15,): numeric, so 10 sorts after 9.6.
    return tuple(int(p) for p in re.findall(r"\d+", Path(directory).parent.name)) or (0,)


def find(name: str, bin_dir: str | os.PathLike | None = None) -> str | None:
    """The path of client program ``name``, or None when there is none.

    With ``bin_dir`` only that directory counts (an operator who names one means it).
    """
    if bin_dir:
        candidate = Path(bin_dir) / name
        return str(candidate) if os.access(candidate, os.X_OK) else None
    found = shutil.which(name)
    if found:
        return found
    for directory in sorted(glob.glob(BIN_GLOB), key=_version, reverse=True):
        candidate = Path(directory) / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None
