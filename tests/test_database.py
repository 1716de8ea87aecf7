"""flash_green_ops.database against a real PostgreSQL (the session's throwaway cluster, tests/pg_fixtures.py).

Every failure mode is provoked for real; each test asserts the message and that no password
(right or wrong) appears in anything the probe returned.
"""
from __future__ import annotations


import pytest
from psycopg import sql

from flash_green_ops import database, redact
from flash_green_ops.credentials import database_endpoint
from flash_green_ops.pg import DatabaseUnreachable, PgEndpoint
from flash_green_ops.findings import Status
from tests.conftest import assert_no_secrets, skip_unless_ci
from tests.pg_fixtures import (by_check, context, fake_pg_dump, set_alembic_revision, text_of,
                               write_script_directory)


def statuses(findings) -> dict[str, str]:
    return {f.check: f.status.value for f in findings}


# --------------------------------------------------------------------------------------------
# Connection settings


def test_settings_from_database_url_are_parsed_by_libpq_and_display_without_password(pg_database, db_env_file):
    ctx = context(db_env_file(pg_database.url(query="sslmode=require&application_name=preflight")))
    settings = database_endpoint(ctx)
    assert (settings.host, settings.port, settings.dbname, settings.user) == (
        "127.0.0.1", str(pg_database.port), pg_database.name, pg_database.user)
    assert settings.sslmode == "require"
    assert settings.label == f"127.0.0.1:{pg_database.port}/{pg_database.name}"
    assert settings.source_key == "DATABASE_URL" and settings.where.endswith("db.env line 9")
    assert_no_secrets([pg_database.password], repr(settings), settings.label)


def test_db_trio_with_the_password_from_the_secret_bundle_connects(pg_database, db_env_file):
    path = db_env_file(None, DB_HOST="127.0.0.1", DB_PORT=str(pg_database.port), DB_NAME=pg_database.name,
                       DB_USER=pg_database.user)
    ctx = context(path, bundle={"DB_PASSWORD": pg_database.password, "API_SIGNING_KEY": "sign-key-123"})
    settings = database_endpoint(ctx)
    assert settings.source_key == "DB_HOST"
    with settings.connect() as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (pg_database.user, pg_database.name)
    findings = database.run(ctx)
    assert by_check(findings)["db.reachable"].status is Status.PASS, text_of(findings)
    assert_no_secrets([pg_database.password], text_of(findings))


def test_db_trio_without_any_password_is_refused_by_the_server(pg_database, db_env_file):
    path = db_env_file(None, DB_HOST="127.0.0.1", DB_PORT=str(pg_database.port), DB_NAME=pg_database.name,
                       DB_USER=pg_database.user)
    reachable = by_check(database.run(context(path)))["db.reachable"]
    assert reachable.status is Status.FAIL
    assert "password" in reachable.message and f"127.0.0.1:{pg_database.port}" in reachable.message


def test_database_url_wins_over_the_trio(pg_database, db_env_file):
    path = db_env_file(pg_database.url(), DB_HOST="db.invalid", DB_NAME="other", DB_USER="other")
    settings = database_endpoint(context(path))
    assert settings.source_key == "DATABASE_URL" and settings.dbname == pg_database.name


def test_no_database_settings_names_what_is_missing(db_env_file):
    path = db_env_file(None, DB_HOST="127.0.0.1")
    findings = database.run(context(path))
    assert findings[0].check == "db.reachable" and findings[0].status is Status.FAIL
    assert "set DATABASE_URL, or DB_HOST, DB_NAME and DB_USER (missing: DB_NAME, DB_USER)" in findings[0].message
    assert [f.check for f in findings] == list(database.CHECKS)
    assert all(f.status is Status.SKIP for f in findings[1:])


def test_a_url_libpq_rejects_is_a_clear_failure_that_hides_the_whole_value(db_env_file):
    url = "postgresql+psycopg://app:hidden-pass-123@127.0.0.1:5432/app"
    findings = database.run(context(db_env_file(url)))
    assert findings[0].status is Status.FAIL
    assert "DATABASE_URL" in findings[0].message and "is not a connection URL libpq accepts" in findings[0].message
    assert_no_secrets(["hidden-pass-123"], text_of(findings))


