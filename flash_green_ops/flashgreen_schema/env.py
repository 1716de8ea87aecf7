"""Alembic environment of Flash Green's schema: online migrations on the connection the runbook
hands over in ``config.attributes["connection"]`` (Alembic's recipe for sharing a connection),
so the password never appears in a URL, a file or a command line."""
from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run these migrations through flash_green_ops.migrations (it passes a connection); "
                       "this env.py reads no URL")
context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
