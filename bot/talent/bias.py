"""Bias made visible, as facts beside the map: rater habits and the share of personality words
in notes per group (rater kinds per team are ``bot.talent.evidence``'s, flags on thin readings
the service's).

Pure functions. Nothing here accuses anyone: a rater who rates high is a fact about the ratings,
with how sure it is; a team whose reports rate their manager above the peers do is a pattern to
look at. Anonymous ratings never name their rater: rater habits are fitted over named ratings
only (an anonymous rating would otherwise show in its giver's counts), and kinds count an
anonymous rater once per release batch, as "anonymous".
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from bot.analytics.calibration import MIN_SUBJECTS, Calibration, Leniency

MIN_GROUP_NOTES = 5  # fewer notes in a group and its share is not worth a percentage


@dataclass(frozen=True)
class RaterHabit:
    rater: Hashable
    leniency: Leniency
    se: float  # of ``leniency.measured``: the noise over the root of the people rated

    @property
    def sure(self) -> bool:
        """Two standard errors from zero. The errors count people, not ratings: one person's
        nine KPIs rated at once are not nine independent looks at the rater's habit."""
        return abs(self.leniency.measured) >= 2 * self.se

    def sentence(self) -> str:
        """ "rates 0.8 above others on the same people (± 0.3; measured on 6 people, 24 ratings;
        sure)"."""
        measured = self.leniency.measured
        way = "above" if measured >= 0 else "below"
        return (
            f"rates {abs(measured):.1f} {way} others on the same people (± {2 * self.se:.1f}; "
            f"measured on {self.leniency.subjects} people, {self.leniency.ratings} ratings; "
            f"{'sure' if self.sure else 'not sure yet'})"
        )


def rater_habits(calibration: Calibration) -> list[RaterHabit]:
    """Every rater measured on enough people, the surest and largest habits first: sure ones
    before the rest, then by how many standard errors from zero."""
    habits = []
    for rater in calibration.raters():
        leniency = calibration.leniency(rater)
        if leniency is not None and leniency.subjects >= MIN_SUBJECTS:
            habits.append(RaterHabit(rater, leniency, calibration.sigma / math.sqrt(leniency.subjects)))
    habits.sort(key=lambda h: (not h.sure, -abs(h.leniency.measured) / h.se, str(h.rater)))
    return habits


@dataclass(frozen=True)
class WordShare:
    group: Hashable
    notes: int
    personal: int  # notes with a personality word or phrase

    @property
    def share(self) -> float | None:
        return self.personal / self.notes if self.notes >= MIN_GROUP_NOTES else None

    @property
    def enough(self) -> bool:
        """Whether the group has notes enough to be counted out loud (fewer: "fewer than 5")."""
        return self.notes >= MIN_GROUP_NOTES


def personality_shares(notes: Iterable[tuple[Hashable, str | None]]) -> list[WordShare]:
    """Per group of the people the notes are about, how many notes use personality words
    (``word`` is what ``note_quality.personality_word`` found in the note, or None), the
    highest share first; groups with too few notes last, their share not computed."""
    counts: dict[Hashable, list[int]] = {}
    for group, word in notes:
        count = counts.setdefault(group, [0, 0])
        count[0] += 1
        count[1] += word is not None
    shares = [WordShare(group, n, personal) for group, (n, personal) in counts.items()]
    shares.sort(key=lambda s: (s.share is None, -(s.share or 0.0), str(s.group)))
    return shares