# --------------------------------------------------------------------------------------------
# The probe on a healthy database


def test_a_healthy_database_passes_every_check_and_reports_latency_and_version(pg_database, db_env_file):
    with pg_database.connect() as conn:
        conn.execute("CREATE TABLE trades (id int PRIMARY KEY, price numeric)")
        conn.execute('CREATE TABLE "Mixed Case" (id int)')
    findings = database.run(context(db_env_file(pg_database.url())), read_only=True)
    assert [f.check for f in findings] == [*database.CHECKS, "db.read_only"]
    assert statuses(findings) == {"db.reachable": "PASS", "db.version": "PASS", "db.pg_dump": "PASS",
                                  "db.tls": "PASS", "db.alembic": "SKIP", "db.read_only": "PASS"}, text_of(findings)
    found = by_check(findings)
    assert f"connected to 127.0.0.1:{pg_database.port}/{pg_database.name} as user {pg_database.user}" \
        in found["db.reachable"].message
    assert "SELECT 1 round trip" in found["db.reachable"].message
    assert found["db.version"].message.startswith("server is PostgreSQL 15.")
    assert "read all 2 tables of schema public: Mixed Case, trades" in found["db.read_only"].message
    assert all(f.duration > 0 for f in findings if f.status is not Status.SKIP)
    assert_no_secrets([pg_database.password], text_of(findings))


def test_preflight_stage_is_the_probe_without_the_read_only_check(pg_database, db_env_file):
    findings = database.run(context(db_env_file(pg_database.url())))
    assert [f.check for f in findings] == list(database.CHECKS)


# --------------------------------------------------------------------------------------------
# Failure modes: authentication and database


def test_wrong_password_fails_naming_host_port_user_and_cause(pg_database, db_env_file):
    wrong = "wrong-password-Zq81x"
    redact.register(wrong)
    findings = database.run(context(db_env_file(pg_database.url(password=wrong))))
    reachable = findings[0]
    assert reachable.status is Status.FAIL
    assert reachable.message.startswith(
        f"cannot connect to PostgreSQL at 127.0.0.1:{pg_database.port}/{pg_database.name} as user {pg_database.user} "
        f"(DATABASE_URL, {reachable.where}): 127.0.0.1:{pg_database.port}: ")
    assert reachable.where.endswith("db.env line 9")
    assert f'password authentication failed for user "{pg_database.user}"' in reachable.message
    assert "Fix: check the password" in reachable.message
    assert [f.status for f in findings[1:]] == [Status.SKIP] * 4
    assert "cannot connect to" in findings[1].message
    assert_no_secrets([pg_database.password, wrong], text_of(findings))


def test_missing_database_fails_naming_it(pg_database, db_env_file):
    findings = database.run(context(db_env_file(pg_database.url(dbname="no_such_db"))))
    assert findings[0].status is Status.FAIL
    assert 'database "no_such_db" does not exist' in findings[0].message
    assert f"127.0.0.1:{pg_database.port}" in findings[0].message
    assert "Fix: create the database or correct its name (DATABASE_URL)" in findings[0].message
    assert_no_secrets([pg_database.password], text_of(findings))


def test_connect_raises_database_unreachable_for_other_steps(pg_database, db_env_file):
    settings = database_endpoint(context(db_env_file(pg_database.url(dbname="no_such_db"))))
    with pytest.raises(DatabaseUnreachable) as info:
        settings.connect()
    assert info.value.host == "127.0.0.1" and info.value.port == str(pg_database.port)
    assert "does not exist" in info.value.cause
    assert_no_secrets([pg_database.password], str(info.value))


# --------------------------------------------------------------------------------------------
# pg_dump's version against the server's


@pytest.mark.parametrize(("pg_dump_output", "server", "ok"), [
    ("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", 150018, True),
    ("pg_dump (PostgreSQL) 16.4", 150018, True),
    ("pg_dump (PostgreSQL) 14.13", 150018, False),
    ("pg_dump (PostgreSQL) 9.6.24", 100023, False),
    ("pg_dump (PostgreSQL) 10.23", 90624, True),
    ("pg_dump (PostgreSQL) 9.6.24", 90624, True),
    ("pg_dump (PostgreSQL) 9.5.25", 90624, False),
])
def test_pg_dump_verdict_compares_major_versions(pg_dump_output, server, ok):
    assert database.pg_dump_verdict(pg_dump_output, server)[0] is ok


