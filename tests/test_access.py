"""The access matrix: each role against each kind of record, through the one function."""

from __future__ import annotations

import pytest

from bot.people.access import (
    Access,
    DraftFacts,
    FeedbackFacts,
    PersonFacts,
    RequestFacts,
    Viewer,
    authorize,
)

GIVER, SUBJECT, MANAGER, ADMIN, OTHER, REQUESTER = 1, 2, 3, 4, 5, 6
ROLES = {
    "giver": Viewer(person_id=GIVER),
    "subject": Viewer(person_id=SUBJECT),
    "manager": Viewer(person_id=MANAGER, report_ids=frozenset({SUBJECT})),
    "admin": Viewer(person_id=ADMIN, is_admin=True),
    "admin who manages the subject": Viewer(person_id=ADMIN, is_admin=True, report_ids=frozenset({SUBJECT})),
    "manager of someone else": Viewer(person_id=MANAGER, report_ids=frozenset({OTHER})),
    "colleague": Viewer(person_id=OTHER),
}
NAMED = FeedbackFacts(giver_id=GIVER, subject_id=SUBJECT, anonymous=False)
# Anonymous feedback waits for a batch with three givers or more (bot.feedback.anonymity).
ANON_HELD = FeedbackFacts(giver_id=GIVER, subject_id=SUBJECT, anonymous=True, released=False)
ANON_RELEASED = FeedbackFacts(giver_id=GIVER, subject_id=SUBJECT, anonymous=True, released=True)
REQUEST = RequestFacts(requester_id=REQUESTER, giver_id=GIVER, subject_id=SUBJECT)
SNAPSHOT = PersonFacts(person_id=SUBJECT)

FULL = Access(read=True, giver_visible=True, text_visible=True)
NONE = Access(read=False)
NO_NAME = Access(read=True, giver_visible=False, text_visible=True)

# role -> (named feedback, anonymous held for its batch, anonymous released, snapshot)
MATRIX = {
    "giver": (FULL, FULL, FULL, NONE),
    "subject": (FULL, NONE, NO_NAME, FULL),
    "manager": (FULL, NONE, NO_NAME, FULL),
    "admin": (NONE, NONE, NONE, NONE),
    "admin who manages the subject": (FULL, NONE, NO_NAME, FULL),
    "manager of someone else": (NONE, NONE, NONE, NONE),
    "colleague": (NONE, NONE, NONE, NONE),
}


@pytest.mark.parametrize("role", MATRIX)
def test_feedback_and_snapshot_matrix(role: str) -> None:
    viewer = ROLES[role]
    named, held, released, snapshot = MATRIX[role]
    assert authorize(viewer, NAMED) == named
    assert authorize(viewer, ANON_HELD) == held
    assert authorize(viewer, ANON_RELEASED) == released
    assert authorize(viewer, SNAPSHOT) == snapshot


def test_an_anonymous_giver_is_visible_to_nobody_but_themself() -> None:
    for role, viewer in ROLES.items():
        for record in (ANON_HELD, ANON_RELEASED):
            assert authorize(viewer, record).giver_visible is (role == "giver")


@pytest.mark.parametrize(
    ("viewer", "allowed"),
    [
        (Viewer(person_id=REQUESTER), True),
        (Viewer(person_id=GIVER), True),
        (Viewer(person_id=SUBJECT), False),
        (Viewer(person_id=MANAGER, report_ids=frozenset({SUBJECT, REQUESTER})), False),
        (Viewer(person_id=ADMIN, is_admin=True), False),
        (Viewer(person_id=OTHER), False),
    ],
)
def test_requests_are_seen_by_the_two_people_in_them(viewer: Viewer, allowed: bool) -> None:
    assert authorize(viewer, REQUEST).read is allowed


def test_an_unknown_kind_of_record_is_refused_loudly() -> None:
    with pytest.raises(TypeError):
        authorize(Viewer(person_id=1), object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("viewer", "shared", "allowed"),
    [
        (Viewer(person_id=1), False, True),  # the manager it was drafted for
        (Viewer(person_id=1), True, True),
        (Viewer(person_id=2), False, False),  # the report, before it is shared
        (Viewer(person_id=2), True, True),  # the report, once shared with them
        (Viewer(person_id=3, report_ids=frozenset({2})), True, False),  # their next manager
        (Viewer(person_id=4, is_admin=True), True, False),  # an admin
    ],
)
def test_a_coaching_draft_is_the_managers_until_shared(viewer: Viewer, shared: bool, allowed: bool) -> None:
    facts = DraftFacts(requested_by_id=1, subject_id=2, shared=shared)
    assert authorize(viewer, facts).read is allowed
