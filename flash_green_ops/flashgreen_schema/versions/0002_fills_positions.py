"""fills and positions

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE fills (
        id bigserial PRIMARY KEY,
        order_id bigint NOT NULL REFERENCES orders (id),
        quantity numeric(18, 3) NOT NULL CHECK (quantity > 0),
        price numeric(18, 4) NOT NULL,
        filled_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX fills_order ON fills (order_id);
    CREATE TABLE positions (
        account_id bigint NOT NULL REFERENCES accounts (id),
        instrument_id bigint NOT NULL REFERENCES instruments (id),
        quantity numeric(18, 3) NOT NULL,
        PRIMARY KEY (account_id, instrument_id)
    );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE positions; DROP TABLE fills")