def test_an_older_pg_dump_fails_naming_both_versions():
    ok, message = database.pg_dump_verdict("pg_dump (PostgreSQL) 14.13", 150018)
    assert not ok
    assert message.startswith("pg_dump 14 is older than the server's PostgreSQL 15: it cannot dump this server")
    assert "install pg_dump 15 or newer" in message


def test_unreadable_pg_dump_version_fails():
    ok, message = database.pg_dump_verdict("something else", 150018)
    assert not ok and "cannot tell pg_dump's version" in message


def test_probe_fails_when_pg_dump_on_path_is_older_than_the_server(pg_database, db_env_file, tmp_path, monkeypatch):
    fake = fake_pg_dump(tmp_path / "oldbin", "pg_dump (PostgreSQL) 14.13")
    monkeypatch.setenv("PATH", f"{fake}:{__import__('os').environ['PATH']}")
    found = by_check(database.run(context(db_env_file(pg_database.url()))))
    assert found["db.pg_dump"].status is Status.FAIL
    assert "pg_dump 14 is older than the server's PostgreSQL 15" in found["db.pg_dump"].message
    assert str(fake / "pg_dump") in found["db.pg_dump"].message


def test_probe_fails_when_there_is_no_pg_dump(pg_database, db_env_file, tmp_path, monkeypatch):
    from flash_green_ops import pgbin

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pgbin, "BIN_GLOB", str(tmp_path / "postgresql" / "*" / "bin"))
    found = by_check(database.run(context(db_env_file(pg_database.url()))))
    assert found["db.pg_dump"].status is Status.FAIL
    assert f"pg_dump is not on PATH nor in {tmp_path}/postgresql/*/bin" in found["db.pg_dump"].message


def test_probe_finds_pg_dump_off_path_where_the_backup_finds_it(pg_database, db_env_file, tmp_path, monkeypatch):
    from flash_green_ops import pgbin

    monkeypatch.setenv("PATH", str(tmp_path))  # Debian keeps the versioned clients off PATH
    found = by_check(database.run(context(db_env_file(pg_database.url()))))
    assert found["db.pg_dump"].status is Status.PASS
    assert pgbin.find("pg_dump") in found["db.pg_dump"].message


# --------------------------------------------------------------------------------------------
# TLS


def test_production_without_tls_fails_even_though_the_connection_works(pg_database, db_env_file):
    path = db_env_file(pg_database.url(query="sslmode=disable"), APP_ENV="production")
    found = by_check(database.run(context(path)))
    assert found["db.reachable"].status is Status.PASS
    tls = found["db.tls"]
    assert tls.status is Status.FAIL
    assert tls.message.startswith(f"connection to 127.0.0.1:{pg_database.port}/{pg_database.name} is NOT encrypted "
                                  f"(pg_stat_ssl.ssl is false for this session; sslmode=disable)")
    assert "production requires TLS" in tls.message
    assert_no_secrets([pg_database.password], text_of(found.values()))


def test_staging_without_tls_passes_and_says_so(pg_database, db_env_file):
    found = by_check(database.run(context(db_env_file(pg_database.url(query="sslmode=disable")))))
    assert found["db.tls"].status is Status.PASS
    assert "is not encrypted (sslmode=disable); allowed outside production" in found["db.tls"].message


def test_production_with_a_really_encrypted_session_passes(pg_cluster, pg_database, db_env_file):
    if not pg_cluster.ssl:
        skip_unless_ci("the session cluster has no TLS (no openssl command to make its certificate)")
    path = db_env_file(pg_database.url(query="sslmode=require"), APP_ENV="production")
    tls = by_check(database.run(context(path)))["db.tls"]
    assert tls.status is Status.PASS and "is encrypted (TLSv1." in tls.message, tls.message


