"""The command lines the runbook names; each is also a console script (pyproject.toml)."""
