"""Who may see what. Every read of feedback, of a request or of a person's snapshot asks
``authorize`` first; nothing else decides.

- A person sees what was said about them and what they gave.
- A manager also sees what was said about their direct reports (confirmed links only).
- Admins (``BRICKWORK_ADMINS``) may act on the programme as a whole (``AdminFacts``): import
  the org chart, take a person who left out of it, see the programme's health in counts, and
  read the audit trail of those actions. They read individual feedback only where they are
  also the person's manager: being an admin grants no reading at all.
- A coaching draft is seen by whoever it was drafted for, and by the person it is about once
  shared with them.
- An anonymous giver is shown to nobody but themself. Anonymous feedback exists for readers
  only once released, in a batch with the anonymous answers of at least two other people
  (``bot.feedback.anonymity``, which states the whole rule); until then it is invisible to all but its
  giver — not listed, counted or averaged. Once released it shows everything but who gave it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    person_id: int
    report_ids: frozenset[int] = frozenset()
    is_admin: bool = False


@dataclass(frozen=True)
class FeedbackFacts:
    giver_id: int
    subject_id: int
    anonymous: bool
    released: bool = True  # readers may see it (anonymous feedback waits for its batch)


@dataclass(frozen=True)
class RequestFacts:
    requester_id: int
    giver_id: int
    subject_id: int


@dataclass(frozen=True)
class PersonFacts:
    """A person's aggregates: their snapshot on the App Home."""

    person_id: int


@dataclass(frozen=True)
class DraftFacts:
    """A coaching draft: written for ``requested_by`` about ``subject``."""

    requested_by_id: int
    subject_id: int
    shared: bool


@dataclass(frozen=True)
class AdminFacts:
    """An action on the programme as a whole (``storage.models.AuditAction``): importing the
    org chart, forgetting a person, the health counts, the audit trail."""

    action: str


@dataclass(frozen=True)
class Access:
    read: bool
    giver_visible: bool = False
    text_visible: bool = False

    @property
    def scores_visible(self) -> bool:
        return self.read


DENIED = Access(read=False)
FULL = Access(read=True, giver_visible=True, text_visible=True)


def authorize(
    viewer: Viewer, record: FeedbackFacts | RequestFacts | PersonFacts | DraftFacts | AdminFacts
) -> Access:
    if isinstance(record, FeedbackFacts):
        return _feedback(viewer, record)
    if isinstance(record, RequestFacts):
        # Only the two people in the conversation; the subject's manager has the answer.
        return FULL if viewer.person_id in (record.requester_id, record.giver_id) else DENIED
    if isinstance(record, PersonFacts):
        return FULL if _is_self_or_manager(viewer, record.person_id) else DENIED
    if isinstance(record, DraftFacts):
        # Whoever it was drafted for; the person it is about once it was shared with them.
        # Not their next manager, not an admin: a draft is a manager's notes until shared.
        mine = viewer.person_id == record.requested_by_id
        return FULL if mine or (record.shared and viewer.person_id == record.subject_id) else DENIED
    if isinstance(record, AdminFacts):
        # Admins only, and only the admin actions: none of them reads a feedback record.
        return FULL if viewer.is_admin else DENIED
    raise TypeError(f"no rule for {type(record).__name__}")  # a new kind of record needs a rule first


def _feedback(viewer: Viewer, record: FeedbackFacts) -> Access:
    if viewer.person_id == record.giver_id:
        return FULL  # your own words, your own name
    if not _is_self_or_manager(viewer, record.subject_id) or not record.released:
        return DENIED
    if not record.anonymous:
        return FULL
    return Access(read=True, giver_visible=False, text_visible=True)


def _is_self_or_manager(viewer: Viewer, person_id: int) -> bool:
    return viewer.person_id == person_id or person_id in viewer.report_ids
