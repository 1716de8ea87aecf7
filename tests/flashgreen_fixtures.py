"""Fixtures for the reconciliation and rollback tests: Flash Green's schema at head with a
seeded order flow, built once on the session cluster as a template and copied per test.

- ``flashgreen`` (function): a fresh copy owned by a password-authenticated role; a
  PgDatabase (``.url()``, ``.connect()``) with its ``.endpoint``, dropped afterwards.
"""
from __future__ import annotations

import itertools

import pytest

from fixtures import flashgreen_data
from fixtures.services import random_secret
from flash_green_ops import redact
from flash_green_ops.pg import PgEndpoint
from tests.pg_fixtures import PgDatabase

TEMPLATE = "flashgreen_orderflow_template"
OWNER = "flashgreen_owner"
ORDERS = 2000
_copies = itertools.count(1)
_made: dict[tuple[int, str], object] = {}


class FlashGreenDb(PgDatabase):
    """A PgDatabase that also gives its PgEndpoint, as the library functions take one."""

    @property
    def endpoint(self) -> PgEndpoint:
        return PgEndpoint.from_conninfo(self.url(), connect_timeout=10)


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
    pg_cluster.create_database(name, owner=OWNER, template=template)
    try:
        yield FlashGreenDb(pg_cluster, name, OWNER, password)
    finally:
        pg_cluster.drop_database(name)
