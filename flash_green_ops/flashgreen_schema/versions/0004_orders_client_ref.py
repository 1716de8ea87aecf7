"""orders.client_ref: the client's own order reference

Revision ID: 0004
Revises: 0003

Its downgrade drops the column and what it holds: the rollback rehearsal reports that loss.
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE orders ADD COLUMN client_ref text")


def downgrade() -> None:
    op.execute("ALTER TABLE orders DROP COLUMN client_ref")
