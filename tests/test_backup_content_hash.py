"""The content hash sees which row holds a value, not only which values a column holds.

Every damage is done for real to a restored copy on the session cluster; verification must
name the table. The converse too: faithful restores (plain psql, pg_restore -j 4, a database
whose sessions default to other settings) verify clean.
"""
from __future__ import annotations

import json

import pytest

from flash_green_ops import backup
from flash_green_ops.backup import manifest
from flash_green_ops.findings import Status
from tests.backup_fixtures import admin_endpoint, failures, sql_run

SOURCE_DB = "hash_families_source"

# One column per family the row hash treats differently (native hash, binary form, text form).
SCHEMA = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN quantity AS numeric(12,4) CHECK (VALUE > 0);
CREATE TABLE families (
    id integer PRIMARY KEY,
    i bigint, n numeric(12,2), nu numeric, f double precision, r real, t text, vc varchar(40),
    ts timestamptz, j jsonb, b bytea, e mood, a integer[], d quantity, note text
);
INSERT INTO families
SELECT g, g * 1000003, g * 1.25, g / 7.0, g * 0.5, g * 0.25, 'text ' || g, 'vc ' || g,
       timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute',
       jsonb_build_object('order', g, 'price', g * 1.5), decode(lpad(to_hex(g), 8, '0'), 'hex'),
       (ARRAY['sad', 'ok', 'happy']::mood[])[1 + g % 3], ARRAY[g, g + 1], g + 0.5, CASE WHEN g % 2 = 0 THEN '' END
FROM generate_series(1, 60) AS g;
"""

SWAP = "UPDATE families SET {col} = CASE id WHEN 1 THEN (SELECT {col} FROM families WHERE id = 2) " \
       "ELSE (SELECT {col} FROM families WHERE id = 1) END WHERE id IN (1, 2)"


@pytest.fixture(scope="module")
def families_backup(pg_cluster, tmp_path_factory):
    """One custom-format backup of the ``families`` table, and the source kept for the converse."""
    pg_cluster.create_database(SOURCE_DB)
    try:
        source = admin_endpoint(pg_cluster, SOURCE_DB)
        sql_run(source, *[s for s in SCHEMA.split(";\n") if s.strip()])
        yield backup.backup(source, tmp_path_factory.mktemp("families") / "families.dump", fmt="custom")
    finally:
        pg_cluster.drop_database(SOURCE_DB)


@pytest.fixture
def restored(families_backup, scratch):
    db = scratch()
    backup.restore(db.endpoint, families_backup.path, manifest=families_backup.manifest)
    assert not failures(backup.verify(db.endpoint, families_backup.manifest))  # intact before the damage
    return db.endpoint


def content_failures(endpoint, expected) -> list[str]:
    findings = backup.verify(endpoint, expected)
    return [f.message for f in findings if f.status is Status.FAIL and f.check == "restore.content"]


@pytest.mark.parametrize("column", ["i", "n", "nu", "f", "r", "t", "vc", "ts", "j", "b", "e", "a", "d"])
def test_values_swapped_between_two_rows_fail(column, restored, families_backup):
    """Each column's multiset of values is unchanged: only which row holds which value moved."""
    assert sql_run(restored, f"SELECT count(DISTINCT {column}) FROM families WHERE id IN (1, 2)")[0][0] == 2
    sql_run(restored, SWAP.format(col=column))
    problems = content_failures(restored, families_backup.manifest)
    assert problems and all(p.startswith("public.families: same row count (60)") for p in problems), problems


@pytest.mark.parametrize("damage", [
    pytest.param("UPDATE families SET note = NULL WHERE id = 2", id="empty-string-to-null"),
    pytest.param("UPDATE families SET note = '' WHERE id = 1", id="null-to-empty-string"),
    pytest.param("UPDATE families SET j = jsonb_set(j, '{price}', '3.00') WHERE id = 2", id="jsonb-number-scale"),
    pytest.param("DELETE FROM families WHERE id = 5; "
                 "INSERT INTO families SELECT 5, i, n, nu, f, r, t, vc, ts, j, b, e, a, d, note FROM families "
                 "WHERE id = 6", id="row-duplicated-while-another-deleted"),
])
def test_changes_an_equality_would_miss_fail(damage, restored, families_backup):
    sql_run(restored, *damage.split("; "))
    problems = content_failures(restored, families_backup.manifest)
    assert problems and problems[0].startswith("public.families: same row count (60)"), problems


