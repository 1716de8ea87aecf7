"""The reconciliation step, its invariants file and scripts/reconcile.py, on a real seeded
Flash Green database (tests/flashgreen_fixtures.py): every failure provoked for real."""
from __future__ import annotations

import json
import time

import pytest

from flash_green_ops import reconcile
from flash_green_ops.findings import Status
from tests.conftest import assert_no_secrets, run_ops_tests, run_script
from tests.pg_fixtures import by_check

SHIPPED = ("fills-reference-orders", "fills-within-order-quantity", "filled-orders-fully-filled",
           "positions-match-fills", "settlement-batches-net-to-zero", "no-stale-open-orders",
           "sequences-ahead-of-columns")


def write_invariants(path, *entries: str):
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def entry(id_, sql, severity="error"):
    return f'[[invariant]]\nid = "{id_}"\nseverity = "{severity}"\nsql = """{sql}"""\n'


def sql(db, *statements):
    with db.connect() as conn:
        for statement in statements:
            conn.execute(statement)


# -- the shipped invariants ---------------------------------------------------------------------

def test_the_shipped_invariants_hold_on_the_seeded_order_flow(flashgreen):
    invariants = reconcile.load()
    assert tuple(i.id for i in invariants) == SHIPPED
    findings = reconcile.run(flashgreen.endpoint, invariants)
    assert [(f.check, f.status) for f in findings] == [(f"reconcile.{i}", Status.PASS) for i in SHIPPED]
    assert "holds on 127.0.0.1" in findings[0].message


@pytest.mark.parametrize("breakage,check,key", [
    ("UPDATE fills SET quantity = quantity + 1000 WHERE id IN (SELECT id FROM fills ORDER BY id LIMIT 12)",
     "fills-within-order-quantity", None),
    ("UPDATE positions SET quantity = quantity + 1 WHERE (account_id, instrument_id) = "
     "(SELECT account_id, instrument_id FROM positions ORDER BY 1, 2 LIMIT 1)", "positions-match-fills", "/"),
    ("UPDATE settlements SET amount = amount + 0.01 WHERE id = (SELECT min(id) FROM settlements)",
     "settlement-batches-net-to-zero", None),
    ("UPDATE orders SET status = 'filled' WHERE id IN (SELECT id FROM orders WHERE status = 'partially_filled' LIMIT 3)",
     "filled-orders-fully-filled", None),
    ("SELECT setval('orders_id_seq', 5)", "sequences-ahead-of-columns", "public.orders_id_seq"),
    ("ALTER TABLE fills DROP CONSTRAINT fills_order_id_fkey; DELETE FROM orders WHERE id = (SELECT min(order_id) FROM fills)",
     "fills-reference-orders", None),
])
def test_each_shipped_invariant_fails_when_its_data_is_broken(flashgreen, breakage, check, key):
    sql(flashgreen, breakage)
    findings = by_check(reconcile.run(flashgreen.endpoint, reconcile.load()))
    broken = findings[f"reconcile.{check}"]
    assert broken.status is Status.FAIL, broken.message
    assert "row(s) break it" in broken.message
    if key:
        assert key in broken.message
    assert findings["reconcile.no-stale-open-orders"].status is Status.PASS  # not every check fails


def test_a_failure_reports_the_count_and_the_first_ten_keys_only(flashgreen, tmp_path):
    sql(flashgreen, "UPDATE orders SET client_ref = 'PRIVATE-REF-' || id WHERE id <= 25")
    path = write_invariants(tmp_path / "inv.toml", entry(
        "refs", "SELECT id, client_ref FROM orders WHERE client_ref LIKE 'PRIVATE%' ORDER BY id"))
    (finding,) = reconcile.run(flashgreen.endpoint, reconcile.load(path))
    assert finding.status is Status.FAIL
    assert "25 row(s) break it" in finding.message
    assert finding.message.endswith("id (first 10): 1, 2, 3, 4, 5, 6, 7, 8, 9, 10")
    assert "PRIVATE" not in finding.message  # only the first column: the row keys


