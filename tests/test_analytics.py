"""Growth analytics: calibration recovers a known truth better than raw averages and finds the
raters planted as lenient or severe; readings name growth areas, strengths and blind spots only
where the evidence and the stated rule say so."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from statistics import fmean

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.analytics.calibration import MIN_SUBJECTS, Calibration, RaterKind, Rating, RatingSums
from bot.analytics.readings import (
    AS_EXPECTED,
    KINDS,
    MIN_RATERS,
    RELATIVE_MARGIN,
    Direction,
    WeekSums,
    Why,
    read_people,
    read_person,
)
from bot.analytics.synthetic import KPIS, company, spearman

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SEEDS = range(8)


def cell_means(ratings: list[Rating], value: object) -> dict[tuple[object, str], float]:
    scores: dict[tuple[object, str], list[float]] = defaultdict(list)
    for r in ratings:
        scores[(r.subject, r.kpi)].append(value(r))  # type: ignore[operator]
    return {cell: fmean(s) for cell, s in scores.items()}


@pytest.mark.parametrize("seed", SEEDS)
def test_calibrated_levels_recover_the_true_order_better_than_raw_averages(seed: int) -> None:
    c = company(seed=seed)
    calibration = Calibration(c.ratings)
    ratings = list(c.ratings)
    raw = cell_means(ratings, lambda r: r.score)
    calibrated = cell_means(ratings, calibration.adjusted)
    cells = sorted(raw, key=str)
    truth = [c.true_levels[cell] for cell in cells]  # type: ignore[index]
    raw_rho = spearman(truth, [raw[cell] for cell in cells])
    calibrated_rho = spearman(truth, [calibrated[cell] for cell in cells])
    assert calibrated_rho > raw_rho, (raw_rho, calibrated_rho)
    # Per person (the mean over KPIs), where rater habits weigh most: a clear gain.
    people = list(c.people)
    true_people = [fmean(c.true_levels[(p, k)] for k in c.kpis) for p in people]
    raw_people = [fmean(raw[(p, k)] for k in c.kpis) for p in people]
    calibrated_people = [fmean(calibrated[(p, k)] for k in c.kpis) for p in people]
    assert spearman(true_people, calibrated_people) > spearman(true_people, raw_people)


def test_over_many_companies_calibration_gains_on_average() -> None:
    gains = []
    for seed in range(100, 120):
        c = company(seed=seed, people=30)
        calibration = Calibration(c.ratings)
        raw = cell_means(list(c.ratings), lambda r: r.score)
        calibrated = cell_means(list(c.ratings), calibration.adjusted)
        cells = sorted(raw, key=str)
        truth = [c.true_levels[cell] for cell in cells]  # type: ignore[index]
        calibrated_rho = spearman(truth, [calibrated[x] for x in cells])
        gains.append(calibrated_rho - spearman(truth, [raw[x] for x in cells]))
    assert min(gains) > 0 and fmean(gains) > 0.015, gains


@pytest.mark.parametrize("seed", SEEDS)
def test_the_planted_lenient_and_severe_raters_lead_the_leniency_ranking(seed: int) -> None:
    c = company(seed=seed)
    calibration = Calibration(c.ratings)
    measured = {r: calibration.leniency(r) for r in calibration.raters()}
    seen = {r: m for r, m in measured.items() if m is not None and m.subjects >= MIN_SUBJECTS}
    planted = c.lenient | c.severe
    plain = [m.value for r, m in seen.items() if r not in planted]
    for rater in c.lenient & seen.keys():
        assert seen[rater].value > max(plain) and seen[rater].value > 0.3 and seen[rater].sure
    for rater in c.severe & seen.keys():
        assert seen[rater].value < min(plain) and seen[rater].value < -0.3 and seen[rater].sure
    assert all(abs(v) < 0.35 for v in plain), sorted(plain)
    # A rater seen on fewer than three people keeps no leniency at all.
    assert all(m.value == 0 for m in measured.values() if m is not None and m.subjects < MIN_SUBJECTS)


def test_a_rater_seen_twice_moves_nothing() -> None:
    ratings = []
    for person in ("a", "b"):
        for rater, habit in (("x", 0), ("y", 0), ("z", 2)):  # z rates two points high, twice
            ratings.append(Rating(rater, person, "quality", 3.0 + habit, NOW))
    calibration = Calibration(ratings)
    assert calibration.leniency_of("z") == 0
    assert calibration.adjusted(ratings[2]) == 5.0


def test_the_same_people_rated_higher_by_one_rater_is_their_leniency() -> None:
    """Bob rates everyone one point above Ann on the same six people: half a point each side."""
    ratings = [
        Rating(rater, person, "quality", 3.0 + (1 if rater == "bob" else 0) + (i % 2), NOW)
        for i, person in enumerate("abcdef")
        for rater in ("ann", "bob")
    ]
    calibration = Calibration(ratings)
    bob, ann = calibration.leniency("bob"), calibration.leniency("ann")
    assert bob is not None and ann is not None
    assert bob.measured == pytest.approx(0.5, abs=1e-3) and ann.measured == pytest.approx(-0.5, abs=1e-3)
    assert bob.value == pytest.approx(0.5 * 6 / 8, abs=1e-3)  # shrunk: seen on 6 people keeps 6/8
    assert bob.subjects == 6 and bob.ratings == 6


def test_self_ratings_take_no_part_in_calibration() -> None:
    c = company(seed=3)
    base = Calibration(c.ratings)
    person = c.people[0]
    selves = [Rating(person, person, k, 5.0, NOW, RaterKind.SELF) for k in KPIS]
    with_self = Calibration([*c.ratings, *selves])
    assert np.allclose(base.fit.leniency, with_self.fit.leniency)
    assert with_self.level(person, "quality") == base.level(person, "quality")


ratings_strategy = st.lists(
    st.tuples(
        st.sampled_from(["r1", "r2", "r3", "r4", "r5"]),
        st.sampled_from(["p1", "p2", "p3", "p4"]),
        st.sampled_from(["quality", "timeliness"]),
        st.integers(min_value=1, max_value=5),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ratings_strategy, st.randoms(use_true_random=False))
def test_any_ratings_fit_to_finite_levels_on_the_scale_whatever_their_order(
    rows: list[tuple[str, str, str, int]], shuffle: random.Random
) -> None:
    ratings = [Rating(r, p, k, float(s), NOW) for r, p, k, s in rows]
    calibration = Calibration(ratings)
    fit = calibration.fit
    assert np.all(np.isfinite(fit.levels)) and np.all(np.isfinite(fit.leniency))
    assert np.all(fit.levels >= 1 - 2.5) and np.all(fit.levels <= 5 + 2.5)
    # Centred: leniencies of the raters that have one average zero over their ratings.
    weights = fit.rater_ratings * (fit.rater_subjects >= MIN_SUBJECTS)
    if weights.sum():
        assert abs(float((fit.leniency * weights).sum() / weights.sum())) < 1e-6
    assert all(
        calibration.leniency_of(r) == 0
        for r in calibration.raters()
        if (calibration.leniency(r) or 0) and calibration.leniency(r).subjects < MIN_SUBJECTS
    )  # type: ignore[union-attr]
    shuffled = list(ratings)
    shuffle.shuffle(shuffled)
    again = Calibration(shuffled)
    for r, p, k, _ in rows:
        assert again.level(p, k) == pytest.approx(calibration.level(p, k), abs=1e-4)
        assert again.leniency_of(r) == pytest.approx(calibration.leniency_of(r), abs=1e-4)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=5), min_size=4, max_size=4))
def test_raters_who_agree_have_no_leniency_and_levels_are_the_scores(levels: list[int]) -> None:
    ratings = [
        Rating(rater, person, "quality", float(level), NOW)
        for person, level in zip("abcd", levels, strict=True)
        for rater in ("x", "y", "z")
    ]
    calibration = Calibration(ratings)
    for person, level in zip("abcd", levels, strict=True):
        assert calibration.level(person, "quality") == pytest.approx(level, abs=1e-6)
    assert all(calibration.leniency_of(r) == pytest.approx(0, abs=1e-9) for r in "xyz")


# -- readings ------------------------------------------------------------------------------


def rate(
    subject: str,
    scores: dict[str, float],
    raters: tuple[str, ...],
    *,
    at: datetime = NOW,
    kind: RaterKind = RaterKind.PEER,
) -> list[Rating]:
    return [Rating(r, subject, k, s, at, kind) for r in raters for k, s in scores.items()]


def reading_of(ratings: list[Rating], subject: str = "alice", kpis: tuple[str, ...] = KPIS):
    return read_person(kpis, [r for r in ratings if r.subject == subject], Calibration(ratings), NOW)


def test_rated_high_on_everything_has_no_growth_area_and_strengths() -> None:
    scores = {k: 5.0 for k in KPIS} | {"decides": 4.0, "delegates": 4.0}
    reading = reading_of(rate("alice", scores, ("bob", "carol")))
    assert reading.enough and reading.growth_areas == ()
    assert [k.kpi for k in reading.strengths][:1] == ["collaborates"]  # 5.0, by key
    assert {k.kpi for k in reading.strengths} == set(KPIS)


def test_a_kpi_clearly_below_the_rest_is_a_growth_area_though_it_is_not_low() -> None:
    scores = {k: 4.6 for k in KPIS} | {"timeliness": 3.4}
    reading = reading_of(rate("alice", scores, ("bob", "carol")))
    [area] = reading.growth_areas
    assert area.kpi == "timeliness" and area.why == (Why.LOWER,)
    assert area.others is not None and area.others - 3.4 >= RELATIVE_MARGIN


def test_low_in_absolute_terms_and_falling_are_growth_areas() -> None:
    early = rate("alice", {"quality": 4.0, "timeliness": 2.0}, ("bob", "carol"), at=NOW - timedelta(weeks=12))
    late = rate("alice", {"quality": 3.0, "timeliness": 2.0}, ("bob", "carol"), at=NOW - timedelta(weeks=2))
    reading = reading_of(early + late, kpis=("quality", "timeliness"))
    by_kpi = {a.kpi: a for a in reading.growth_areas}
    assert by_kpi["quality"].why == (Why.FALLING,)  # 3.5 on average: not low, but falling
    timeliness = by_kpi["timeliness"]
    assert Why.LOW in timeliness.why and (timeliness.reading.calibrated or 5) < AS_EXPECTED
    assert [a.kpi for a in reading.growth_areas] == ["quality", "timeliness"]  # falling first
    quality = reading.kpi("quality")
    assert quality is not None and quality.trend.direction is Direction.DOWN
    assert quality.trend.direction.arrow == "↓" and quality.trend.weekly[-3] == 3.0


def test_one_rater_is_not_enough_feedback() -> None:
    twice = rate("alice", {"quality": 1.0}, ("bob",)) * 2
    reading = reading_of(twice)
    assert not reading.enough and reading.growth_areas == () and reading.strengths == ()
    quality = reading.kpi("quality")
    assert quality is not None and quality.calibrated is None and quality.evidence.raters == 1 < MIN_RATERS


def test_blind_spots_and_hidden_strengths_compare_the_self_rating_with_calibrated_others() -> None:
    others = rate("alice", {"quality": 2.0, "timeliness": 4.0, "delegates": 3.0}, ("bob", "carol"))
    mine = rate(
        "alice", {"quality": 4.0, "timeliness": 2.5, "delegates": 3.5}, ("alice",), kind=RaterKind.SELF
    )
    reading = reading_of(others + mine, kpis=("quality", "timeliness", "delegates"))
    assert [(g.kpi, g.size) for g in reading.blind_spots] == [("quality", 2.0)]
    assert [(g.kpi, g.size) for g in reading.hidden_strengths] == [("timeliness", -1.5)]
    quality = reading.kpi("quality")
    assert quality is not None and quality.evidence.raters == 2 and quality.self_score == 4.0


def test_a_self_rating_without_two_others_is_no_blind_spot() -> None:
    others = rate("alice", {"quality": 2.0}, ("bob",))
    mine = rate("alice", {"quality": 5.0}, ("alice",), kind=RaterKind.SELF)
    reading = reading_of(others + mine, kpis=("quality",))
    assert reading.blind_spots == () and not reading.enough


def test_a_lenient_raters_inflation_is_taken_out_of_the_reading() -> None:
    """Zed rates everyone 2 points above what others give the same people; Alice is rated by
    Zed and one other. (Were everyone rated by the same raters, there would be nothing to
    correct: calibration matters where people are rated by different raters.)"""
    ratings = []
    for i, person in enumerate(["p1", "p2", "p3", "p4", "p5"]):
        base = 2.0 + (i % 2) * 0.5
        ratings += rate(person, {"quality": base}, ("ann", "ben", "cat"))
        if i < 3:
            ratings += rate(person, {"quality": base + 2}, ("zed",))
    ratings += rate("alice", {"quality": 2.0}, ("ann",)) + rate("alice", {"quality": 4.0}, ("zed",))
    reading = reading_of(ratings, kpis=("quality",))
    quality = reading.kpi("quality")
    assert quality is not None and quality.raw is not None and quality.calibrated is not None
    assert quality.raw == pytest.approx(3.0)
    assert quality.calibrated < quality.raw - 0.3  # the leniency is shrunk, not all of it removed
    assert reading.growth_areas and reading.growth_areas[0].why == (Why.LOW,)
    interval = quality.interval()
    assert interval is not None and interval[0] < quality.calibrated < interval[1]


def test_a_high_kpi_below_higher_ones_is_no_growth_area() -> None:
    """4 ("above expectations") beside 5s is not a growth area, and it is a strength."""
    reading = reading_of(
        rate("alice", {"quality": 4.0, "timeliness": 5.0, "target": 5.0}, ("bob", "carol")),
        kpis=("quality", "timeliness", "target"),
    )
    assert reading.growth_areas == ()
    assert {k.kpi for k in reading.strengths} == {"quality", "timeliness", "target"}


def test_raters_are_counted_by_what_they_count_as_and_calibrated_by_who_they_are() -> None:
    """Bob's named rating and his anonymous one (counted once per release batch) are two in the
    evidence, never one person of a stated kind with an extra anonymous one beside it."""
    named = Rating("bob", "alice", "quality", 2.0, NOW, RaterKind.MANAGER)
    anonymous = Rating(
        "bob", "alice", "quality", 2.0, NOW, RaterKind.ANONYMOUS, counted_as=("anon", NOW, "bob")
    )
    reading = reading_of([named, anonymous], kpis=("quality",))
    quality = reading.kpi("quality")
    assert quality is not None and quality.evidence.raters == 2
    assert dict(quality.evidence.kinds) == {RaterKind.MANAGER: 1, RaterKind.ANONYMOUS: 1}
    assert Calibration([named, anonymous]).raters() == ["bob"]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), people=st.integers(3, 30))
def test_fitting_sums_the_database_makes_gives_exactly_the_fit_of_the_ratings(seed: int, people: int) -> None:
    """Digests fit calibration from ratings summed by rater, person and KPI (``GROUP BY``): the
    same answer as from the ratings one by one, including repeated (rater, person, KPI) triples."""
    c = company(people=people, seed=seed, lenient=1, severe=1)
    rng = random.Random(seed)
    ratings = [*c.ratings, *rng.sample(c.ratings, len(c.ratings) // 3)]  # some triples twice
    sums: dict[tuple[object, object, str], list[float]] = defaultdict(list)
    for r in ratings:
        sums[(r.rater, r.subject, r.kpi)].append(r.score)
    triples = list(sums)
    kpi_names = tuple(sorted({k for _, _, k in triples}))
    one_by_one = Calibration(ratings)
    summed = Calibration.from_sums(
        RatingSums(
            raters=[r for r, _, _ in triples],
            subjects=[s for _, s, _ in triples],
            kpis=np.asarray([kpi_names.index(k) for _, _, k in triples], dtype=np.int64),
            kpi_names=kpi_names,
            counts=np.asarray([len(sums[t]) for t in triples], dtype=np.int64),
            sums=np.asarray([sum(sums[t]) for t in triples]),
            squares=np.asarray([sum(v * v for v in sums[t]) for t in triples]),
        )
    )
    assert summed.sigma == pytest.approx(one_by_one.sigma, abs=1e-9)
    for rater in one_by_one.raters():
        assert summed.leniency_of(rater) == pytest.approx(one_by_one.leniency_of(rater), abs=1e-9)
    for subject, kpi in {(r.subject, r.kpi) for r in ratings}:
        assert summed.level(subject, kpi) == pytest.approx(one_by_one.level(subject, kpi), abs=1e-9)
    assert summed.level("nobody", kpi_names[0]) is None


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_ratings_summed_by_rater_kpi_and_week_read_exactly_as_the_ratings_one_by_one(seed: int) -> None:
    """/growth and the digests read ratings the database summed per rater, KPI and week (each a
    mean with a weight): the reading is that of the ratings one by one, dated in their weeks."""
    c = company(people=12, seed=seed, lenient=1, severe=1)
    rng = random.Random(seed)
    subject = c.people[0]
    about = [r for r in c.ratings if r.subject == subject]
    dated = [r._replace(at=NOW - timedelta(weeks=rng.randrange(20), days=rng.randrange(7))) for r in about]
    dated += [r._replace(at=r.at - timedelta(hours=1)) for r in rng.sample(dated, len(dated) // 2)]
    groups: dict[tuple[object, str, int], list[Rating]] = defaultdict(list)
    for r in dated:
        groups[(r.rater, r.kpi, (NOW - r.at) // timedelta(weeks=1))].append(r)
    summed = [
        rs[0]._replace(
            score=fmean(r.score for r in rs),
            at=NOW - timedelta(weeks=week) - timedelta(days=3.5),
            weight=len(rs),
        )
        for (_, _, week), rs in groups.items()
    ]
    calibration = Calibration(c.ratings)
    one_by_one = read_person(KPIS, dated, calibration, NOW)
    by_week = read_person(KPIS, summed, calibration, NOW)
    assert len(summed) < len(dated)
    for a, b in zip(one_by_one.kpis, by_week.kpis, strict=True):
        assert a.evidence == b.evidence
        for x, y in ((a.raw, b.raw), (a.calibrated, b.calibrated), (a.se, b.se)):
            assert (x is None and y is None) or x == pytest.approx(y, abs=1e-9)
        assert a.trend.weekly == pytest.approx(b.trend.weekly, abs=1e-9)
        assert (a.trend.recent, a.trend.earlier) == pytest.approx((b.trend.recent, b.trend.earlier), abs=1e-9)
    assert [g.kpi for g in one_by_one.growth_areas] == [g.kpi for g in by_week.growth_areas]
    assert [s.kpi for s in one_by_one.strengths] == [s.kpi for s in by_week.strengths]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_everyone_read_at_once_as_arrays_reads_as_each_person_one_by_one(seed: int) -> None:
    """The digests and the Home read everyone's sums as arrays (``read_people``): each person's
    reading is the one ``read_person`` makes of their ratings — levels, evidence, trends, growth
    areas, strengths and blind spots — with anonymous raters counted per batch and read as given,
    and self-ratings apart."""
    c = company(people=12, seed=seed, lenient=1, severe=1)
    rng = random.Random(seed)
    calibration = Calibration(c.ratings)
    groups: dict[tuple[object, object, str, int, RaterKind], list[float]] = defaultdict(list)
    for r in c.ratings:
        week = rng.randrange(20)
        if rng.random() < 0.2:  # anonymous, in one of two release batches: read as given
            counter: object = ("anonymous", rng.choice((1, 2)), r.rater)
            groups[(counter, r.subject, r.kpi, week, RaterKind.ANONYMOUS)].append(r.score)
        else:
            groups[(r.rater, r.subject, r.kpi, week, rng.choice((RaterKind.PEER, RaterKind.MANAGER)))].append(
                r.score
            )
    summed = [
        Rating(
            counter,
            subject,
            kpi,
            fmean(scores),
            NOW - timedelta(weeks=week, days=3.5),
            kind,
            weight=len(scores),
        )
        for (counter, subject, kpi, week, kind), scores in groups.items()
    ]
    selves = {p: {k: float(rng.randint(1, 5)) for k in rng.sample(KPIS, 3)} for p in rng.sample(c.people, 6)}
    ids = {p: i + 1 for i, p in enumerate(c.people)}
    codes: dict[object, int] = {}
    sums = WeekSums(
        subjects=np.asarray([ids[r.subject] for r in summed]),
        counters=np.asarray([codes.setdefault(r.rater, len(codes)) for r in summed]),
        kinds=np.asarray([KINDS.index(r.kind) for r in summed]),
        kpis=np.asarray([KPIS.index(r.kpi) for r in summed]),
        weeks=np.asarray([(NOW - r.at) // timedelta(weeks=1) for r in summed]),
        counts=np.asarray([r.weight for r in summed]),
        totals=np.asarray([r.score * r.weight for r in summed]),
        fair=np.asarray([(r.score - calibration.leniency_of(r.rater)) * r.weight for r in summed]),
    )
    first = next(iter(ids.values()))  # asked for twice: read once, the same
    everyone = read_people(
        KPIS, sums, {ids[p]: own for p, own in selves.items()}, [*ids.values(), 999, first], calibration.sigma
    )
    assert not everyone[999].enough  # nobody rated them: "not enough feedback yet"
    for person, person_id in ids.items():
        own = [
            Rating(person, person, kpi, score, NOW - timedelta(days=1), RaterKind.SELF)
            for kpi, score in selves.get(person, {}).items()
        ]
        alone = read_person(KPIS, [r for r in summed if r.subject == person] + own, calibration, NOW)
        together = everyone[person_id]
        for a, b in zip(alone.kpis, together.kpis, strict=True):
            assert (a.kpi, a.evidence, a.self_score) == (b.kpi, b.evidence, b.self_score)
            for x, y in ((a.raw, b.raw), (a.calibrated, b.calibrated), (a.se, b.se)):
                assert (x is None and y is None) or x == pytest.approx(y, abs=1e-9)
            assert a.trend.weekly == pytest.approx(b.trend.weekly, abs=1e-9)
            assert (a.trend.recent, a.trend.earlier) == pytest.approx(
                (b.trend.recent, b.trend.earlier), abs=1e-9
            )
        assert [(g.kpi, g.why) for g in alone.growth_areas] == [(g.kpi, g.why) for g in together.growth_areas]
        assert [k.kpi for k in alone.strengths] == [k.kpi for k in together.strengths]
        assert [g.kpi for g in alone.blind_spots] == [g.kpi for g in together.blind_spots]
        assert [g.kpi for g in alone.hidden_strengths] == [g.kpi for g in together.hidden_strengths]
