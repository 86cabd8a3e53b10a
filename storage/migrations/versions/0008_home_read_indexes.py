"""indexes for the App Home's reads, which the database now counts and sums: feedback about a
person by release, ratings covered (kpi and score without the table), requests by who asked
and when, and by who was asked and in what state

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-11 10:00:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index("ix_feedback_subject_released", "feedback", ["subject_id", "released_at"])
    op.create_index("ix_rating_feedback_kpi_score", "rating", ["feedback_id", "kpi", "score"])
    op.create_index("ix_request_requester_created", "feedbackrequest", ["requester_id", "created_at"])
    op.create_index("ix_request_giver_state", "feedbackrequest", ["giver_id", "state"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_request_giver_state", table_name="feedbackrequest")
    op.drop_index("ix_request_requester_created", table_name="feedbackrequest")
    op.drop_index("ix_rating_feedback_kpi_score", table_name="rating")
    op.drop_index("ix_feedback_subject_released", table_name="feedback")
