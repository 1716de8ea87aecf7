"""Backup -> restore -> verify round trips against a real server (the session cluster)."""
from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from flash_green_ops import backup
from flash_green_ops.backup import manifest
from flash_green_ops.findings import Status
from tests.backup_fixtures import by_check, failures, sql_run
from tests.conftest import wait_for

CHINOOK_TABLES = 11
CHINOOK_ROWS = 15607


@pytest.mark.parametrize("fmt,jobs", [("plain", 1), ("custom", 1), ("directory", 2)])
def test_chinook_survives_the_round_trip(fmt, jobs, chinook, scratch, tmp_path):
    result = backup.backup(chinook, tmp_path / f"chinook.{fmt}", fmt=fmt, jobs=jobs)
    m = result.manifest
    # Really Chinook, all of it: otherwise "equal" could mean "both empty".
    assert len(m.tables) == CHINOOK_TABLES
    assert sum(t["rows"] for t in m.tables.values()) == CHINOOK_ROWS
    assert m.sequences["public.artist_artist_id_seq"]["last_value"] == 275
    assert m.data["dump"]["format"] == fmt and result.path.exists() and result.manifest_path.exists()
    assert [f.status for f in backup.check_dump(m, result.manifest_path)] == [Status.PASS]
    restored = scratch()
    backup.restore(restored.endpoint, result.path, manifest=m, jobs=jobs)
    findings = backup.verify(restored.endpoint, m)
    assert not failures(findings)
    assert {"restore.tables", "restore.schema", "restore.content", "restore.sequences",
            "restore.alembic"} <= set(by_check(findings))


def test_plain_dump_restores_the_runbook_way_and_verifies(chinook, scratch, tmp_path):
    """``psql "$DATABASE_URL" < flash-green-backup.sql``: verification works whatever restored it."""
    result = backup.backup(chinook, tmp_path / "flash-green-backup.sql")
    restored = scratch()
    with open(result.path, "rb") as dump:
        subprocess.run([backup.program("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", restored.endpoint.conninfo()],
                       stdin=dump, env=restored.endpoint.child_env(), check=True, capture_output=True, timeout=120)
    assert not failures(backup.verify(restored.endpoint, result.manifest))


def test_manifest_taken_during_inserts_verifies_its_own_dump(chinook, scratch, tmp_path):
    """Another connection inserts rows throughout the backup; the manifest describes the dump's
    snapshot, so its own restore still verifies, though the source has moved on."""
    stop = threading.Event()
    inserted: list[float] = []

    def insert_rows() -> None:
        with chinook.connect("inserter") as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO artist (name) VALUES ('Concurrent Artist')")
                conn.execute("INSERT INTO invoice_line (invoice_id, track_id, unit_price, quantity) "
                             "VALUES (1, 1, 0.99, 1)")
                inserted.append(time.monotonic())

    def rows_inserted_after(moment: float) -> int:
        assert writer.is_alive(), "the writer thread stopped (its exception is reported above)"
        return sum(t > moment for t in inserted)

    writer = threading.Thread(target=insert_rows)
    writer.start()
    try:
        wait_for(lambda: rows_inserted_after(0) >= 20, 30, "the writer's first 20 rows")
        started = time.monotonic()
        result = backup.backup(chinook, tmp_path / "busy.dump", fmt="custom")
        finished = time.monotonic()
        wait_for(lambda: rows_inserted_after(finished) >= 20, 30, "20 rows after the backup")  # it keeps going
    finally:
        stop.set()
        writer.join()
    during = [t for t in inserted if started < t < finished]
    assert during, "no row was inserted while the backup ran: the test proved nothing"
    m = result.manifest
    source_now = sql_run(chinook, "SELECT count(*) FROM artist")[0][0]
    assert source_now > m.tables["public.artist"]["rows"]  # the source moved on
    restored = scratch()
    backup.restore(restored.endpoint, result.path, manifest=m)
    findings = backup.verify(restored.endpoint, m)
    assert not failures(findings)
    # And the source itself no longer matches the manifest, naming the tables written to.
    moved = failures(backup.verify(chinook, m))
    assert any("public.artist:" in f for f in moved) and any("public.invoice_line:" in f for f in moved)


def test_other_timezone_and_datestyle_do_not_change_the_verdict(chinook, scratch, tmp_path, monkeypatch, pg_cluster):
    """Session settings change the text of timestamps, intervals and floats; the hashing session
    sets them itself, so neither the backup's client (PGTZ, PGDATESTYLE) nor the restored
    database's defaults (ALTER DATABASE ... SET) change the verdict."""
    sql_run(chinook,
            "CREATE TABLE readings (id serial PRIMARY KEY, at timestamptz NOT NULL, day date NOT NULL, "
            "took interval NOT NULL, value float8 NOT NULL, raw bytea NOT NULL, price money NOT NULL)",
            "INSERT INTO readings (at, day, took, value, raw, price) SELECT "
            "timestamptz '2024-03-01 12:00:00+00' + i * interval '7 hours 3 minutes', date '2024-02-27' + i, "
            "i * interval '1 day 2 hours 3.5 seconds', 1.0 / (i + 3), decode(md5(i::text), 'hex'), i * 1.25 "
            "FROM generate_series(1, 200) i")
    monkeypatch.setenv("PGTZ", "America/St_Johns")
    monkeypatch.setenv("PGDATESTYLE", "German, DMY")
    result = backup.backup(chinook, tmp_path / "tz.dump", fmt="custom")
    restored = scratch()
    backup.restore(restored.endpoint, result.path, manifest=result.manifest)
    monkeypatch.delenv("PGTZ")
    monkeypatch.delenv("PGDATESTYLE")
    with pg_cluster.connect() as conn:
        from psycopg import sql

        for setting, value in (("TimeZone", "Asia/Kathmandu"), ("DateStyle", "SQL, DMY"),
                               ("IntervalStyle", "sql_standard"), ("extra_float_digits", "0"),
                               ("bytea_output", "escape")):
            conn.execute(sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                sql.Identifier(restored.name), sql.Identifier(setting), sql.Literal(value)))
    # The settings really change the text form in a default session of the restored database...
    default_text = sql_run(restored.endpoint, "SELECT r::text FROM readings r ORDER BY id LIMIT 1")[0][0]
    assert "+0545" in default_text and "2024-03" not in default_text
    with restored.endpoint.connect() as conn:  # hashing in a session that does not fix them:
        manifest.begin_snapshot(conn)
        naive = manifest.describe(conn)
    assert naive.tables["public.readings"]["hash"] != result.manifest.tables["public.readings"]["hash"]
    assert naive.tables["public.artist"]["hash"] == result.manifest.tables["public.artist"]["hash"]
    # ...and yet verification, which fixes them, passes.
    findings = backup.verify(restored.endpoint, result.manifest)
    assert not failures(findings)


