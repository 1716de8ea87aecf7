"""Where the PostgreSQL programs are: the client programs the runbook runs (pg_dump, psql,
pg_restore) and, through :func:`bin_dirs`, the server binaries of the test clusters
(fixtures/pgcluster.py), so both search the same installations in the same order.

One search for every step, so the database step's pg_dump check (flash_green_ops/database.py) judges
the very pg_dump the backup (flash_green_ops/backup/) runs: an explicit bin dir, else PATH, else the
newest /usr/lib/postgresql/<major>/bin (Debian/Ubuntu install clients there, off PATH).
"""
from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path

BIN_GLOB = "/usr/lib/postgresql/*/bin"


def version_key(directory: str | os.PathLike) -> tuple[int, ...]:
    """/usr/lib/postgresql/15/bin -> (15,); "9.6" -> (9, 6): numeric, so 10 sorts after 9.6."""
    return tuple(int(p) for p in re.findall(r"\d+", Path(directory).parent.name)) or (0,)


def bin_dirs(bin_glob: str | None = None) -> list[Path]:
    """The directories matching ``bin_glob`` (default BIN_GLOB, read at call time), newest first."""
    return sorted((Path(p) for p in glob.glob(bin_glob or BIN_GLOB)), key=version_key, reverse=True)


def find(name: str, bin_dir: str | os.PathLike | None = None) -> str | None:
    """The path of client program ``name``, or None when there is none.

    With ``bin_dir`` only that directory counts (an operator who names one means it).
    A hit on PATH is returned as found, symlink not resolved: Debian's /usr/bin/pg_dump is a
    link to pg_wrapper, which picks the version by the name it is called with.
    """
    if bin_dir:
        candidate = Path(bin_dir) / name
        return str(candidate) if os.access(candidate, os.X_OK) else None
    found = shutil.which(name)
    if found:
        return found
    for directory in bin_dirs():
        candidate = directory / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None
