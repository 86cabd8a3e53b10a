"""the index on feedback about a person by release also holds when each item last changed and
its id, so the marks that say whether a remembered App Home snapshot or growth reading is still
current are read from the index alone (a few milliseconds for 10,000 items, not a row each)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 01:45:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_index("ix_feedback_subject_released", table_name="feedback")
    op.create_index(
        "ix_feedback_subject_released_marks", "feedback", ["subject_id", "released_at", "updated_at", "id"]
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_feedback_subject_released_marks", table_name="feedback")
    op.create_index("ix_feedback_subject_released", "feedback", ["subject_id", "released_at"])
