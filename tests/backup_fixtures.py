"""Fixtures for the backup tests: Chinook loaded once on the session cluster, copied per test.

- ``chinook_template`` (session): the Chinook database (fixtures/data/chinook_serial.sql)
  loaded once and owned by a password-authenticated role, kept as a template.
- ``chinook`` (function): a fresh copy (CREATE DATABASE ... TEMPLATE, fast), a PgEndpoint with
  the owner's credentials; dropped afterwards.
- ``scratch`` (function): ScratchDatabase factory on the session cluster (superuser), each
  dropped afterwards.
"""
from __future__ import annotations

import itertools
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from psycopg import sql

from flash_green_ops.scratchdb import ScratchDatabase
from fixtures.services import random_secret
from flash_green_ops import redact
from flash_green_ops.pg import PgEndpoint

REPO = Path(__file__).resolve().parent.parent
CHINOOK = REPO / "fixtures" / "data" / "chinook_serial.sql"
CHINOOK_DB = "chinook_serial"
TEMPLATE = "flashgreen_chinook_template"
OWNER = "chinook_owner"
_copies = itertools.count(1)


def load_chinook(superuser, owner: str) -> None:
    """Load Chinook as the cluster's superuser (the script creates its own database), then give
    the database and its tables to ``owner``, the application role."""
    from flash_green_ops.backup import program, run_client

    admin = PgEndpoint.from_conninfo(superuser.dsn("postgres"))
    run_client([program("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password",
                 "-f", str(CHINOOK), "--dbname", admin.conninfo("flashgreen-load")], admin, "loading Chinook")
    with superuser.connect(CHINOOK_DB) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(CHINOOK_DB), sql.Identifier(owner)))
        tables = conn.execute("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                              "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')").fetchall()
        for (table,) in tables:  # owned sequences and indexes follow their table
            conn.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(sql.Identifier("public", table),
                                                                       sql.Identifier(owner)))


def admin_endpoint(cluster, dbname: str = "postgres") -> PgEndpoint:
    return PgEndpoint.from_conninfo(cluster.dsn(dbname), connect_timeout=10)


@contextmanager
def table_locked(pg_cluster, database, table: str = "track"):
    """Another session holds ACCESS EXCLUSIVE on ``table`` of ``database`` (an ALTER TABLE left
    open) until the block ends; yields the admin endpoint of that database."""
    admin = admin_endpoint(pg_cluster, database.dbname)
    with admin.connect("lock-holder", autocommit=False) as holder:
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        try:
            yield admin
        finally:
            holder.rollback()


# Made once per cluster, even when several test modules import these fixtures (each import
# is its own session fixture): keyed by the cluster's port.
_made: dict[tuple[int, str], object] = {}


@pytest.fixture(scope="session")
def chinook_owner(pg_cluster) -> tuple[str, str]:
    key = (pg_cluster.port, "owner")
    if key not in _made:
        password = random_secret("chinook-pw")
        redact.register(password)
        pg_cluster.create_role(OWNER, password)
        _made[key] = (OWNER, password)
    return _made[key]


@pytest.fixture(scope="session")
def chinook_template(pg_cluster, chinook_owner) -> str:
    key = (pg_cluster.port, "template")
    if key not in _made:
        load_chinook(pg_cluster, chinook_owner[0])
        with pg_cluster.connect() as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(CHINOOK_DB),
                                                                          sql.Identifier(TEMPLATE)))
        _made[key] = TEMPLATE
    return _made[key]


@pytest.fixture
def chinook(pg_cluster, chinook_template, chinook_owner) -> PgEndpoint:
    """A fresh copy of Chinook; PgEndpoint with the owner's (password) credentials."""
    name = f"chinook_copy_{next(_copies)}"
    user, password = chinook_owner
    pg_cluster.create_database(name, owner=user, template=chinook_template)
    try:
        yield PgEndpoint.from_conninfo(pg_cluster.dsn(name, user, password), connect_timeout=10)
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture
def scratch(pg_cluster):
    """scratch() -> a new empty ScratchDatabase on the session cluster; all dropped afterwards."""
    # ExitStack runs every drop even when one raises (then re-raises it): one failing drop
    # must not leave the others behind.
    with ExitStack() as drops:

        def make() -> ScratchDatabase:
            db = ScratchDatabase(admin_endpoint(pg_cluster))
            drops.callback(db.drop)  # registered before CREATE can fail
            return db.create()

        yield make


def restore_url_and_env(cluster, env: dict | None = None) -> tuple[str, dict]:
    """``--restore-url`` for ``cluster`` without its password (a command line is world-readable),
    and the environment carrying the password in PGPASSWORD, as an operator passes it."""
    import os

    url = f"postgresql://{cluster.superuser}@{cluster.host}:{cluster.port}/postgres"
    return url, {**(env if env is not None else os.environ), "PGPASSWORD": cluster.password}


def sql_run(endpoint: PgEndpoint, *statements: str) -> list:
    """Run statements (autocommit) and return the last one's rows, if any."""
    rows: list = []
    with endpoint.connect("flashgreen-test") as conn:
        for statement in statements:
            cur = conn.execute(statement)
            rows = cur.fetchall() if cur.description else []
    return rows


def by_check(findings) -> dict[str, list]:
    result: dict[str, list] = {}
    for f in findings:
        result.setdefault(f.check, []).append(f)
    return result


def failures(findings) -> list[str]:
    return [f"{f.check}: {f.message}" for f in findings if f.status.value == "FAIL"]


def dir_entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())
