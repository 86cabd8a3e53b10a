"""self-assessments (a person's ratings of themself, apart from everyone else's); digest pause;
growth steps (the digest's thing to try, and how it went)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "selfassessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("source_view_id", sa.String(length=64), nullable=True),
        sa.Column("framework_version", sa.String(length=32), nullable=False),
        sa.Column("delivery_note", sa.String(length=3000), nullable=False),
        sa.Column("strengths_note", sa.String(length=3000), nullable=False),
        sa.Column("growth_note", sa.String(length=3000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_view_id"),
    )
    with op.batch_alter_table("selfassessment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_selfassessment_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_selfassessment_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_selfassessment_updated_at"), ["updated_at"], unique=False)
        batch_op.create_index(
            "uq_self_assessment_project",
            ["person_id", "project_id"],
            unique=True,
            sqlite_where=sa.text("project_id IS NOT NULL"),
            postgresql_where=sa.text("project_id IS NOT NULL"),
        )
    op.create_table(
        "selfrating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("kpi", sa.String(length=40), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["assessment_id"], ["selfassessment.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assessment_id", "kpi"),
    )
    with op.batch_alter_table("selfrating", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_selfrating_assessment_id"), ["assessment_id"], unique=False)
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_paused_until", sa.Date(), nullable=True))
    op.create_table(
        "growthstep",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("kpi", sa.String(length=40), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "week"),
    )
    with op.batch_alter_table("growthstep", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_growthstep_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("growthstep", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_growthstep_person_id"))
    op.drop_table("growthstep")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("digest_paused_until")
    with op.batch_alter_table("selfrating", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_selfrating_assessment_id"))
    op.drop_table("selfrating")
    with op.batch_alter_table("selfassessment", schema=None) as batch_op:
        batch_op.drop_index("uq_self_assessment_project")
        batch_op.drop_index(batch_op.f("ix_selfassessment_updated_at"))
        batch_op.drop_index(batch_op.f("ix_selfassessment_project_id"))
        batch_op.drop_index(batch_op.f("ix_selfassessment_person_id"))
    op.drop_table("selfassessment")
