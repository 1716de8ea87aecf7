"""Flash Green runbook checks: plain Python, no pytest. One module per runbook step."""
