"""outbox, modal views, anonymous release

The outbox replaces ``promptmessage``: every DM is one row, claimed alone, sent once. Prompts
already recorded move over (sent ones with their ts; a claim without a ts is marked
uncertain, so it is looked for before it is posted again). Feedback given so far was shown at
once, so it counts as released when it was last saved; jobs claimed by the old ticker go back
to pending (jobs are now claimed and run in one transaction).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 13:14:30.983834

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "modalview",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("view_id", sa.String(length=64), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("callback_id", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("view_id"),
    )
    with op.batch_alter_table("modalview", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_modalview_opened_at"), ["opened_at"], unique=False)

    op.create_table(
        "outboxmessage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("uncertain", sa.Boolean(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=40), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["recipient_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["state", "due_at"], unique=False)
        batch_op.create_index("ix_outbox_ref", ["kind", "ref_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outboxmessage_recipient_id"), ["recipient_id"], unique=False)

    op.execute(
        "INSERT INTO outboxmessage (key, token, kind, recipient_id, ref_id, state, uncertain, due_at, "
        "attempts, channel_id, ts, last_error, created_at, sent_at) "
        "SELECT kind || ':' || project_id || ':' || recipient_id, 'legacy' || id, kind, recipient_id, "
        "project_id, CASE WHEN ts IS NULL THEN 'pending' ELSE 'sent' END, ts IS NULL, created_at, 1, "
        "channel_id, ts, '', created_at, CASE WHEN ts IS NULL THEN NULL ELSE created_at END "
        "FROM promptmessage"
    )
    with op.batch_alter_table("promptmessage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promptmessage_project_id"))
    op.drop_table("promptmessage")

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_feedback_released_at"), ["released_at"], unique=False)
    op.execute("UPDATE feedback SET released_at = updated_at")
    op.execute("UPDATE job SET state = 'pending', claimed_by = NULL WHERE state = 'running'")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_released_at"))
        batch_op.drop_column("released_at")

    op.create_table(
        "promptmessage",
        sa.Column("id", sa.INTEGER(), nullable=False),
        sa.Column("project_id", sa.INTEGER(), nullable=False),
        sa.Column("recipient_id", sa.INTEGER(), nullable=False),
        sa.Column("kind", sa.VARCHAR(length=24), nullable=False),
        sa.Column("channel_id", sa.VARCHAR(length=32), nullable=True),
        sa.Column("ts", sa.VARCHAR(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.ForeignKeyConstraint(["recipient_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "recipient_id", "kind"),
    )
    with op.batch_alter_table("promptmessage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_promptmessage_project_id"), ["project_id"], unique=False)
    op.execute(
        "INSERT INTO promptmessage (project_id, recipient_id, kind, channel_id, ts, created_at) "
        "SELECT ref_id, recipient_id, kind, channel_id, ts, created_at FROM outboxmessage "
        "WHERE kind IN ('debrief_prompt', 'debrief_reminder')"
    )

    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outboxmessage_recipient_id"))
        batch_op.drop_index("ix_outbox_ref")
        batch_op.drop_index("ix_outbox_due")
    op.drop_table("outboxmessage")
    with op.batch_alter_table("modalview", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_modalview_opened_at"))
    op.drop_table("modalview")
