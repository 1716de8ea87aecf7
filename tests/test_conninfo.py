"""flash_green_ops/conninfo.py reads connection strings as libpq does: compared case by case
with libpq itself (psycopg's conninfo_to_dict)."""
from __future__ import annotations

import pytest
from psycopg import ProgrammingError, pq
from psycopg.conninfo import conninfo_to_dict

from flash_green_ops import conninfo
from tests.conftest import assert_no_secrets

CASES = [
    "postgresql://fg:pw-1@db:5432/fg",
    "postgres://fg:pw-1@db/fg?sslmode=verify-full",
    "postgresql://fg:p%40ss%2Fw%3Ford@db/fg",  # percent-encoded '@', '/', '?'
    "postgresql://fg:%C3%A9t%C3%A9-pw@db/fg",  # UTF-8, percent-encoded
    "postgresql://fg@db/fg?password=query-pw-2",
    "postgresql://fg:url-pw@db/fg?password=query-wins",
    "postgresql://fg:pa#ss-word@db/x",
    "postgresql://u:p@ss@h",  # libpq ends the user information at the first '@'
    "postgresql://db/fg?password=",
    "postgresql://h1,h2:5433/d?ssl=true",
    "postgresql://[::1]:5432/fg",
    "postgresql://[2001:db8::1],h2/fg?connect_timeout=3&application_name=a%20b",
    "postgresql://",
    "postgresql:///fg?host=/run/postgresql",
    "postgresql://fg:@db/fg",
    "postgresql://:pw-only@db",
    "host=db user=fg password=kv-pw-3",
    "host = db  password = 'kv pw \\' 4' dbname=fg",
    "password=back\\ slash\\\\ed host=db",
    "  ",
    "",
    # refused by libpq
    "postgresql://[::1/fg",
    "postgresql://[]/fg",
    "postgresql://u@[::1]x/fg",
    "postgresql://db/fg?foo=1",
    "postgresql://db/fg?sslmode=require=x",
    "postgresql://db/fg?sslmode",
    "postgresql://db/%zz",
    "postgresql://db/a%00b",
    "postgresql://u:%4@db",
    "host=db password='unterminated",
    "host=db nonsense=1",
    "justaword",
    "POSTGRESQL://u:p@h",
]


def libpq(text: str):
    try:
        return conninfo_to_dict(text)
    except ProgrammingError:
        return "refused"


def ours(text: str):
    try:
        return conninfo.parse(text)
    except conninfo.ConninfoError:
        return "refused"


@pytest.mark.parametrize("text", CASES)
def test_reads_as_libpq_reads(text):
    assert ours(text) == libpq(text)


def test_the_keywords_cover_the_linked_libpq():
    assert {o.keyword.decode() for o in pq.Conninfo.get_defaults()} <= conninfo.KEYWORDS


def test_an_error_does_not_quote_the_string():
    with pytest.raises(conninfo.ConninfoError) as caught:
        conninfo.parse("postgresql://u:secret-pw-9@db/x?bogus=1")
    assert_no_secrets(["secret-pw-9"], str(caught.value))