def test_production_requiring_tls_from_a_server_without_tls_fails_to_connect(tmp_path, db_env_file, pytestconfig):
    from fixtures.pgcluster import LocalCluster

    with LocalCluster(pytestconfig.getoption("pg_bin_dir", None), ssl=False) as plain:
        path = db_env_file(plain.dsn("postgres") + "?sslmode=require", APP_ENV="production")
        findings = database.run(context(path))
    assert findings[0].status is Status.FAIL
    assert f"127.0.0.1:{plain.port}: server does not support SSL, but SSL was required" in findings[0].message
    assert "Fix: enable TLS on the server, or correct sslmode" in findings[0].message
    assert_no_secrets([plain.password], text_of(findings))


# --------------------------------------------------------------------------------------------
# Alembic


def test_alembic_revision_is_reported(pg_database, db_env_file):
    set_alembic_revision(pg_database, "ae1027a6acf")
    alembic = by_check(database.run(context(db_env_file(pg_database.url()))))["db.alembic"]
    assert alembic.status is Status.PASS
    assert alembic.message == f"127.0.0.1:{pg_database.port}/{pg_database.name} is at Alembic revision ae1027a6acf"


def test_alembic_head_mismatch_fails_naming_both_revisions(pg_database, db_env_file):
    set_alembic_revision(pg_database, "ae1027a6acf")
    findings = database.run(context(db_env_file(pg_database.url()), alembic_head="27c6a30d7c24"))
    alembic = by_check(findings)["db.alembic"]
    assert alembic.status is Status.FAIL
    assert "is at Alembic revision ae1027a6acf, expected 27c6a30d7c24 (--alembic-head 27c6a30d7c24)" in alembic.message
    assert "alembic upgrade head" in alembic.message
    assert_no_secrets([pg_database.password], text_of(findings))


def test_alembic_head_that_matches_passes(pg_database, db_env_file):
    set_alembic_revision(pg_database, "ae1027a6acf")
    alembic = by_check(database.run(context(db_env_file(pg_database.url()), alembic_head="ae1027a6acf")))["db.alembic"]
    assert alembic.status is Status.PASS and "as expected (--alembic-head ae1027a6acf)" in alembic.message


def test_alembic_config_head_is_read_with_alembics_api_and_a_mismatch_fails(pg_database, db_env_file, tmp_path):
    ini = write_script_directory(tmp_path / "app", [("0001first", None), ("0002second", "0001first")])
    set_alembic_revision(pg_database, "0001first")
    alembic = by_check(database.run(context(db_env_file(pg_database.url()), alembic_config=ini)))["db.alembic"]
    assert alembic.status is Status.FAIL
    assert f"is at Alembic revision 0001first, expected 0002second (head of --alembic-config {ini})" in alembic.message


def test_alembic_config_head_that_matches_passes(pg_database, db_env_file, tmp_path):
    ini = write_script_directory(tmp_path / "app", [("0001first", None), ("0002second", "0001first")])
    set_alembic_revision(pg_database, "0002second")
    alembic = by_check(database.run(context(db_env_file(pg_database.url()), alembic_config=ini)))["db.alembic"]
    assert alembic.status is Status.PASS, alembic.message


def test_alembic_version_off_the_search_path_is_found_as_the_manifest_finds_it(pg_database, db_env_file):
    from flash_green_ops.backup import manifest

    with pg_database.connect() as conn:
        conn.execute("CREATE SCHEMA migrations")
        conn.execute("CREATE TABLE migrations.alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY)")
        conn.execute("INSERT INTO migrations.alembic_version VALUES ('ae1027a6acf')")
        assert conn.execute("SELECT to_regclass('alembic_version')").fetchone() == (None,)  # off the path
        assert manifest.alembic_revision(conn) == "ae1027a6acf"
    alembic = by_check(database.run(context(db_env_file(pg_database.url()), alembic_head="ae1027a6acf")))["db.alembic"]
    assert alembic.status is Status.PASS
    assert "is at Alembic revision ae1027a6acf, as expected" in alembic.message


def test_expected_head_without_alembic_version_table_fails(pg_database, db_env_file):
    alembic = by_check(database.run(context(db_env_file(pg_database.url()), alembic_head="27c6a30d7c24")))["db.alembic"]
    assert alembic.status is Status.FAIL
    assert "has no alembic_version table, expected revision 27c6a30d7c24" in alembic.message


