"""the database counts the changes to the feedback about each person (``feedbackmark``, kept by
triggers on ``feedback`` and ``rating``), so whether a remembered App Home snapshot or growth
reading is still current is one row read, not a scan of the person's feedback

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 05:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A change counts once per row changed that readers could see (released feedback, before or
# after the change): of the feedback about the person, or of its ratings (a rating's subject is
# its feedback's; a rating deleted after its feedback counts nothing more). A held anonymous
# answer moves nothing until its batch is released: no reader's read may change because of it.
_BUMP = "ON CONFLICT (subject_id) DO UPDATE SET changes = feedbackmark.changes + 1"
_INTO = "INSERT INTO feedbackmark (subject_id, changes)"
_SQLITE = [
    f"""CREATE TRIGGER feedbackmark_feedback_insert AFTER INSERT ON feedback BEGIN
        {_INTO} SELECT NEW.subject_id, 1 WHERE NEW.released_at IS NOT NULL {_BUMP}; END""",
    f"""CREATE TRIGGER feedbackmark_feedback_update AFTER UPDATE ON feedback BEGIN
        {_INTO} SELECT NEW.subject_id, 1 WHERE NEW.released_at IS NOT NULL
            OR (OLD.released_at IS NOT NULL AND OLD.subject_id = NEW.subject_id) {_BUMP};
        {_INTO} SELECT OLD.subject_id, 1
            WHERE OLD.released_at IS NOT NULL AND OLD.subject_id <> NEW.subject_id {_BUMP}; END""",
    f"""CREATE TRIGGER feedbackmark_feedback_delete AFTER DELETE ON feedback BEGIN
        {_INTO} SELECT OLD.subject_id, 1 WHERE OLD.released_at IS NOT NULL {_BUMP}; END""",
    *(
        f"""CREATE TRIGGER feedbackmark_rating_{event.lower()} AFTER {event} ON rating BEGIN
        {_INTO} SELECT subject_id, 1 FROM feedback
            WHERE feedback.id = {row}.feedback_id AND feedback.released_at IS NOT NULL {_BUMP}; END"""
        for event, row in (("INSERT", "NEW"), ("DELETE", "OLD"))
    ),
    f"""CREATE TRIGGER feedbackmark_rating_update AFTER UPDATE ON rating BEGIN
        {_INTO} SELECT subject_id, 1 FROM feedback
            WHERE feedback.id = NEW.feedback_id AND feedback.released_at IS NOT NULL {_BUMP};
        {_INTO} SELECT subject_id, 1 FROM feedback
            WHERE feedback.id = OLD.feedback_id AND OLD.feedback_id <> NEW.feedback_id
            AND feedback.released_at IS NOT NULL {_BUMP}; END""",
]
# The feedback row a rating belongs to is read FOR SHARE, by its id alone: a release of it still
# being committed is waited for and then seen (READ COMMITTED would otherwise read it as still
# held, and count nothing for a change readers will see; with "released" in the WHERE clause the
# row would not even be locked, so not waited for).
_POSTGRESQL = [
    f"""CREATE FUNCTION feedbackmark_bump(subject integer) RETURNS void AS $$
    BEGIN
        IF subject IS NOT NULL THEN
            {_INTO} VALUES (subject, 1) {_BUMP};
        END IF;
    END $$ LANGUAGE plpgsql""",
    """CREATE FUNCTION feedbackmark_feedback() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.released_at IS NOT NULL THEN
                PERFORM feedbackmark_bump(NEW.subject_id);
            END IF;
        ELSIF TG_OP = 'DELETE' THEN
            IF OLD.released_at IS NOT NULL THEN
                PERFORM feedbackmark_bump(OLD.subject_id);
            END IF;
        ELSE
            IF NEW.released_at IS NOT NULL
                OR (OLD.released_at IS NOT NULL AND OLD.subject_id = NEW.subject_id) THEN
                PERFORM feedbackmark_bump(NEW.subject_id);
            END IF;
            IF OLD.released_at IS NOT NULL AND OLD.subject_id <> NEW.subject_id THEN
                PERFORM feedbackmark_bump(OLD.subject_id);
            END IF;
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE FUNCTION feedbackmark_rating_of(item integer) RETURNS void AS $$
    DECLARE
        subject integer;
        released timestamptz;
    BEGIN
        SELECT subject_id, released_at INTO subject, released FROM feedback WHERE id = item FOR SHARE;
        IF released IS NOT NULL THEN
            PERFORM feedbackmark_bump(subject);
        END IF;
    END $$ LANGUAGE plpgsql""",
    """CREATE FUNCTION feedbackmark_rating() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            PERFORM feedbackmark_rating_of(OLD.feedback_id);
        ELSE
            PERFORM feedbackmark_rating_of(NEW.feedback_id);
            IF TG_OP = 'UPDATE' THEN
                IF OLD.feedback_id <> NEW.feedback_id THEN
                    PERFORM feedbackmark_rating_of(OLD.feedback_id);
                END IF;
            END IF;
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER feedbackmark_feedback AFTER INSERT OR UPDATE OR DELETE ON feedback
        FOR EACH ROW EXECUTE FUNCTION feedbackmark_feedback()""",
    """CREATE TRIGGER feedbackmark_rating AFTER INSERT OR UPDATE OR DELETE ON rating
        FOR EACH ROW EXECUTE FUNCTION feedbackmark_rating()""",
]


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "feedbackmark",
        sa.Column("subject_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject_id"),
    )
    op.execute(
        "INSERT INTO feedbackmark (subject_id, changes)"
        " SELECT subject_id, count(*) FROM feedback WHERE released_at IS NOT NULL GROUP BY subject_id"
    )
    for statement in _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER feedbackmark_rating ON rating")
        op.execute("DROP TRIGGER feedbackmark_feedback ON feedback")
        op.execute(
            "DROP FUNCTION feedbackmark_rating(), feedbackmark_rating_of(integer), feedbackmark_feedback(),"
            " feedbackmark_bump(integer)"
        )
    else:
        for name in (
            "feedback_insert",
            "feedback_update",
            "feedback_delete",
            "rating_insert",
            "rating_update",
            "rating_delete",
        ):
            op.execute(f"DROP TRIGGER feedbackmark_{name}")
    op.drop_table("feedbackmark")