def test_a_warning_invariant_that_breaks_warns(flashgreen):
    sql(flashgreen, "UPDATE orders SET placed_at = now() - interval '30 days' WHERE id = "
                    "(SELECT min(id) FROM orders WHERE status = 'open')")
    findings = by_check(reconcile.run(flashgreen.endpoint, reconcile.load()))
    stale = findings["reconcile.no-stale-open-orders"]
    assert stale.status is Status.WARN and "1 row(s) break it" in stale.message


def test_bad_sql_fails_that_invariant_with_the_servers_message_and_the_others_run(flashgreen, tmp_path):
    path = write_invariants(tmp_path / "inv.toml", entry("bad", "SELECT nope FROM orders"),
                            entry("good", "SELECT id FROM orders WHERE false"))
    bad, good = reconcile.run(flashgreen.endpoint, reconcile.load(path))
    assert bad.status is Status.FAIL
    assert bad.message.startswith("bad: the query failed on 127.0.0.1:")
    assert 'column "nope" does not exist' in bad.message
    assert good.status is Status.PASS


def test_a_slow_invariant_hits_its_timeout_and_the_others_still_run(flashgreen, tmp_path):
    path = write_invariants(tmp_path / "inv.toml", entry("slow", "SELECT 1 FROM pg_sleep(20)"),
                            entry("good", "SELECT id FROM orders WHERE false"))
    started = time.monotonic()
    slow, good = reconcile.run(flashgreen.endpoint, reconcile.load(path), timeout=0.5)
    assert time.monotonic() - started < 10
    assert slow.status is Status.FAIL
    assert "slow: did not finish within 0.5 s (--invariant-timeout)" in slow.message
    assert "canceling statement due to statement timeout" in slow.message
    assert good.status is Status.PASS


def test_a_sub_millisecond_timeout_still_bounds_the_query(flashgreen, tmp_path):
    """statement_timeout counts whole milliseconds and 0 means none: 0.4 ms must not become 0."""
    path = write_invariants(tmp_path / "inv.toml", entry("slow", "SELECT 1 FROM pg_sleep(20)"))
    started = time.monotonic()
    (slow,) = reconcile.run(flashgreen.endpoint, reconcile.load(path), timeout=0.0004)
    assert time.monotonic() - started < 10
    assert slow.status is Status.FAIL and "canceling statement due to statement timeout" in slow.message


def test_invariants_run_read_only(flashgreen, tmp_path):
    path = write_invariants(tmp_path / "inv.toml", entry("locks", "SELECT id FROM orders FOR UPDATE"))
    (finding,) = reconcile.run(flashgreen.endpoint, reconcile.load(path))
    assert finding.status is Status.FAIL and "read-only transaction" in finding.message


def test_an_unreachable_database_fails_every_invariant_with_the_reason(flashgreen, tmp_path):
    endpoint = flashgreen.endpoint.with_params(dbname="no_such_database")
    findings = reconcile.run(endpoint, reconcile.load())
    assert len(findings) == len(SHIPPED) and all(f.status is Status.FAIL for f in findings)
    assert 'database "no_such_database" does not exist' in findings[0].message


# -- invalid invariants files -------------------------------------------------------------------

