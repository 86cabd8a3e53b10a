"""the weekly digest's day and hour, as each person chose them on the App Home

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 10:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("digest_weekday", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("digest_hour", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("person") as batch:
        batch.drop_column("digest_hour")
        batch.drop_column("digest_weekday")
