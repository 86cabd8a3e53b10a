"""Each rating read against its rater's habits.

Some people rate everyone a point high, some a point low; in the best-known study of
multi-rater feedback (Scullen, Mount & Goff 2000) such rater effects explained more of the
variance than the ratee's performance. Brickwork models a rating as

    rating = the person's level on the KPI + the rater's leniency + noise

— the additive form of many-facet Rasch measurement (Linacre's FACETS), which exam boards use
to read essays marked by different examiners — and fits both facets jointly over all ratings by
alternating least squares:

1. each person's level on each KPI is the mean of their ratings, each less its rater's leniency;
2. each rater's leniency is the mean of their ratings' differences from those levels (on the
   same people: a rater only ever seen rating one person has nothing to be compared with);
3. repeat until nothing moves.

A leniency measured on few people is mostly noise, so it is **shrunk toward zero** by how
little the rater has been seen: a rater who rated fewer than ``MIN_SUBJECTS`` people keeps no
leniency at all (a rater seen twice moves nothing), and one seen on ``n`` people keeps
``n / (n + PRIOR_SUBJECTS)`` of what was measured. The leniencies are centred on zero (weighted
by ratings), so levels stay on the scale people answered on. Self-ratings never take part: they
are what a person thinks of themself, not what others saw; nor do anonymous ones, which are
read as given: a habit measured on them, or taken out of them, would make a figure depend on
who gave them.

Readable as a sentence: "Bob rates 0.8 above others on the same people, measured on 6 people".
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

MIN_SUBJECTS = 3  # a leniency is measured only on a rater who rated at least this many people
PRIOR_SUBJECTS = 2.0  # shrinkage: seen on n people, a rater keeps n / (n + 2) of what was measured
MAX_ITERATIONS = 200
TOLERANCE = 1e-6  # stop once no leniency moves by more than this
SIGMA_FLOOR = 0.3  # the noise is never taken to be smaller than this (few ratings fit too well)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class RaterKind(enum.StrEnum):
    """Who the rater is to the person rated."""

    MANAGER = "manager"
    PEER = "peer"
    REPORT = "report"
    SELF = "self"
    ANONYMOUS = "anonymous"  # who they are to the person is not said: it could point at them


class Rating(NamedTuple):
    """One rating of one KPI, on the 1-5 scale (a tuple: a run of digests makes millions)."""

    rater: Hashable
    subject: Hashable
    kpi: str
    score: float
    at: datetime
    kind: RaterKind = RaterKind.PEER
    # Who the rating counts as when raters are counted (evidence, "enough"): the rater, unless
    # that could point at them. An anonymous rating counts once per release batch, never merged
    # with the same person's named ratings (``bot.growth``); calibration always uses ``rater``.
    counted_as: Hashable | None = None
    # How many ratings this one stands for: ``score`` is then their mean (ratings the database
    # summed by rater, KPI and week).
    weight: int = 1

    @property
    def counter(self) -> Hashable:
        return self.rater if self.counted_as is None else self.counted_as


@dataclass(frozen=True)
class Leniency:
    """How far a rater's ratings sit above (+) or below (-) others' on the same people."""

    value: float  # what calibration uses: ``measured``, shrunk toward zero
    measured: float  # the mean difference from the fitted levels, before shrinking
    subjects: int  # distinct people rated
    ratings: int
    se: float  # the standard error of ``measured``

    @property
    def sure(self) -> bool:
        """Two standard errors away from zero, and measured on enough people."""
        return self.subjects >= MIN_SUBJECTS and abs(self.measured) >= 2 * self.se


@dataclass(frozen=True)
class Fit:
    """The fitted facets, as arrays indexed like the input (see :func:`fit_arrays`)."""

    levels: FloatArray  # per cell (person x KPI): the calibrated level
    cell_ratings: IntArray  # per cell: how many ratings it rests on
    leniency: FloatArray  # per rater, shrunk
    measured: FloatArray  # per rater, before shrinking
    rater_ratings: IntArray
    rater_subjects: IntArray
    sigma: float  # the residual standard deviation
    iterations: int


def fit_arrays(
    raters: IntArray,
    subjects: IntArray,
    cells: IntArray,
    sums: FloatArray,
    *,
    n_raters: int,
    n_cells: int,
    counts: IntArray | None = None,
    squares: FloatArray | None = None,
) -> Fit:
    """Fit levels and leniencies over ratings given as parallel arrays: ``raters[i]`` rated
    ``subjects[i]`` in cell ``cells[i]`` (one cell per person and KPI) ``counts[i]`` times, with
    scores summing to ``sums[i]`` and their squares to ``squares[i]`` — one row per rating
    (``counts`` None: each row one rating, ``sums`` its score), or ratings already summed by
    rater and cell (the database's ``GROUP BY``), which fits to exactly the same answer: every
    step below needs only those sums. Vectorised: a million rows take about a second."""
    # No copy of what is already the right type, and one scratch array per row reused by every
    # step below (for 10,000 people a row array is about 5 MB; each temporary was another).
    sums = np.asarray(sums, dtype=np.float64)
    n = np.ones(len(sums), dtype=np.int64) if counts is None else np.asarray(counts)
    sq = sums**2 if squares is None else np.asarray(squares, dtype=np.float64)
    cell_n = np.bincount(cells, n, minlength=n_cells).astype(np.int64)
    rater_n = np.bincount(raters, n, minlength=n_raters).astype(np.int64)
    rater_subjects = _distinct_subjects(raters, subjects, n_raters)
    keep = np.where(rater_subjects >= MIN_SUBJECTS, rater_subjects / (rater_subjects + PRIOR_SUBJECTS), 0.0)
    safe_cell_n = np.maximum(cell_n, 1)
    safe_rater_n = np.maximum(rater_n, 1)
    weight = rater_n * (keep > 0)  # the raters who keep a leniency, by how much they rated
    total = max(int(weight.sum()), 1)
    scratch = np.empty(len(sums))

    def less(values: FloatArray, index: IntArray) -> FloatArray:
        """``sums - n * values[index]``, in the scratch array."""
        np.take(values, index, out=scratch)
        np.multiply(scratch, n, out=scratch)
        return np.subtract(sums, scratch, out=scratch)

    leniency = np.zeros(n_raters)
    measured = np.zeros(n_raters)
    iterations = 0
    for iterations in range(1, MAX_ITERATIONS + 1):  # noqa: B007 - reported in the fit
        levels = np.bincount(cells, less(leniency, raters), minlength=n_cells) / safe_cell_n
        residual = less(levels, cells)  # summed over the row's ratings
        measured = np.bincount(raters, residual, minlength=n_raters) / safe_rater_n
        updated = measured * keep
        # Centred over the raters who keep one, so levels stay on the scale people answered on.
        updated -= float((updated * weight).sum()) / total
        updated *= keep > 0  # a rater seen too little stays at zero
        moved = float(np.max(np.abs(updated - leniency))) if n_raters else 0.0
        leniency = updated
        if moved < TOLERANCE:
            break
    levels = np.bincount(cells, less(leniency, raters), minlength=n_cells) / safe_cell_n
    # The sum of (score - expected)^2 over every rating, from the sums: sq - 2 e sums + n e^2.
    expected = np.take(leniency, raters)
    expected += np.take(levels, cells, out=scratch)
    np.multiply(expected, sums, out=scratch)
    squared = float(sq.sum()) - 2 * float(scratch.sum())
    np.multiply(expected, expected, out=scratch)
    scratch *= n
    squared += float(scratch.sum())
    used = int((cell_n > 0).sum()) + int((keep > 0).sum())
    freedom = max(int(n.sum()) - used, 1)
    sigma = max(math.sqrt(max(squared, 0.0) / freedom), SIGMA_FLOOR)
    return Fit(
        levels=levels,
        cell_ratings=cell_n,
        leniency=leniency,
        measured=measured,
        rater_ratings=rater_n,
        rater_subjects=rater_subjects,
        sigma=sigma,
        iterations=iterations,
    )


def _distinct_subjects(raters: IntArray, subjects: IntArray, n_raters: int) -> IntArray:
    if len(raters) == 0:
        return np.zeros(n_raters, dtype=np.int64)
    width = int(subjects.max()) + 1
    pairs = np.unique(raters * width + subjects)  # each (rater, person) once
    return np.bincount(pairs // width, minlength=n_raters)


class Calibration:
    """The fitted model, by the ids the ratings used."""

    def __init__(self, ratings: Iterable[Rating]) -> None:
        others = [r for r in ratings if r.kind not in (RaterKind.SELF, RaterKind.ANONYMOUS)]
        weights = np.asarray([r.weight for r in others], dtype=np.int64)
        scores = np.asarray([r.score for r in others], dtype=np.float64)
        self._setup(
            [r.rater for r in others],
            [r.subject for r in others],
            [r.kpi for r in others],
            scores * weights,
            weights,
            scores * scores * weights,  # a weighted rating's ratings taken as all at its mean
        )

    @classmethod
    def from_sums(cls, cells: RatingSums) -> Calibration:
        """Fitted over ratings summed by rater, person and KPI (no self-ratings among them)."""
        calibration = cls.__new__(cls)
        calibration._setup(cells.raters, cells.subjects, cells.kpis, cells.sums, cells.counts, cells.squares)
        if isinstance(cells.kpis, np.ndarray):  # codes: known by their names from here on
            calibration._kpi_ids = {cells.kpi_names[c]: i for c, i in calibration._kpi_ids.items()}
        return calibration

    def _setup(
        self,
        raters: Sequence[Hashable] | IntArray,
        subjects: Sequence[Hashable] | IntArray,
        kpis: Sequence[str] | IntArray,
        sums: FloatArray,
        counts: IntArray | None,
        squares: FloatArray | None,
    ) -> None:
        rater_index, self._rater_ids = _index(raters)
        subject_index, self._subject_ids = _index(subjects)
        kpi_index, self._kpi_ids = _index(kpis)
        n_kpis = max(len(self._kpi_ids), 1)
        self.fit = fit_arrays(
            rater_index,
            subject_index,
            subject_index * n_kpis + kpi_index,
            sums,
            n_raters=len(self._rater_ids),
            n_cells=len(self._subject_ids) * n_kpis,
            counts=counts,
            squares=squares,
        )

    @property
    def sigma(self) -> float:
        return self.fit.sigma

    def raters(self) -> Sequence[Hashable]:
        return list(self._rater_ids)

    def leniency_of(self, rater: Hashable) -> float:
        index = self._rater_ids.get(rater)
        return float(self.fit.leniency[index]) if index is not None else 0.0

    def leniencies(self, raters: IntArray) -> FloatArray:
        """``leniency_of`` each of many raters known by integer ids (0 for a rater not fitted)."""
        known, index = self._integer_raters
        if len(known) == 0 or len(raters) == 0:
            return np.zeros(len(raters), dtype=np.float64)
        at = np.minimum(np.searchsorted(known, raters), len(known) - 1)
        return np.where(known[at] == raters, self.fit.leniency[index[at]], 0.0)

    @functools.cached_property
    def _integer_raters(self) -> tuple[IntArray, IntArray]:
        """The raters known by integer ids, sorted, and their positions in the fit."""
        pairs = [(r, i) for r, i in self._rater_ids.items() if type(r) is int]
        if not pairs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        known, index = np.asarray(pairs, dtype=np.int64).T
        order = np.argsort(known)
        return known[order], index[order]

    def leniency(self, rater: Hashable) -> Leniency | None:
        index = self._rater_ids.get(rater)
        if index is None:
            return None
        n = int(self.fit.rater_ratings[index])
        return Leniency(
            value=float(self.fit.leniency[index]),
            measured=float(self.fit.measured[index]),
            subjects=int(self.fit.rater_subjects[index]),
            ratings=n,
            se=self.sigma / math.sqrt(max(n, 1)),
        )

    def adjusted(self, rating: Rating) -> float:
        """The rating with its rater's leniency taken out (a self-rating as it was given)."""
        if rating.kind is RaterKind.SELF:
            return rating.score
        return rating.score - self.leniency_of(rating.rater)

    def level(self, subject: Hashable, kpi: str) -> float | None:
        person, k = self._subject_ids.get(subject), self._kpi_ids.get(kpi)
        if person is None or k is None:
            return None
        cell = person * max(len(self._kpi_ids), 1) + k
        return float(self.fit.levels[cell]) if self.fit.cell_ratings[cell] else None


@dataclass(frozen=True)
class RatingSums:
    """Ratings summed by rater, person and KPI: parallel sequences, one entry per triple."""

    raters: Sequence[Hashable] | IntArray
    subjects: Sequence[Hashable] | IntArray
    kpis: Sequence[str] | IntArray  # the names, or codes: positions in ``kpi_names``
    counts: IntArray
    sums: FloatArray
    squares: FloatArray
    kpi_names: tuple[str, ...] = ()


def _index(values: Sequence[Hashable] | IntArray) -> tuple[IntArray, dict[Hashable, int]]:
    """Each value's position among the distinct values, and the positions by value."""
    if isinstance(values, np.ndarray):  # integer ids: vectorised
        distinct, inverse = np.unique(values, return_inverse=True)
        return inverse.astype(np.int64), {v.item(): i for i, v in enumerate(distinct)}
    ids: dict[Hashable, int] = {}
    return np.fromiter((ids.setdefault(v, len(ids)) for v in values), dtype=np.int64, count=len(values)), ids
