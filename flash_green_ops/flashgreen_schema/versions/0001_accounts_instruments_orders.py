"""accounts, instruments, orders

Revision ID: 0001
Revises:
"""
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE accounts (
        id bigserial PRIMARY KEY,
        name text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE instruments (
        id bigserial PRIMARY KEY,
        symbol text NOT NULL UNIQUE,
        unit text NOT NULL
    );
    CREATE TABLE orders (
        id bigserial PRIMARY KEY,
        account_id bigint NOT NULL REFERENCES accounts (id),
        instrument_id bigint NOT NULL REFERENCES instruments (id),
        side text NOT NULL CHECK (side IN ('buy', 'sell')),
        quantity numeric(18, 3) NOT NULL CHECK (quantity > 0),
        limit_price numeric(18, 4) NOT NULL,
        status text NOT NULL CHECK (status IN ('open', 'partially_filled', 'filled', 'cancelled')),
        placed_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX orders_open ON orders (placed_at) WHERE status IN ('open', 'partially_filled');
    """)


def downgrade() -> None:
    op.execute("DROP TABLE orders; DROP TABLE instruments; DROP TABLE accounts")
