"""Flash Green's operations runbook as checks: plain Python, no pytest.

A shared layer (errors, pg, urls, credentials, context, findings, report, settings, redact)
under sibling steps that never import each other (envspec, secrets, database, metrics, backup);
preflight runs them in the runbook's order, and commands/ are the command lines.
"""