def test_float_minus_zero_restored_as_zero_fails(restored):
    """-0 = 0 in SQL and in float8's hash, but a dump keeps the sign: a restore path that loses it
    changed the data."""
    sql_run(restored, "UPDATE families SET f = '-0', r = '-0' WHERE id = 3")
    with_sign = backup.measure(restored)
    sql_run(restored, "UPDATE families SET f = 0 WHERE id = 3")
    assert sql_run(restored, "SELECT f = '-0'::float8, f::text FROM families WHERE id = 3")[0] == (True, "0")
    problems = content_failures(restored, with_sign)
    assert problems and problems[0].startswith("public.families: same row count (60)"), problems


def test_nan_payloads_that_dump_alike_hash_alike(restored, families_backup):
    """Every NaN dumps as 'NaN', so two NaNs of different bits must not fail a faithful restore."""
    sql_run(restored, "UPDATE families SET f = 'NaN' WHERE id = 4")
    before = backup.measure(restored)
    # -NaN: the sign bit set, still NaN to PostgreSQL and 'NaN' in every dump.
    sql_run(restored, "UPDATE families SET f = -f WHERE id = 4")
    assert sql_run(restored, "SELECT float8send(f) FROM families WHERE id = 4")[0][0] != bytes.fromhex("7ff8000000000000")
    assert not failures(backup.verify(restored, before))


@pytest.mark.parametrize("fmt,jobs", [("plain", 1), ("custom", 4), ("directory", 4)])
def test_faithful_restores_pass(fmt, jobs, pg_cluster, families_backup, scratch, tmp_path):
    source_copy = scratch()
    backup.restore(source_copy.endpoint, families_backup.path)
    dump = backup.backup(source_copy.endpoint, tmp_path / f"families.{fmt}", fmt=fmt,
                         jobs=jobs if fmt == "directory" else 1)
    target = scratch()
    backup.restore(target.endpoint, dump.path, manifest=dump.manifest, jobs=jobs if fmt != "plain" else 1)
    assert not failures(backup.verify(target.endpoint, dump.manifest))


def test_restore_into_a_database_with_other_session_defaults_passes(pg_cluster, families_backup, scratch):
    """Sessions of the restored database default to other TimeZone, DateStyle, float digits,
    bytea output and search_path: verification sets its own and still matches."""
    db = scratch()
    for name, value in [("TimeZone", "Pacific/Chatham"), ("DateStyle", "SQL, DMY"), ("IntervalStyle", "iso_8601"),
                        ("extra_float_digits", "-3"), ("bytea_output", "escape"), ("search_path", "nowhere")]:
        sql_run(admin_endpoint(pg_cluster), f"ALTER DATABASE {db.name} SET {name} = '{value}'")
    backup.restore(db.endpoint, families_backup.path, manifest=families_backup.manifest)
    assert sql_run(db.endpoint, "SHOW TimeZone")[0][0] == "Pacific/Chatham"
    assert not failures(backup.verify(db.endpoint, families_backup.manifest))


def test_the_row_hash_method_is_typed_v2(families_backup):
    assert families_backup.manifest.data["hash"]["method"] == manifest.TYPED == "typed-v2"


def test_a_manifest_of_the_old_linear_hash_is_refused_in_one_line(families_backup, tmp_path):
    old = json.loads(families_backup.manifest_path.read_text())
    old["hash"]["method"] = "typed"
    path = tmp_path / "old.manifest.json"
    path.write_text(json.dumps(old))
    with pytest.raises(manifest.ManifestError) as refused:
        manifest.load(path)
    message = str(refused.value)
    assert "hash.method is 'typed': a manifest written before typed-v2" in message
    assert "take a new backup" in message and "\n" not in message
