"""Preflight: check the env, the secret backend and the database before a deploy.

Exit codes: 0 every check passed (warnings allowed), 1 a check failed, 2 bad invocation or input,
130/143 interrupted by SIGINT/SIGTERM.
"""
from __future__ import annotations

import gc
import sys

from flash_green_ops import cli, preflight, report, results_metrics, settings
from flash_green_ops.findings import Status


def main(argv=None) -> int:
    parser = cli.Parser(prog=cli.prog(), description=__doc__)
    settings.add_options(parser.add_argument)
    parser.add_argument("--stage", action="append", choices=list(preflight.STAGES), metavar="STAGE",
                        help=f"stage to run, repeatable: {', '.join(preflight.STAGES)} "
                             f"(default: {' '.join(preflight.DEFAULT_STAGES)})")
    cli.add_output_options(parser)
    parser.add_argument("--skip", action="append", default=[], metavar="CHECK_ID[=REASON]",
                        help="report this check as skipped, with the reason (repeatable)")
    parser.add_argument("--only", action="append", default=[], metavar="CHECK_ID",
                        help="run only this check (repeatable)")
    cli.add_retry_options(parser)
    settings.add_options(parser.add_argument, results_metrics.OPTIONS)
    args = parser.parse_args(argv)

    where = results_metrics.destinations(args.metrics_out, args.pushgateway)
    ctx = cli.load_context(args)
    selection = preflight.select_checks(ctx.contract, args.skip, args.only)

    def attempt(deadline: float | None) -> list:
        nonlocal ctx
        if deadline is not None:  # a fresh context: the env file as it is now, nothing cached
            ctx = cli.load_context(args, deadline)
        return preflight.run_stages(ctx, args.stage or preflight.DEFAULT_STAGES, selection)

    findings = cli.with_retries(attempt, args)
    code = cli.write_report(findings, args, ctx, "preflight")
    if where:
        publish_results(where, findings, ctx, args.metrics_suite or "preflight", code)
    return code


def publish_results(where, findings, ctx, suite: str, code: int) -> None:
    """--metrics-out / --pushgateway: after the report, so a metrics problem never hides it."""
    results = [results_metrics.CheckResult(f.check, f.stage, ctx.environment, STATUS_OUTCOME[f.status], f.duration)
               for f in findings]
    results_metrics.publish(where, results, runs={ctx.environment: code == report.EXIT_OK}, suite=suite,
                            timeout=ctx.settings.http_timeout)


STATUS_OUTCOME = {Status.PASS: results_metrics.PASSED, Status.WARN: results_metrics.PASSED,
                  Status.FAIL: results_metrics.FAILED, Status.SKIP: results_metrics.SKIPPED}


def console() -> None:
    """The ``flash-green-preflight`` console script (and scripts/preflight_check.py)."""
    # What is imported by now lives as long as the process: the collector need not walk it at
    # every collection the parsing sets off (gc.freeze; a few % of the metrics stage's CPU).
    gc.freeze()
    sys.exit(cli.run(main))


if __name__ == "__main__":  # python -m flash_green_ops.commands.preflight (the entrypoint's phase)
    console()
