"""Fixtures for the reconciliation and rollback tests: Flash Green's schema at head with a
seeded order flow, built once on the session cluster as a template and copied per test.

- ``flashgreen`` (function): a fresh copy owned by a password-authenticated role; a
  PgDatabase-like handle (``.endpoint``, ``.url()``, ``.connect()``), dropped afterwards.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from psycopg import sql

from fixtures import flashgreen_data
from fixtures.services import random_secret
from flash_green_ops import redact
from flash_green_ops.pg import PgEndpoint

TEMPLATE = "flashgreen_orderflow_template"
OWNER = "flashgreen_owner"
ORDERS = 2000
_copies = itertools.count(1)
_made: dict[tuple[int, str], object] = {}


@dataclass
class FlashGreenDb:
    cluster: object
    name: str
    user: str
    password: str = field(repr=False)

    def url(self) -> str:
        return (f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}@"
                f"{self.cluster.host}:{self.cluster.port}/{self.name}")

    @property
    def endpoint(self) -> PgEndpoint:
        return PgEndpoint.from_conninfo(self.url(), connect_timeout=10)

    def connect(self):
        return self.endpoint.connect("flashgreen-test")


@pytest.fixture(scope="session")
def flashgreen_template(pg_cluster) -> tuple[str, str]:
    key = (pg_cluster.port, "flashgreen")
    if key not in _made:
        password = random_secret("flashgreen-owner-pw")
        redact.register(password)
        pg_cluster.create_role(OWNER, password)
        pg_cluster.create_database(TEMPLATE, owner=OWNER)
        flashgreen_data.create(PgEndpoint.from_conninfo(pg_cluster.dsn(TEMPLATE, OWNER, password)), ORDERS)
        _made[key] = password
    return TEMPLATE, _made[key]


@pytest.fixture
def flashgreen(pg_cluster, flashgreen_template) -> FlashGreenDb:
    template, password = flashgreen_template
    name = f"flashgreen_copy_{next(_copies)}"
    with pg_cluster.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(template), sql.Identifier(OWNER)))
    try:
        yield FlashGreenDb(pg_cluster, name, OWNER, password)
    finally:
        pg_cluster.drop_database(name)
