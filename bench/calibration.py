"""Does calibration help? Synthetic companies with known truth, raw averages against calibrated.

    python bench/calibration.py [--seeds 20] [--people 20] [--large 10000]

Prints, per company size: Spearman's rank correlation of the true KPI levels with the raw
averages and with the calibrated levels (per person x KPI, and per person over all KPIs), how
often the planted lenient and severe raters are the most extreme leniencies found, and the
time and peak memory of one fit over all ratings of a company of ``--large`` people.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections import defaultdict
from statistics import fmean

from bot.analytics.calibration import MIN_SUBJECTS, Calibration, Rating
from bot.analytics.synthetic import Company, company, spearman


def correlations(c: Company, calibration: Calibration) -> tuple[float, float, float, float]:
    raw: dict[tuple[str, str], list[float]] = defaultdict(list)
    adjusted: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in c.ratings:
        key = (str(r.subject), r.kpi)
        raw[key].append(r.score)
        adjusted[key].append(calibration.adjusted(r))
    cells = sorted(raw)
    truth = [c.true_levels[k] for k in cells]
    people = [p for p in c.people if all((p, k) in raw for k in c.kpis)]
    true_people = [fmean(c.true_levels[(p, k)] for k in c.kpis) for p in people]
    return (
        spearman(truth, [fmean(raw[k]) for k in cells]),
        spearman(truth, [fmean(adjusted[k]) for k in cells]),
        spearman(true_people, [fmean(fmean(raw[(p, k)]) for k in c.kpis) for p in people]),
        spearman(true_people, [fmean(fmean(adjusted[(p, k)]) for k in c.kpis) for p in people]),
    )


def planted_found(c: Company, calibration: Calibration) -> bool:
    """The planted raters seen on enough people are the most lenient and the most severe."""
    seen = {}
    for rater in calibration.raters():
        leniency = calibration.leniency(rater)
        if leniency is not None and leniency.subjects >= MIN_SUBJECTS:
            seen[rater] = leniency.value
    order = sorted(seen, key=seen.__getitem__)
    lenient, severe = c.lenient & seen.keys(), c.severe & seen.keys()
    return set(order[len(order) - len(lenient) :]) == lenient and set(order[: len(severe)]) == severe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--people", type=int, nargs="*", default=[20, 200])
    parser.add_argument("--large", type=int, default=10_000)
    args = parser.parse_args()

    print(
        f"{'people':>7} {'seeds':>5} | {'cells raw':>9} {'cells cal':>9} | {'people raw':>10} "
        f"{'people cal':>10} | {'calibrated better':>17} | planted raters found"
    )
    for size in args.people:
        rows, found, better = [], 0, 0
        for seed in range(args.seeds):
            c = company(people=size, seed=seed, lenient=max(2, size // 10), severe=max(2, size // 10))
            calibration = Calibration(c.ratings)
            rows.append(correlations(c, calibration))
            found += planted_found(c, calibration)
            better += rows[-1][1] > rows[-1][0]
        means = [fmean(r[i] for r in rows) for i in range(4)]
        print(
            f"{size:>7} {args.seeds:>5} | {means[0]:>9.3f} {means[1]:>9.3f} | {means[2]:>10.3f} "
            f"{means[3]:>10.3f} | {better:>7} of {args.seeds:<7} | {found} of {args.seeds}"
        )

    c = company(people=args.large, seed=1, lenient=args.large // 10, severe=args.large // 10)
    ratings: list[Rating] = list(c.ratings)
    tracemalloc.start()
    started = time.perf_counter()
    calibration = Calibration(ratings)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"one fit over {len(ratings):,} ratings of {args.large:,} people: {seconds:.2f} s, "
        f"{calibration.fit.iterations} iterations, peak {peak / 2**20:.0f} MB allocated by the fit"
    )


if __name__ == "__main__":
    main()
