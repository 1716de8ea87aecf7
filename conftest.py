"""Root conftest: loads the runbook suite's plugins (options, targets, services)."""
pytest_plugins = ["fixtures.plugin", "fixtures.db_plugin", "fixtures.secrets_plugin", "fixtures.backup_plugin",
                  "fixtures.container_plugin", "fixtures.results_plugin"]
