"""Shared fixtures for tests that need a real PostgreSQL (load with pytest_plugins in tests/conftest.py).

- ``pg_cluster`` (session): one throwaway LocalCluster for the whole run, TLS on when
  ``openssl`` exists (so encrypted and unencrypted sessions can both be tested); skipped, with
  the places looked at, when no PostgreSQL server binaries exist.
- ``pg_database`` (function): a fresh database owned by a fresh LOGIN role with a random
  password, dropped afterwards. ``.url`` is its postgresql:// URL.
- ``db_env_file(database_url, **overrides)``: an env file that passes the env contract
  (the local target's minimal set) plus the given DATABASE_URL; ``KEY=None`` drops a key.
- ``cluster_base_dir`` (function): a private, world-searchable directory under /tmp to create
  clusters in (``base_dir=`` / ``TMPDIR``); what is left there is reaped and removed afterwards.

Plain helpers: ``context(path, bundle=None, **settings)`` (a RunContext as the CLI builds it),
``by_check`` / ``text_of`` (findings by id / as one text for secret scans), ``fake_pg_dump``,
``set_alembic_revision`` and ``write_script_directory`` (a tiny Alembic script directory);
``processes_mentioning`` / ``process_alive`` (servers a test must see gone).
"""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from fixtures.pgcluster import BinariesNotFound, LocalCluster, reap_stale_clusters
from fixtures.services import random_secret, write_env_file
from flash_green_ops import redact
from flash_green_ops.preflight import new_context
from flash_green_ops.contract import load_contract
from flash_green_ops.envfile import read_env_file
from flash_green_ops.settings import Settings
from tests.conftest import skip_unless_ci

_names = itertools.count(1)

# What fixtures/targets.py ThrowawayTarget.base_env holds: the smallest env the contract accepts.
BASE_ENV = {
    "APP_ENV": "staging",
    "CLIENT_CERT_SUBJECT_HEADER": "X-Client-Cert-Subject",
    "USE_LIVE_FEED": "false",
    "USE_ICE_LIVE": "false",
    "USE_POWERLEDGER_LIVE": "false",
    "USE_WEB3_LOAN": "false",
}


@dataclass
class PgDatabase:
    """A database and its owner role on the session cluster."""

    cluster: LocalCluster
    name: str
    user: str
    password: str = field(repr=False)

    @property
    def host(self) -> str:
        return self.cluster.host

    @property
    def port(self) -> int:
        return self.cluster.port

    def url(self, *, password: str | None = None, dbname: str | None = None, query: str = "") -> str:
        """postgresql://user:password@127.0.0.1:port/name[?query] (other password/db for failure tests)."""
        pw = self.password if password is None else password
        url = (f"postgresql://{quote(self.user, safe='')}:{quote(pw, safe='')}@{self.host}:{self.port}/"
               f"{quote(dbname or self.name, safe='')}")
        return f"{url}?{query}" if query else url

    def connect(self, **kwargs):
        import psycopg

        kwargs.setdefault("connect_timeout", 10)
        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self.url(), **kwargs)


@contextmanager
def throwaway_cluster(pytestconfig, ssl: bool):
    """A started LocalCluster, stopped and removed on exit (also on Ctrl-C); without PostgreSQL's
    binaries, skipped outside CI."""
    cluster = LocalCluster(pytestconfig.getoption("pg_bin_dir", None), ssl=ssl)
    try:
        cluster.start()
    except BinariesNotFound as exc:
        skip_unless_ci(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_cluster(pytestconfig):
    """One throwaway PostgreSQL for the session."""
    with throwaway_cluster(pytestconfig, ssl=shutil.which("openssl") is not None) as cluster:
        yield cluster


@pytest.fixture
def pg_database(pg_cluster):
    """A fresh database + owner role (random password); dropped after the test."""
    n = next(_names)
    db = PgDatabase(pg_cluster, f"testdb_{n}", f"testuser_{n}", random_secret("db-password"))
    redact.register(db.password)
    try:
        pg_cluster.create_role(db.user, db.password)
        pg_cluster.create_database(db.name, owner=db.user)
        yield db
    finally:
        from psycopg import sql

        pg_cluster.drop_database(db.name)
        with pg_cluster.connect() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(db.user)))


@pytest.fixture
def cluster_base_dir():
    """A private, world-searchable parent for clusters (the postgres user must traverse it),
    so what a test leaves behind is not confused with other sessions' clusters."""
    path = Path(tempfile.mkdtemp(prefix="fg-pgtest-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    reap_stale_clusters(path)  # nothing should be left; if something is, do not leak it
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def db_env_file(tmp_path):
    """db_env_file(database_url, name="db.env", **overrides) -> Path of a contract-valid env file."""

    def write(database_url: str | None, name: str = "db.env", **overrides: str | None) -> Path:
        values = {**BASE_ENV, "API_KEY": random_secret("test-api-key"), "DATABASE_URL": database_url}
        values.update(overrides)
        values = {k: v for k, v in values.items() if v is not None}
        return write_env_file(tmp_path / name, values, "written by tests/pg_fixtures.py")

    return write


# --------------------------------------------------------------------------------------------
# Helpers for database tests (plain functions)


def context(path: Path, bundle: dict | None = None, **settings):
    ctx = new_context(read_env_file(path), load_contract(), Settings(**settings))
    if bundle:
        redact.register_all(bundle.values())
        ctx.bundle = bundle
    return ctx


def by_check(findings):
    return {f.check: f for f in findings}


def text_of(findings) -> str:
    return "\n".join(f"{f.check} {f.status.value} {f.message} {f.where}" for f in findings)


def fake_pg_dump(directory: Path, version_line: str) -> Path:
    # A stand-in pg_dump that only answers --version: the one way to have an older pg_dump
    # than the server on this machine (only PostgreSQL 15 is installed).
    directory.mkdir()
    script = directory / "pg_dump"
    script.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    script.chmod(0o755)
    return directory


def set_alembic_revision(pg_database, *revisions: str) -> None:
    with pg_database.connect() as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY)")
        for rev in revisions:
            conn.execute("INSERT INTO alembic_version VALUES (%s)", (rev,))


def write_script_directory(root: Path, revisions: list[tuple[str, str | None]]) -> Path:
    """A tiny Alembic script directory: alembic.ini + migrations/versions/<rev>.py."""
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    for rev, down in revisions:
        (versions / f"{rev}.py").write_text(textwrap.dedent(f"""\
            revision = {rev!r}
            down_revision = {down!r}
            branch_labels = None
            depends_on = None

            def upgrade():
                pass

            def downgrade():
                pass
            """))
    return root / "alembic.ini"


# --------------------------------------------------------------------------------------------
# Processes (servers and clients a test must see gone)


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line mentions ``text`` (a cluster's directory): its server processes."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline and int(entry.name) != os.getpid():
                pids.append(int(entry.name))
    return pids


def process_alive(pid: int) -> bool:
    """The process exists and is not a zombie (exited, not yet reaped by its parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
