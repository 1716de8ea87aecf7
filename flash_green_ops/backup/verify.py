"""Verify: recompute a database's manifest in a read-only session and name every difference."""
from __future__ import annotations

import time
from pathlib import Path

from flash_green_ops import redact
from flash_green_ops.backup.clients import APP_NAME
from flash_green_ops.backup.dump import file_digest
from flash_green_ops.backup.manifest import Manifest, begin_snapshot, compare, configure_session, describe
from flash_green_ops.findings import Finding, failed, passed
from flash_green_ops.pg import PgEndpoint

# Every check a verification reports (restore.connect alone when the database cannot be read).
CHECKS = ("restore.connect", "restore.server_version", "restore.tables", "restore.schema", "restore.rows",
          "restore.content", "restore.sequences", "restore.alembic")


def measure(target: PgEndpoint, workers: int = 2, method: str | None = None) -> Manifest:
    """A manifest of ``target`` computed in a read-only session (default_transaction_read_only)."""
    with target.connect(f"{APP_NAME}-verify", read_only=True) as conn:
        configure_session(conn)
        begin_snapshot(conn)
        snapshot = None
        if workers > 1:
            snapshot = conn.execute("SELECT pg_catalog.pg_export_snapshot()").fetchone()[0]
        try:
            return describe(conn, snapshot=snapshot, workers=workers, method=method,
                            connect_worker=lambda: target.connect(f"{APP_NAME}-verify", read_only=True))
        finally:
            conn.rollback()


def verify(target: PgEndpoint, expected: Manifest, workers: int = 2) -> list[Finding]:
    """Findings (restore.*) comparing the database ``target`` with the manifest ``expected``."""
    started = time.monotonic()
    try:
        actual = measure(target, workers, (expected.data.get("hash") or {}).get("method", "text"))
    except Exception as exc:
        return [failed("restore.connect", redact.mask(
            f"cannot read the restored database {target.label}: {exc}"), target.label)]
    findings = [passed("restore.connect", f"read {target.label} in read-only sessions", target.label),
                *compare(expected, actual, target.label)]
    elapsed = time.monotonic() - started
    return [f.with_stage("restore", elapsed / len(findings)) for f in findings]


def check_dump(manifest: Manifest, manifest_path: Path) -> list[Finding]:
    """backup.dump: the dump next to the manifest has the size and SHA-256 the manifest recorded."""
    dump = manifest.data.get("dump") or {}
    name = dump.get("file")
    if not name:
        return [failed("backup.dump", f"{manifest_path} names no dump file: not written by scripts/backup.py")]
    path = manifest_path.with_name(name)
    if not path.exists():
        return [failed("backup.dump", f"{path}: the dump named by {manifest_path.name} is missing", str(path))]
    size, sha256 = file_digest(path)
    if (size, sha256) != (dump.get("size"), dump.get("sha256")):
        return [failed("backup.dump", f"{path}: {size} bytes, sha256 {sha256[:16]}…; the manifest recorded "
                                      f"{dump.get('size')} bytes, sha256 {str(dump.get('sha256'))[:16]}…: "
                                      f"the dump changed or is truncated since the backup", str(path))]
    return [passed("backup.dump", f"{path}: {size} bytes, sha256 {sha256[:16]}… as recorded "
                                  f"({len(manifest.tables)} tables, "
                                  f"{sum(t['rows'] for t in manifest.tables.values())} rows)", str(path))]