@pytest.mark.parametrize("text,why", [
    (entry("a", "SELECT 1") + entry("a", "SELECT 2"), "invariant #2 'a': duplicate id (invariant #1 has it too)"),
    ('[[invariant]]\nid = "nosql"\nseverity = "error"\n', "invariant #1 'nosql': missing sql"),
    (entry("sev", "SELECT 1", severity="fatal"), "invariant #1 'sev': unknown severity 'fatal' (known: error, warning)"),
    ('[[invariant]]\nid = "typo"\nsqll = "SELECT 1"\n', "invariant #1 'typo': unknown key(s) 'sqll'"),
    ('[[invariant]]\nsql = "SELECT 1"\n', "invariant #1: missing or bad id"),
    ("invariant = 3\n", "expected one or more [[invariant]] tables"),
    ("[[invariant]\n", "not valid TOML"),
])
def test_an_invalid_invariants_file_names_the_file_and_the_entry(tmp_path, text, why):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(reconcile.InvariantsError) as raised:
        reconcile.load(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert why in str(raised.value)


def test_an_unreadable_invariants_file_is_one_line(tmp_path):
    with pytest.raises(reconcile.InvariantsError, match=r"missing\.toml: no such file$"):
        reconcile.load(tmp_path / "missing.toml")
    with pytest.raises(reconcile.InvariantsError, match="is a directory, not an invariants file"):
        reconcile.load(tmp_path)


# -- scripts/reconcile.py -----------------------------------------------------------------------

def test_script_exits_0_when_every_invariant_holds(flashgreen, db_env_file):
    result = run_script("reconcile.py", "--env-file", db_env_file(flashgreen.url()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS reconcile.positions-match-fills" in result.stdout
    assert result.stdout.splitlines()[-1] == f"reconcile: {len(SHIPPED)} held, 0 failed"
    assert_no_secrets([flashgreen.password], result.stdout, result.stderr)


def test_script_exits_1_when_one_fails_and_says_which_in_json(flashgreen, db_env_file):
    sql(flashgreen, "UPDATE settlements SET amount = amount + 1 WHERE id = (SELECT min(id) FROM settlements)")
    result = run_script("reconcile.py", "--env-file", db_env_file(flashgreen.url()), "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    statuses = {c["id"]: c["status"] for c in document["checks"]}
    assert statuses["reconcile.settlement-batches-net-to-zero"] == "FAIL"
    assert [s for s in statuses.values() if s == "FAIL"] == ["FAIL"]
    assert document["exit_code"] == 1
    assert_no_secrets([flashgreen.password], result.stdout, result.stderr)


def test_script_exits_1_on_a_timeout_with_the_servers_message(flashgreen, db_env_file, tmp_path):
    path = write_invariants(tmp_path / "inv.toml", entry("slow", "SELECT 1 FROM pg_sleep(20)"))
    result = run_script("reconcile.py", "--env-file", db_env_file(flashgreen.url()), "--invariants", path,
                        "--invariant-timeout", "0.5")
    assert result.returncode == 1
    assert "FAIL reconcile.slow slow: did not finish within 0.5 s" in result.stdout
    assert "canceling statement due to statement timeout" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["--invariants", "{bad}"], "{bad}: invariant #2 'a': duplicate id"),
    (["--invariants", "{missing}"], "{missing}: no such file"),
    (["--invariant-timeout", "0"], "--invariant-timeout: must be greater than 0"),
    (["--format", "yaml"], "--format: invalid choice"),
])
def test_script_exits_2_on_bad_invocations_with_one_line(flashgreen, db_env_file, tmp_path, args, message):
    bad = write_invariants(tmp_path / "bad.toml", entry("a", "SELECT 1"), entry("a", "SELECT 2"))
    names = {"bad": bad, "missing": tmp_path / "missing.toml"}
    result = run_script("reconcile.py", "--env-file", db_env_file(flashgreen.url()),
                        *[a.format(**names) for a in args])
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and message.format(**names) in result.stderr
    assert "Traceback" not in result.stderr


# -- the runbook markers on the local target ----------------------------------------------------

def test_the_reconcile_and_rollback_markers_run_one_item_per_invariant_and_check(pytester, tmp_path):
    path = write_invariants(tmp_path / "inv.toml", entry("no-open-orders", "SELECT id FROM orders WHERE status = 'open'"),
                            entry("no-orphan-fills", "SELECT f.id FROM fills f LEFT JOIN orders o ON o.id = f.order_id "
                                                     "WHERE o.id IS NULL"))
    result = run_ops_tests(pytester, "-m", "reconcile or rollback", "--invariants", str(path), "-v")
    result.assert_outcomes(passed=1 + 10, failed=2)  # rollback.losses passes with a warning
    output = result.stdout.str()
    for line in ("test_reconcile.py::test_reconcile[no-open-orders] FAILED",
                 "test_reconcile.py::test_reconcile[no-orphan-fills] PASSED",
                 "test_rollback.py::test_rollback[rollback.invariants] FAILED",
                 "reconcile.no-open-orders: no-open-orders: 500 row(s) break it on 127.0.0.1:"):
        assert line in output, output


def test_an_invalid_invariants_file_is_one_usage_error_for_pytest(pytester, tmp_path):
    path = write_invariants(tmp_path / "bad.toml", entry("a", "SELECT 1", severity="fatal"))
    result = run_ops_tests(pytester, "-m", "reconcile", "--invariants", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"{path}: invariant #1 'a': unknown severity 'fatal'" in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
