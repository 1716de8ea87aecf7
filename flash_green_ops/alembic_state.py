"""Alembic's revision in a database, and the revision(s) a release expects: read the same way by
the database step (db.alembic) and the backup manifest."""
from __future__ import annotations

from pathlib import Path

# alembic_version in any schema, public first: Alembic's version_table_schema may put it anywhere.
ALEMBIC_SQL = """
SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = 'alembic_version' AND c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
ORDER BY n.nspname = 'public' DESC, n.nspname LIMIT 1
"""


def alembic_revisions(conn) -> set[str] | None:
    """The revision(s) in ``alembic_version`` (several when branched), or None without the table."""
    from psycopg import sql

    row = conn.execute(ALEMBIC_SQL).fetchone()
    if row is None:
        return None
    versions = conn.execute(sql.SQL("SELECT version_num FROM {}").format(
        sql.Identifier(row[0], "alembic_version"))).fetchall()
    return {v for (v,) in versions}


def alembic_revision(conn) -> str | None:
    """The revision(s) comma-separated in sorted order, or None (no table, or an empty one)."""
    revisions = alembic_revisions(conn)
    if not revisions:
        return None
    return ",".join(sorted(revisions))


def expected_alembic_heads(head: str | None, config: Path | str | None) -> tuple[set[str] | None, str]:
    """What revision(s) the database should be at, and where that came from.

    --alembic-head wins over --alembic-config; the config's heads are read with Alembic's own
    ScriptDirectory (script_location resolved as Alembic does). Raises ValueError with a
    one-line reason when the config cannot be read.
    """
    if head:
        return {head.strip()}, f"--alembic-head {head.strip()}"
    if not config:
        return None, ""
    path = Path(config)
    if not path.is_file():
        raise ValueError(f"--alembic-config {path}: no such file")
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    try:
        heads = ScriptDirectory.from_config(Config(str(path))).get_heads()
    except Exception as exc:  # Alembic raises CommandError, but a broken migration file raises anything
        raise ValueError(f"--alembic-config {path}: cannot read the Alembic script directory "
                         f"({type(exc).__name__}: {' '.join(str(exc).split())})") from None
    if not heads:
        raise ValueError(f"--alembic-config {path}: the script directory has no revisions")
    return set(heads), f"head of --alembic-config {path}"