def test_partitioned_table_is_counted_once(chinook, scratch, tmp_path):
    sql_run(chinook,
            "CREATE TABLE fills (id int NOT NULL, venue text NOT NULL) PARTITION BY LIST (venue)",
            "CREATE TABLE fills_epex PARTITION OF fills FOR VALUES IN ('EPEX')",
            "CREATE TABLE fills_ice PARTITION OF fills FOR VALUES IN ('ICE')",
            "INSERT INTO fills SELECT i, CASE WHEN i % 3 = 0 THEN 'ICE' ELSE 'EPEX' END FROM generate_series(1, 300) i")
    result = backup.backup(chinook, tmp_path / "p.dump", fmt="custom")
    m = result.manifest
    assert "public.fills" not in m.tables and m.schema["public.fills"]["kind"] == "partitioned table"
    assert m.tables["public.fills_epex"]["rows"] + m.tables["public.fills_ice"]["rows"] == 300
    restored = scratch()
    backup.restore(restored.endpoint, result.path, manifest=m)
    assert not failures(backup.verify(restored.endpoint, m))


def test_block_range_hashing_equals_whole_table_hashing(chinook):
    """Large tables are hashed in block ranges by several workers; the sums must add up to the
    whole-table figures (forced here with 1-block ranges on Chinook)."""
    def measure(**kwargs):
        with chinook.connect() as conn:
            manifest.configure_session(conn)
            manifest.begin_snapshot(conn)
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            try:
                return manifest.describe(conn, snapshot=snapshot, connect_worker=lambda: chinook.connect(), **kwargs)
            finally:
                conn.rollback()

    whole = measure(workers=1)
    ranged = measure(workers=3, chunk_blocks=1)
    assert ranged.tables == whole.tables
    assert sql_run(chinook, "SELECT pg_relation_size('track') / 8192")[0][0] > 3  # really several ranges


def test_dump_is_private_to_its_owner(chinook, tmp_path):
    result = backup.backup(chinook, tmp_path / "private.sql")
    assert oct(os.stat(result.path).st_mode & 0o777) == oct(0o600)


@pytest.mark.parametrize("fmt", ["plain", "custom"])
def test_streamed_round_trip_restores_the_backups_own_bytes(fmt, chinook, scratch, tmp_path):
    """backup(restore_into=...): the dump is written and restored from one stream (as the
    runbook's round trip test does); the file is the backup, the restore is of those bytes."""
    restored = scratch()
    result = backup.backup(chinook, tmp_path / f"trip.{fmt}", fmt=fmt, restore_into=restored.endpoint)
    assert [f.status for f in backup.check_dump(result.manifest, result.manifest_path)] == [Status.PASS]
    assert sum(t["rows"] for t in result.manifest.tables.values()) == CHINOOK_ROWS
    assert not failures(backup.verify(restored.endpoint, result.manifest))
    # The file alone restores too, the runbook way.
    again = scratch()
    backup.restore(again.endpoint, result.path, manifest=result.manifest)
    assert not failures(backup.verify(again.endpoint, result.manifest))


def test_round_trip_whose_restore_fails_leaves_nothing(chinook, scratch, tmp_path):
    restored = scratch()  # owned by the superuser: the source's owner may not create tables there
    target = chinook.with_params(dbname=restored.name)
    with pytest.raises(backup.BackupError) as failure:
        backup.backup(chinook, tmp_path / "trip.sql", restore_into=target)
    assert f"restoring into {target.label} failed (psql exit 3)" in str(failure.value)
    assert "permission denied for schema public" in str(failure.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_round_trip_refuses_the_source_database(chinook, tmp_path):
    with pytest.raises(backup.BackupError, match="it is the database the backup was taken from"):
        backup.backup(chinook, tmp_path / "trip.sql", restore_into=chinook)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