def test_unreadable_alembic_config_fails_with_the_reason(pg_database, db_env_file, tmp_path):
    missing = by_check(database.run(context(db_env_file(pg_database.url()), alembic_config=tmp_path / "nope.ini")))
    assert missing["db.alembic"].message == f"--alembic-config {tmp_path / 'nope.ini'}: no such file"
    broken = tmp_path / "broken.ini"
    broken.write_text("[alembic]\n")
    found = by_check(database.run(context(db_env_file(pg_database.url()), alembic_config=broken)))
    assert found["db.alembic"].status is Status.FAIL
    assert "cannot read the Alembic script directory (CommandError: No 'script_location' key" in found["db.alembic"].message


# --------------------------------------------------------------------------------------------
# The read-only session (after restores)


def test_read_only_check_fails_naming_tables_the_user_cannot_read(pg_cluster, pg_database, db_env_file):
    with pg_database.connect() as conn:
        conn.execute("CREATE TABLE readable (id int)")
    with pg_cluster.connect(pg_database.name) as conn:  # owned by the superuser, nothing granted
        conn.execute(sql.SQL("CREATE TABLE secret_ledger (id int)"))
    found = by_check(database.run(context(db_env_file(pg_database.url())), read_only=True))
    assert found["db.read_only"].status is Status.FAIL
    assert (f"a read-only session on 127.0.0.1:{pg_database.port}/{pg_database.name} cannot read 1 of 2 tables "
            f"in schema public: secret_ledger (permission denied for table secret_ledger)") in found["db.read_only"].message
    assert f"grant SELECT to user {pg_database.user}" in found["db.read_only"].message


class KeptOpen:
    """A connection whose ``with`` block does not close it: the test looks into the session after."""

    def __init__(self, conn):
        self.conn = conn

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def test_read_only_session_is_really_read_only(pg_database, db_env_file, monkeypatch):
    # The very session check_read_only read the tables in is kept open: in it,
    # default_transaction_read_only is on and a write is refused.
    import psycopg

    with pg_database.connect() as conn:
        conn.execute("CREATE TABLE trades (id int)")
    sessions = []
    real_connect = PgEndpoint.connect

    def keep_open(settings, **extra):
        sessions.append(real_connect(settings, **extra))
        return KeptOpen(sessions[-1])

    monkeypatch.setattr(PgEndpoint, "connect", keep_open)
    try:
        finding = database.check_read_only(database_endpoint(context(db_env_file(pg_database.url()))))
        assert finding.status is Status.PASS, finding.message
        [session] = sessions
        assert session.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            session.execute("CREATE TABLE t (id int)")
    finally:
        for session in sessions:
            session.close()


def test_read_only_check_on_an_empty_schema_warns(pg_database, db_env_file):
    found = by_check(database.run(context(db_env_file(pg_database.url())), read_only=True))
    assert found["db.read_only"].status is Status.WARN
    assert "has no tables: nothing to read" in found["db.read_only"].message


def test_check_read_only_takes_settings_for_another_database(pg_cluster, pg_database, db_env_file):
    # Post-restore validation checks a scratch database with the same credentials.
    settings = database_endpoint(context(db_env_file(pg_database.url())))
    finding = database.check_read_only(settings.with_params(dbname="no_such_restore"))
    assert finding.status is Status.FAIL and 'database "no_such_restore" does not exist' in finding.message


def test_libpqs_other_secret_keywords_stay_off_a_childs_command_line():
    from flash_green_ops import redact
    from flash_green_ops.pg import PgEndpoint

    endpoint = PgEndpoint.from_conninfo("host=127.0.0.1 dbname=fg sslpassword=key-pass-7f3 "
                                        "oauth_client_secret=oauth-sec-9c1 password=pw-4d2e")
    line = endpoint.conninfo("flash-green-ops-test")
    assert_no_secrets(["key-pass-7f3", "oauth-sec-9c1", "pw-4d2e"], line)
    assert "host=127.0.0.1" in line and "dbname=fg" in line
    assert redact.mask("key-pass-7f3 oauth-sec-9c1") == f"{redact.MASK} {redact.MASK}"
