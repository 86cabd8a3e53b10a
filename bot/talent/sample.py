"""A synthetic company (``bot.analytics.synthetic.talent_company``) written into the database as
Brickwork stores real feedback: people with confirmed managers, projects with members, feedback
with its ratings and notes (anonymous feedback already released). For the demo's map, the
tests' planted truths and ``bench/``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from bot.analytics.calibration import RaterKind
from bot.analytics.synthetic import DELIVERY, TalentCompany
from storage.db import Database
from storage.models import (
    Feedback,
    FeedbackSource,
    Person,
    Project,
    ProjectMember,
    ProjectState,
    Rating,
    Relation,
    id_of,
)

FIRST_NAMES = (
    "Amara", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kofi",
    "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sami", "Tomasz", "Uma", "Viktor",
    "Wen", "Ximena", "Yusuf", "Zofia",
)  # fmt: skip
RELATIONS = {
    RaterKind.MANAGER: Relation.MANAGER,
    RaterKind.REPORT: Relation.REPORT,
    RaterKind.PEER: Relation.PEER,
}


def display_name(code: str, index: int) -> str:
    return f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {code}"


def slack_id(code: str) -> str:
    return f"US{code}"


def write_talent_company(
    db: Database, company: TalentCompany, *, existing: Mapping[str, int] | None = None
) -> dict[str, int]:
    """The company's rows, in one transaction; its people's ids by code. ``existing``: codes that
    are people already stored (their id), such as the demo's manager, who then manages that team."""
    existing = existing or {}
    with db.transaction() as session:
        people = {
            code: Person(
                slack_user_id=slack_id(code), name=display_name(code, i), tz="UTC", refreshed_at=company.now
            )
            for i, code in enumerate(company.people)
            if code not in existing
        }
        session.add_all(people.values())
        for code, person_id in existing.items():
            stored = session.get(Person, person_id)
            if stored is None:
                raise ValueError(f"no person {person_id} to stand for {code}")
            people[code] = stored
        session.flush()
        for code, manager in company.manager_of.items():
            if manager is not None:
                people[code].manager_id = id_of(people[manager])
        projects: dict[str, Project] = {}
        for n, (name, members) in enumerate(sorted(company.projects.items())):
            ended = company.now - timedelta(days=10 + 9 * n)
            projects[name] = Project(
                name=name,
                lead_id=id_of(people[members[0]]),
                created_by_id=id_of(people[members[0]]),
                end_date=date(ended.year, ended.month, ended.day),
                state=ProjectState.CLOSED,
                debrief_due_at=ended,
                reminder_due_at=ended,
                window_closes_at=ended + timedelta(days=14),
                source_view_id=f"sample-{name}",
            )
        session.add_all(projects.values())
        session.flush()
        session.add_all(
            ProjectMember(project_id=id_of(projects[name]), person_id=id_of(people[code]))
            for name, members in company.projects.items()
            for code in members
        )
        feedback = []
        for g in company.given:
            item = Feedback(
                giver_id=id_of(people[g.rater]),
                subject_id=id_of(people[g.subject]),
                project_id=id_of(projects[g.project]) if g.project else None,
                source=FeedbackSource.DEBRIEF if g.project else FeedbackSource.GIVEN,
                relation=RELATIONS[g.relation],
                anonymous=g.anonymous,
                released_at=g.released or g.at,
                framework_version="1",
                growth_note=g.note,
                created_at=g.at,
                updated_at=g.at,
            )
            feedback.append((item, g))
        session.add_all(item for item, _ in feedback)
        session.flush()
        session.add_all(
            Rating(
                feedback_id=id_of(item),
                dimension="delivery" if kpi in DELIVERY else "leadership",
                kpi=kpi,
                score=score,
            )
            for item, g in feedback
            for kpi, score in g.scores.items()
        )
        return {code: id_of(p) for code, p in people.items()}
