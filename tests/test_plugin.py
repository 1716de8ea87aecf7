"""The suite's pytest glue: option checks, the production guard, required services."""
import pytest

from fixtures.services import Service, ServiceUnavailable
from fixtures.targets import ThrowawayTarget
from tests.conftest import run_ops_tests
from tests.test_envspec import PRODUCTION


def _outcome_kinds(result) -> set[str]:
    """What the run's tests came to (passed, skipped, failed, errors, ...), as a set: neither
    the deselected items nor the warnings are outcomes of a test."""
    return result.parseoutcomes().keys() - {"deselected", "warnings"}


def test_a_bad_option_value_is_a_one_line_usage_error(pytester):
    result = run_ops_tests(pytester, "-m", "metrics", "--http-timeout", "-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*argument --http-timeout: must be greater than 0: '-1'*"])
    assert "Traceback" not in result.stderr.str()


def test_destructive_tests_never_run_against_production_even_when_allowed(pytester, tmp_path):
    env = tmp_path / ".env.production"
    # The database is unreachable on purpose: the guard must skip before anything connects.
    env.write_text(PRODUCTION.replace("db.internal:5432", "127.0.0.1:1"))
    result = run_ops_tests(pytester, "--env-file", str(env), "-m", "destructive", "--allow-destructive", "-rs")
    # Only skips: an error would be a fixture that connected before the guard.
    assert _outcome_kinds(result) == {"skipped"}, result.parseoutcomes()
    result.stdout.fnmatch_lines(["*destructive test on a production env: never run against the production server*"])


def test_in_ci_a_backup_item_that_skips_fails(pytester, tmp_path):
    """CI set: a backup item's skip (here: live staging without --allow-destructive) is a
    failure naming the reason, as a round trip that never ran proves nothing; other steps'
    skips (the production-only env rules) stay skips."""
    env = tmp_path / ".env.staging"
    env.write_text(PRODUCTION.replace("APP_ENV=production", "APP_ENV=staging").replace("db.internal:5432", "127.0.0.1:1"))
    env.chmod(0o600)
    result = run_ops_tests(pytester, "--env-file", str(env), "-m", "backup or env", ci=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors") == 9 and outcomes.get("skipped") == 2, outcomes  # backup.CHECKS; env's two
    result.stdout.fnmatch_lines(["*CI is set, so this backup item must run, but it skipped: destructive test on a "
                                 "live target: pass --allow-destructive to run it against staging*"])
    without = run_ops_tests(pytester, "--env-file", str(env), "-m", "backup")
    assert _outcome_kinds(without) == {"skipped"}, without.parseoutcomes()


def test_destructive_tests_on_live_staging_need_the_flag(pytester, tmp_path):
    env = tmp_path / ".env.staging"
    env.write_text(PRODUCTION.replace("APP_ENV=production", "APP_ENV=staging"))
    result = run_ops_tests(pytester, "--env-file", str(env), "-m", "destructive", "-rs")
    result.stdout.fnmatch_lines(["*pass --allow-destructive to run it against staging*"])
    assert _outcome_kinds(result) == {"skipped"}, result.parseoutcomes()


def test_a_required_service_that_cannot_run_fails_instead_of_skipping(pytester, tmp_path):
    missing = str(tmp_path / "no-postgres-here")
    skipped = run_ops_tests(pytester, "-m", "db", "--pg-bin-dir", missing, "-rs")
    assert skipped.ret == pytest.ExitCode.OK and _outcome_kinds(skipped) == {"skipped"}, skipped.parseoutcomes()
    skipped.stdout.fnmatch_lines([f"*postgres:*{missing}*"])
    failed = run_ops_tests(pytester, "-m", "db", "--pg-bin-dir", missing, "--require-service", "postgres")
    assert failed.ret == pytest.ExitCode.TESTS_FAILED
    failed.stdout.fnmatch_lines(["*postgres is required (--require-service postgres) but cannot run*"])


class Broken:
    name = "broken"

    def __init__(self):
        self.starts = self.stops = 0

    def env(self):
        return {}

    def start(self):
        self.starts += 1
        raise OSError("port 5432 is taken")

    def stop(self):
        self.stops += 1


def test_a_service_that_failed_to_start_fails_every_later_test_the_same_way(tmp_path):
    broken, unavailable = Broken(), Broken()
    unavailable.start = lambda: (_ for _ in ()).throw(ServiceUnavailable("no binaries"))
    target = ThrowawayTarget(tmp_path, services={"broken": Service(0, {}, broken),
                                                 "unavailable": Service(0, {}, unavailable)})
    try:
        for _ in range(2):
            with pytest.raises(RuntimeError, match="the broken service failed to start: port 5432 is taken"):
                target.ensure("broken")
            with pytest.raises(ServiceUnavailable, match="no binaries"):
                target.ensure("unavailable")
        assert broken.starts == 1
    finally:
        target.close()
    assert broken.stops == 1  # a half-started service is still stopped


def test_each_check_is_its_own_item_and_a_missing_one_is_a_bug_unless_the_step_stopped():
    from fixtures.asserts import check_findings_of
    from flash_green_ops.findings import failed, passed

    connected = [passed("restore.connect", "read it"), passed("restore.rows", "rows match")]
    check_findings_of(connected, "restore.rows")  # its own finding: passes
    with pytest.raises(pytest.fail.Exception, match="reported nothing for restore.content: this is a bug"):
        check_findings_of(connected, "restore.content")
    # A failure that did not stop the step explains nothing about a missing check.
    earlier = [failed("backup.dump", "truncated"), *connected]
    with pytest.raises(pytest.fail.Exception, match="reported nothing for restore.content"):
        check_findings_of(earlier, "restore.content")
    stopped = [passed("backup.dump", "ok"), failed("restore.connect", "cannot read 127.0.0.1:5/x")]
    with pytest.raises(pytest.skip.Exception, match="restore.content was not checked: restore.connect failed: "
                                                    "cannot read 127.0.0.1:5/x"):
        check_findings_of(stopped, "restore.content")
    with pytest.raises(pytest.fail.Exception, match="restore.connect: cannot read"):
        check_findings_of(stopped, "restore.connect")
