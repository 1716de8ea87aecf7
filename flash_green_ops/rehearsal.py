"""The rollback rehearsal, end to end, on a scratch copy: backup (backup step), downgrade and
upgrade (rollback step), invariants on the downgraded copy (reconcile step), and the upgraded
copy compared with the backup's manifest. Shared by scripts/rehearse_rollback.py and the
runbook's ``rollback`` marker; not a step itself, so it may use several.

The scratch database is dropped on every exit path (a failure, Ctrl-C, SIGTERM mapped to
KeyboardInterrupt by the caller); a SIGKILLed run's is recognisable by its name and dropped by
the next run (scratchdb.drop_stale).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from flash_green_ops import backup, reconcile, redact, rollback
from flash_green_ops.backup.manifest import Manifest, compare_content, compare_schema, qualified
from flash_green_ops.errors import OpsError, UsageError
from flash_green_ops.findings import Finding, Status, failed, passed
from flash_green_ops.pg import PgEndpoint
from flash_green_ops.scratchdb import ScratchDatabase, drop_stale


def scratch_server(source: PgEndpoint, restore_url: str | None, is_production: bool) -> PgEndpoint:
    """Where the scratch copy goes: --restore-url, else the source's own server. Never the
    production server: production needs --restore-url, and one on another server (UsageError)."""
    if restore_url:
        try:
            redact.register(redact.url_password(restore_url))
        except Exception:
            redact.register(restore_url)
            raise UsageError("--restore-url is not a PostgreSQL URL libpq accepts") from None
        server = PgEndpoint.from_conninfo(restore_url, connect_timeout=source.connect_timeout,
                                          source_key="--restore-url")
        if is_production and backup.same_server(source, server):
            raise UsageError(f"--restore-url {server.label} is the production server itself: nothing may be "
                             f"created there; point --restore-url at another server")
        return server
    if is_production:
        raise UsageError("production: the rehearsal never creates a database on the production server; "
                         "pass --restore-url postgresql://user@other-server/postgres (password in PGPASSWORD)")
    return source.with_params(dbname="postgres")


def rehearse(source: PgEndpoint, server: PgEndpoint, config_path: str | Path, invariants, *,
             invariant_timeout: float = reconcile.DEFAULT_TIMEOUT,
             downgrade_timeout: float = rollback.DEFAULT_TIMEOUT) -> list[Finding]:
    """The rehearsal's findings (rollback.*), stopping after a failure the later checks need. A
    database error on the way (the copy cannot be created, the server went away) is the failure
    of the check it interrupted, not a traceback."""
    import psycopg

    try:
        revision = rollback.database_revision(source)
    except (psycopg.Error, OpsError) as exc:  # the source's fault, not the script directory's
        return [failed("rollback.at_head", redact.mask(f"cannot read the Alembic revision of {source.label}: "
                                                       f"{' '.join(str(exc).split())}"))]
    findings: list[Finding] = []
    scratch = None
    try:
        # Static checks first, on the source (read-only): a broken script directory or a
        # database not at head is known before an hour of backup.
        static, plan = rollback.static_checks(config_path, revision)
        findings += static
        if plan is None:
            return findings
        drop_stale(server)
        same = backup.same_server(source, server)
        scratch = ScratchDatabase(server, like=source)
        scratch.create()
        # On the source's server the copy keeps its owner: migrate as the application would.
        copy = source.with_params(dbname=scratch.name) if same else scratch.endpoint
        _rehearse(findings, plan, source, scratch, copy, same, Path(config_path), invariants, invariant_timeout,
                  downgrade_timeout)
    except (psycopg.Error, OpsError) as exc:
        _stopped(findings, f"the rehearsal stopped on {server.label}: {' '.join(str(exc).split())}")
    finally:
        if scratch is not None:
            try:
                scratch.drop()
            except (psycopg.Error, OpsError) as exc:  # the server went away: what was found stands
                _stopped(findings, f"scratch database {scratch.name} is left on {server.label} (the next "
                                   f"rehearsal drops it): {' '.join(str(exc).split())}")
    return findings


def _stopped(findings: list[Finding], message: str) -> None:
    """A failure of the first check not done yet (of the last one when every one was)."""
    done = {f.check for f in findings}
    check = next((c for c in rollback.CHECKS if c not in done), rollback.CHECKS[-1])
    findings.append(failed(check, redact.mask(message)))


def _rehearse(findings, plan, source, scratch, copy, same, config_path, invariants, invariant_timeout,
              downgrade_timeout):
    with tempfile.TemporaryDirectory(prefix="flashgreen-rollback-") as directory:
        result = backup.backup(source, Path(directory) / "rehearsal.dump", fmt="plain" if same else "custom",
                               restore_into=scratch.endpoint, no_owner=not same)
    manifest = result.manifest
    if manifest.data.get("alembic_revision") != plan.head:  # migrated while we looked
        findings.append(failed("rollback.backup", f"{source.label} moved to Alembic revision "
                                                  f"{manifest.data.get('alembic_revision')} during the backup"))
        return
    rows = sum(t["rows"] for t in manifest.tables.values())
    findings.append(passed("rollback.backup", f"{source.label} backed up ({len(manifest.tables)} tables, {rows} rows) "
                                              f"and restored into scratch database {copy.label}"))
    before = rollback.snapshot(copy, digests=True)
    findings.append(rollback.downgrade(copy, config_path, plan, downgrade_timeout))
    if findings[-1].status is Status.FAIL:
        return
    findings.append(rollback.check_version(copy, plan))
    after = rollback.snapshot(copy)
    findings.append(rollback.losses(before, after))
    findings.append(reconcile.summary("rollback.invariants", reconcile.run(copy, invariants, invariant_timeout),
                                      f"on the copy downgraded to {plan.previous or 'base'}"))
    dropped = rollback.dropped_columns(before, after)
    findings.append(rollback.upgrade(copy, config_path, plan, downgrade_timeout))
    if findings[-1].status is Status.FAIL:
        return
    actual = backup.measure(copy, method=manifest.data["hash"]["method"])
    findings.append(schema_finding(manifest, actual, copy.label))
    final = rollback.snapshot(copy, digests=set(dropped))
    findings.append(data_finding(manifest, actual, dropped, rollback.changed_columns(before, final, dropped), copy.label))


def schema_finding(manifest: Manifest, actual: Manifest, where: str) -> Finding:
    problems = [f.message for f in compare_schema(manifest, actual, where) if f.status is Status.FAIL]
    if problems:
        return failed("rollback.schema", "after downgrade and upgrade the schema differs from the original: " +
                      "; ".join(problems))
    return passed("rollback.schema", f"after downgrade and upgrade the schema fingerprint equals the original "
                                     f"(sha256 {manifest.data['schema'].get('fingerprint', '?')[:12]})")


def data_finding(manifest: Manifest, actual: Manifest, dropped: dict, changed: dict, where: str) -> Finding:
    """rollback.data: the manifest's row counts and content hashes, except in the tables whose
    columns the downgrade dropped: there the row count against the manifest, and every column
    the downgrade kept against the copy before it (``changed``: per column digests keyed by the
    primary key), and the dropped columns are named."""
    names = {key: qualified(*key) for key in dropped}
    skip = set(names.values())
    expected = Manifest({**manifest.data, "tables": {k: v for k, v in manifest.tables.items() if k not in skip}})
    measured = Manifest({**actual.data, "tables": {k: v for k, v in actual.tables.items() if k not in skip}})
    problems = [f.message for f in compare_content(expected, measured, where) if f.status is Status.FAIL]
    for key, name in sorted(names.items()):
        e_rows, a_rows = manifest.tables.get(name, {}).get("rows"), actual.tables.get(name, {}).get("rows")
        if e_rows != a_rows:
            problems.append(f"{name}: {e_rows} rows in the manifest, {a_rows} after the upgrade")
        if key in changed:
            problems.append(f"{name}: column(s) {', '.join(changed[key])} differ from the copy before the downgrade")
    except_ = "; ".join(f"{names[k]}: {', '.join(cols)}" for k, cols in sorted(dropped.items()))
    exception = f", except the columns the downgrade dropped ({except_}: their values are gone)" if dropped else ""
    if problems:
        return failed("rollback.data", "after downgrade and upgrade the data differs from the backup's manifest"
                                       f"{exception}: " + "; ".join(problems))
    return passed("rollback.data", f"after downgrade and upgrade the data equals the backup's manifest{exception}")
