"""settlement batches

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE settlement_batches (
        id bigserial PRIMARY KEY,
        settled_on date NOT NULL UNIQUE
    );
    CREATE TABLE settlements (
        id bigserial PRIMARY KEY,
        batch_id bigint NOT NULL REFERENCES settlement_batches (id),
        account_id bigint NOT NULL REFERENCES accounts (id),
        amount numeric(20, 4) NOT NULL
    );
    CREATE INDEX settlements_batch ON settlements (batch_id);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE settlements; DROP TABLE settlement_batches")
