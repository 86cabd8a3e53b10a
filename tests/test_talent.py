"""The talent review's rules, readiness, map, bias report and picture, and the planted truths of
a synthetic company read back through ``brickwork export talent-review`` on a real database."""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.image import imread
from slack_sdk import WebClient
from sqlmodel import Session, select

from bot.analytics.synthetic import talent_company
from bot.app import Brickwork, build_app
from bot.framework import load_framework
from bot.settings import load_settings
from bot.talent.chart import STYLE, MapPoint, render_map
from bot.talent.readiness import Category, DimensionLevel, Sources, band, placement, readiness
from bot.talent.rules import TalentRulesError, load_talent_rules, parse_talent_rules
from bot.talent.sample import slack_id, write_talent_company
from bot.talent.service import TalentReview
from storage.db import Database
from storage.models import (
    AuditAction,
    AuditEntry,
    AuditOutcome,
    Feedback,
    FeedbackSource,
    Person,
    Project,
    Rating,
)
from tests.cli import brickwork

FRAMEWORK = load_framework()
RULES = load_talent_rules(None, FRAMEWORK)
DEFAULT = tomllib.loads((Path(__file__).parents[1] / "bot" / "data" / "talent.toml").read_text())


def level(
    name: str, value: float | None, raters: int, *, se: float = 0.2, read: int = 6, above: int = 6
) -> DimensionLevel:
    return DimensionLevel(name, value, se if value is not None else None, raters, raters * 9, 6, read, above)


# -- the rules file ---------------------------------------------------------------------------------


def test_the_shipped_rules_load_and_say_what_the_issue_asks() -> None:
    assert RULES.min_raters >= 2 and RULES.min_sources == 2
    assert RULES.ready_now.leadership == 3.8 and RULES.cuts == (3.0, 4.0)
    assert round(RULES.z, 2) == 1.96
    assert RULES.role("Engineering   Manager") is not None  # case and spaces do not matter


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("evidence"), "[evidence] is missing"),
        (
            lambda d: d["evidence"].update(min_raters=1),
            "[evidence] min_raters must be a whole number from 2 to 50",
        ),
        (lambda d: d["evidence"].update(min_raters=True), "min_raters must be a whole number"),
        (
            lambda d: d["ready_now"].update(leadership="high"),
            "[ready_now] leadership must be a level from 1 to 5",
        ),
        (
            lambda d: d["ready_now"].update(kpi_share=1.5),
            "[ready_now] kpi_share must be a number from 0.0 to 1.0",
        ),
        (lambda d: d["map"].update(cuts=[4.0, 3.0]), "[map] cuts must be two rising levels"),
        (lambda d: d["ready_with_development"].update(leadership=4.5), "must not ask more than [ready_now]"),
        (lambda d: d["role"][0].update(kpis=["target"]), "'target' is not a leadership KPI"),
        (lambda d: d["role"][1].update(name="Engineering manager"), "another role is already called"),
        (lambda d: d["role"][0].update(name="x\ny"), "'name' must be a line of text"),
        (lambda d: d.update(version=1.5), "'version' must be a short string"),
    ],
)
def test_a_bad_rules_file_is_one_line_naming_the_field(change: object, message: str) -> None:
    data = _copy(DEFAULT)
    change(data)  # type: ignore[operator]
    with pytest.raises(TalentRulesError) as caught:
        parse_talent_rules(data, FRAMEWORK, where="talent.toml")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def _copy(value: object) -> object:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def test_an_operators_rules_file_changes_the_thresholds_and_a_broken_one_stops_the_command(
    tmp_path: Path, database_url: str
) -> None:
    text = (Path(__file__).parents[1] / "bot" / "data" / "talent.toml").read_text()
    mine = tmp_path / "talent.toml"
    mine.write_text(
        text.replace("leadership = 3.8      # the leadership level", "leadership = 4.4      # ours")
    )
    assert load_talent_rules(mine, FRAMEWORK).ready_now.leadership == 4.4
    mine.write_text(text.replace("cuts = [3.0, 4.0]", "cuts = [3.0]"))
    result = brickwork(
        "export",
        "talent-review",
        "--csv",
        str(tmp_path / "out.csv"),
        env={"BRICKWORK_TALENT_FILE": str(mine), "DATABASE_URL": database_url},
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"brickwork: BRICKWORK_TALENT_FILE: {mine}: [map] cuts must be")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# -- readiness and the map --------------------------------------------------------------------------


def test_categories_follow_the_written_rule_and_say_it() -> None:
    strong = readiness(level("delivery", 4.0, 5), level("leadership", 4.1, 7), Sources(4, False), RULES)
    assert strong.category is Category.READY_NOW
    assert strong.reason.startswith(
        "leadership 4.1 ± 0.4 from 7 raters over 4 projects, "
        "at 3.8 or above on 6 of 6 leadership KPIs (6 read)"
    )
    assert "all met" in strong.reason
    narrow = readiness(
        level("delivery", 4.0, 5), level("leadership", 4.1, 7, above=4), Sources(3, True), RULES
    )
    assert narrow.category is Category.READY_WITH_DEVELOPMENT  # 4 of 6 KPIs is under 80 %
    assert "80% of leadership KPIs at 3.8" in narrow.reason
    low = readiness(level("delivery", 2.5, 5), level("leadership", 3.0, 7, above=0), Sources(4, False), RULES)
    assert low.category is Category.DEVELOP_IN_ROLE and "below ready with development" in low.reason


@pytest.mark.parametrize(
    ("delivery", "leadership", "sources", "says"),
    [
        (
            level("delivery", 4.5, 5),
            level("leadership", 4.8, 1),
            Sources(3, False),
            "leadership rests on 1 rater (a category needs 3)",
        ),
        (
            level("delivery", 4.5, 2),
            level("leadership", 4.8, 5),
            Sources(3, False),
            "delivery rests on 2 raters",
        ),
        (level("delivery", 4.5, 5), level("leadership", 4.8, 5), Sources(1, False), "comes from one project"),
        (
            level("delivery", 4.5, 5),
            level("leadership", 4.8, 5),
            Sources(0, True),
            "comes from no project",
        ),
        (
            level("delivery", None, 0),
            level("leadership", 4.8, 5),
            Sources(3, True),
            "delivery rests on 0 raters",
        ),
    ],
)
def test_no_category_on_thin_evidence(
    delivery: DimensionLevel, leadership: DimensionLevel, sources: Sources, says: str
) -> None:
    result = readiness(delivery, leadership, sources, RULES)
    assert result.category is Category.NOT_ENOUGH_EVIDENCE and says in result.reason


ORDER = [Category.DEVELOP_IN_ROLE, Category.READY_WITH_DEVELOPMENT, Category.READY_NOW]


@settings(max_examples=300, deadline=None)
@given(
    d=st.floats(1, 5),
    lead=st.floats(1, 5),
    more=st.floats(0, 2),
    above=st.integers(0, 6),
    raters=st.integers(0, 12),
    sources=st.builds(Sources, st.integers(0, 6), st.booleans()),
)
def test_more_leadership_never_lowers_a_category_and_thin_evidence_never_gets_one(
    d: float, lead: float, more: float, above: int, raters: int, sources: Sources
) -> None:
    before = readiness(
        level("delivery", d, raters), level("leadership", lead, raters, above=above), sources, RULES
    )
    after = readiness(
        level("delivery", d, raters),
        level("leadership", min(5.0, lead + more), raters, above=above),
        sources,
        RULES,
    )
    if raters < RULES.min_raters or sources.count < RULES.min_sources:
        assert before.category is after.category is Category.NOT_ENOUGH_EVIDENCE
    else:
        assert ORDER.index(after.category) >= ORDER.index(before.category)
        assert before.reason.startswith(f"leadership {lead:.1f} ± ")


def test_a_person_whose_interval_crosses_a_cut_is_shown_spanning_both_cells() -> None:
    sure = placement(level("delivery", 3.5, 6, se=0.1), level("leadership", 4.5, 6, se=0.1), RULES)
    assert sure is not None and sure.cell == (1, 2) and not sure.spans
    unsure = placement(level("delivery", 3.5, 6, se=0.1), level("leadership", 4.1, 6, se=0.2), RULES)
    assert unsure is not None and unsure.cell == (1, 2) and unsure.spans
    assert unsure.shown() == "middle delivery, high leadership (its interval spans leadership middle to high)"
    assert placement(level("delivery", None, 1), level("leadership", 4.1, 6), RULES) is None
    assert [band(v, RULES) for v in (1.0, 2.99, 3.0, 3.99, 4.0, 5.0)] == [0, 0, 1, 1, 2, 2]


# -- the picture --------------------------------------------------------------------------------------


def test_the_map_png_decodes_and_puts_each_marker_in_its_cell() -> None:
    points = [
        MapPoint("Ada Lovelace", 4.5, 4.6, (4.2, 4.8), (4.3, 4.9), Category.READY_NOW),
        MapPoint("Grace Hopper", 3.5, 3.4, (3.2, 3.8), (3.1, 3.7), Category.READY_WITH_DEVELOPMENT),
        MapPoint("Alan Turing", 2.0, 2.0, (1.6, 2.4), (1.7, 2.3), Category.DEVELOP_IN_ROLE),
        *[
            MapPoint(f"Neighbour {i}", 3.5 + i * 0.02, 3.45, (3.2, 3.8), (3.1, 3.7), Category.DEVELOP_IN_ROLE)
            for i in range(6)
        ],
    ]
    image = render_map(points, RULES, title="Test map")
    assert image.png.startswith(b"\x89PNG\r\n\x1a\n")
    pixels = imread(io.BytesIO(image.png), format="png")
    assert pixels.shape[:2] == (image.height, image.width) == (800, 1100)
    assert image.labels == len(points) and image.label_overlaps == 0  # names placed apart
    left, top, right, bottom = image.plot_box
    for point, cell in ((points[0], (2, 2)), (points[2], (0, 0))):
        x, y = image.pixel(point.delivery, point.leadership)
        # In the cell's own region of the picture (cuts at 3 and 4 on axes running 1 to 5) ...
        edges = (1.0, 3.0, 4.0, 5.0)
        x0, x1 = (left + (edges[cell[0] + i] - 1) / 4 * (right - left) for i in (0, 1))
        y1, y0 = (bottom - (edges[cell[1] + i] - 1) / 4 * (bottom - top) for i in (0, 1))
        assert x0 < x < x1 and y0 < y < y1
        # ... in the colour of its category.
        colour = STYLE[point.category][0]
        expected = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
        assert np.allclose(pixels[y, x, :3], expected, atol=0.02), (point.name, pixels[y, x, :3], expected)
    # A name is text: mathtext markers in a Slack name draw as they are, and nothing breaks.
    odd = render_map([replace(points[0], name="$\\foo$ $x^2")], RULES, title="$\\alpha$ 100%")
    assert odd.labels == 1 and odd.png.startswith(b"\x89PNG")
    blank = render_map([], RULES, title="Nobody yet")
    assert imread(io.BytesIO(blank.png), format="png").shape[:2] == (800, 1100) and blank.labels == 0


# -- planted truths, end to end through the export --------------------------------------------------


@pytest.fixture
def company_db(database_url: str) -> Iterator[tuple[str, Database]]:
    db = Database(database_url)
    yield database_url, db
    db.dispose()


def export(database_url: str, tmp_path: Path, *extra: str) -> tuple[list[dict[str, str]], str]:
    out = tmp_path / "review.csv"
    result = brickwork(
        "export", "talent-review", "--csv", str(out), *extra, env={"DATABASE_URL": database_url}, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(out.read_text()))), result.stdout


def test_the_planted_truths_come_back_from_the_export(
    company_db: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = company_db
    company = talent_company(now=datetime.now(UTC))
    write_talent_company(db, company)
    rows, printed = export(url, tmp_path, "--png", str(tmp_path / "map.png"))
    by_id = {r["slack_id"]: r for r in rows}
    assert len(rows) == len(company.people)
    for code, category in company.expected.items():
        assert by_id[slack_id(code)]["readiness"] == category, (code, by_id[slack_id(code)]["reason"])
    cells = {
        "ready now": "Strong on both",
        "ready with development": "Solid on both",
        "develop in role": "Low on both",
    }
    for code, category in company.expected.items():
        if category in cells:
            assert by_id[slack_id(code)]["cell"] == cells[category], code
    for code in company.single_rater:
        assert "rests on one rater" in by_id[slack_id(code)]["flags"]
        assert "rests on 1 rater" in by_id[slack_id(code)]["reason"]
    for code in company.one_project:
        assert by_id[slack_id(code)]["reason"] == (
            "the feedback comes from one project (a category needs 2 sources: projects, or other feedback)"
        )
    # Trends: the planted riser is up on both dimensions. Raters by kind: one rater is one.
    rising = by_id[slack_id(company.rising)]
    assert (rising["delivery_trend"], rising["leadership_trend"]) == ("up", "up")
    for code in company.single_rater:
        row = by_id[slack_id(code)]
        assert sum(int(row[f"raters_{k}"]) for k in ("manager", "peer", "report", "anonymous")) == 1
    # The columns HR asked for, and no giver among them.
    header = list(rows[0])
    assert header[:6] == ["person", "slack_id", "manager", "manager_slack_id", "readiness", "reason"]
    assert {"inspires_raw", "inspires_calibrated", "inspires_ratings", "inspires_raters"} <= set(header)
    assert not [h for h in header if "giver" in h or "rater_id" in h]
    # The map: a PNG of the size drawn, and the printed text grid.
    assert imread(tmp_path / "map.png").shape[:2] == (800, 1100)
    assert "Strong on both" in printed and "ready now:" in printed
    # Written for its owner alone, and recorded.
    assert (tmp_path / "review.csv").stat().st_mode & 0o077 == 0
    with db.transaction() as session:
        audit = session.exec(
            select(AuditEntry).where(AuditEntry.action == AuditAction.EXPORT_TALENT_REVIEW)
        ).all()
    assert [
        (a.outcome, a.target.endswith("/review.csv"), a.actor_slack_id.startswith("cli:")) for a in audit
    ] == [(AuditOutcome.DONE, True, True)]
    assert f"{len(company.people)} people" in audit[0].detail


def test_the_bias_report_leads_with_the_planted_raters_and_never_names_an_anonymous_one(
    company_db: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = company_db
    company = talent_company(now=datetime.now(UTC))
    ids = write_talent_company(db, company)
    quiet = next(p for p in company.people if p not in company.lenient | company.severe and p.endswith("05"))
    with db.transaction() as session:  # everything this rater gave was anonymous (and released)
        for item in session.exec(select(Feedback).where(Feedback.giver_id == ids[quiet])):
            session.add(replace_anonymous(item))
        names = {p.id: p.name for p in session.exec(select(Person))}
    review = review_of(url)
    assert review.bias is not None
    habits = review.bias.habits
    planted = {names[ids[p]] for p in company.lenient | company.severe}
    assert {person.name for person, _ in habits[:4]} == planted
    assert all(h.sure for _, h in habits[:4])
    for person, habit in habits[:4]:
        lenient = person.name in {names[ids[p]] for p in company.lenient}
        assert (habit.leniency.measured > 0.6) if lenient else (habit.leniency.measured < -0.6)
    assert names[ids[quiet]] not in {person.name for person, _ in habits}
    # Teams by rater kind, and the team whose notes lean on personality words comes first.
    words = review.bias.words
    assert words[0][0] is not None and words[0][0].name == names[ids[company.personal_team]]
    assert (words[0][1].share or 0) > 0.3 > (words[1][1].share or 0)
    assert review.bias.teams


def test_the_review_reads_the_same_figures_as_the_growth_analytics(company_db: tuple[str, Database]) -> None:
    """The review's arrays and ``/growth``'s readings are two ways to one answer: per person and
    KPI, the same raw and calibrated levels and the same evidence (anonymous raters counted once
    per batch)."""
    url, db = company_db
    write_talent_company(db, talent_company(now=datetime.now(UTC)))
    built = app_for(url)
    try:
        review = built.services.talent.review()
        ids = [s.person.person_id for s in review.subjects]
        with built.services.db.transaction() as session:
            read = built.services.growth.readings(session, ids, review.at)
    finally:
        built.close()
    compared = 0
    for subject in review.subjects:
        reading = read[subject.person.person_id]
        for key, figures in subject.kpis.items():
            kpi = reading.kpi(key)
            assert kpi is not None
            assert (figures.ratings, figures.raters) == (kpi.evidence.ratings, kpi.evidence.raters), key
            for mine, theirs in ((figures.raw, kpi.raw), (figures.calibrated, kpi.calibrated)):
                assert (mine is None) == (theirs is None) and abs((mine or 0) - (theirs or 0)) < 1e-4, key
            compared += figures.calibrated is not None
    assert compared > 300


def replace_anonymous(item: Feedback) -> Feedback:
    item.anonymous = True
    return item


def app_for(url: str) -> Brickwork:
    """The app built in this process on ``url`` (Slack unreachable: nothing here calls it)."""
    return build_app(
        load_settings({"DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-test-0000"}),
        client=WebClient(base_url="http://127.0.0.1:9/"),
    )


def review_of(url: str) -> TalentReview:
    built = app_for(url)
    try:
        return built.services.talent.review(with_bias=True)
    finally:
        built.close()


def test_an_export_that_cannot_be_written_is_one_line_and_recorded_as_failed(
    company_db: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = company_db
    result = brickwork("export", "talent-review", "--csv", "/proc/review.csv", env={"DATABASE_URL": url})
    assert result.returncode == 2 and result.stderr.startswith("brickwork: /proc/review.csv: cannot write it")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    with db.transaction() as session:
        [entry] = session.exec(select(AuditEntry)).all()
    assert (entry.outcome, entry.target) == (AuditOutcome.FAILED, "/proc/review.csv")
    assert "not delivered (BrickworkError)" in entry.detail


def test_a_company_without_feedback_exports_everyone_as_not_enough_evidence(
    company_db: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = company_db
    with db.transaction() as session:
        session.add(Person(slack_user_id="U0NEW", name="=HYPERLINK(evil)"))
    rows, printed = export(url, tmp_path)
    assert [(r["person"], r["readiness"]) for r in rows] == [("'=HYPERLINK(evil)", "not enough evidence")]
    assert "Not on the map" in printed


# -- anonymity against inference, and evidence that cannot be inflated --------------------------------


def add_feedback(
    session: Session,
    giver: int,
    subject: int,
    scores: dict[str, int],
    *,
    at: datetime,
    project: int | None = None,
    anonymous: bool = False,
) -> None:
    item = Feedback(
        giver_id=giver,
        subject_id=subject,
        project_id=project,
        source=FeedbackSource.GIVEN,
        anonymous=anonymous,
        released_at=at,
        framework_version="1",
        created_at=at,
        updated_at=at,
    )
    session.add(item)
    session.flush()
    for kpi, score in scores.items():
        dimension = "leadership" if FRAMEWORK.kpi(kpi).dimension.value == "leadership" else "delivery"
        session.add(Rating(feedback_id=item.id, dimension=dimension, kpi=kpi, score=score))


def people(session: Session, *names: str) -> list[int]:
    rows = [Person(slack_user_id=f"U{name.upper()}", name=name) for name in names]
    session.add_all(rows)
    session.flush()
    return [int(p.id) for p in rows if p.id is not None]


ALL = {k.key: 3 for k in FRAMEWORK.kpis if k.key != "target"}


def make_projects(session: Session, lead: int, n: int) -> list[int]:
    now = datetime.now(UTC)
    rows = [
        Project(
            name=f"P{i}", lead_id=lead, created_by_id=lead, end_date=now.date(), debrief_due_at=now,
            reminder_due_at=now, window_closes_at=now, source_view_id=f"p{i}-{lead}",
        )
        for i in range(n)
    ]  # fmt: skip
    session.add_all(rows)
    session.flush()
    return [int(p.id) for p in rows if p.id is not None]


def test_who_gave_anonymous_feedback_changes_no_figure_and_its_project_is_never_counted(
    company_db: tuple[str, Database],
) -> None:
    """Yara and Zeno have the same named ratings and the same anonymous batch; Lenny, who rates
    everyone high (and is measured so, by name), gave Yara anonymously what Nora gave Zeno. The
    review must read them the same, and anonymous feedback on a project must not count it."""
    url, db = company_db
    now = datetime.now(UTC)
    with db.transaction() as session:
        yara, zeno, lenny, nora, a, b, c, d, e, f = people(
            session, "Yara", "Zeno", "Lenny", "Nora", "A", "B", "C", "D", "E", "F"
        )
        p1, p2, p3 = make_projects(session, a, 3)
        for target in (d, e, f):  # Lenny is measured lenient, by name, on three other people
            add_feedback(session, lenny, target, {k: 5 for k in ALL}, at=now - timedelta(days=30))
            for other in (a, b, c):
                add_feedback(session, other, target, ALL, at=now - timedelta(days=30))
        for subject, anonymous_giver in ((yara, lenny), (zeno, nora)):
            for giver, project in ((a, p1), (b, p1), (c, p2)):
                add_feedback(session, giver, subject, ALL, at=now - timedelta(days=20), project=project)
            for giver in (anonymous_giver, d, e):  # one batch of three, on P3
                add_feedback(
                    session, giver, subject, ALL, at=now - timedelta(days=10), project=p3, anonymous=True
                )
    review = review_of(url)
    by_name = {s.person.name: s for s in review.subjects}
    yara_, zeno_ = by_name["Yara"], by_name["Zeno"]
    assert yara_.kpis == zeno_.kpis
    assert (yara_.delivery, yara_.leadership, yara_.readiness) == (
        zeno_.delivery,
        zeno_.leadership,
        zeno_.readiness,
    )
    assert yara_.sources.shown() == "2 projects and other feedback"  # P3 only ever came anonymously
    lenny_habit = next(h for p, h in review.bias.habits if p.name == "Lenny")  # type: ignore[union-attr]
    assert lenny_habit.leniency.measured > 1


def test_one_person_named_and_in_two_anonymous_batches_is_not_three_raters(
    company_db: tuple[str, Database],
) -> None:
    url, db = company_db
    now = datetime.now(UTC)
    high = {k: 5 for k in ALL}
    with db.transaction() as session:
        xavier, ann, b, c = people(session, "Xavier", "Ann", "B", "C")
        add_feedback(session, ann, xavier, high, at=now - timedelta(days=40))
        for days in (30, 20):  # two release batches; the others rate delivery only
            add_feedback(session, ann, xavier, high, at=now - timedelta(days=days), anonymous=True)
            for other in (b, c):
                delivery = {k: 5 for k in ("quality", "timeliness")}
                add_feedback(session, other, xavier, delivery, at=now - timedelta(days=days), anonymous=True)
    [subject] = [s for s in review_of(url).subjects if s.person.name == "Xavier"]
    assert subject.leadership.raters == 2  # Ann by name, and the anonymous ones as one at most
    assert subject.readiness.category is Category.NOT_ENOUGH_EVIDENCE
    assert "leadership rests on 2 raters (a category needs 3)" in subject.readiness.reason


def test_one_leadership_kpi_read_high_is_not_breadth(company_db: tuple[str, Database]) -> None:
    url, db = company_db
    now = datetime.now(UTC)
    with db.transaction() as session:
        ivo, *raters = people(session, "Ivo", "R1", "R2", "R3")
        first, second = make_projects(session, ivo, 2)
        for n, giver in enumerate(raters):
            scores = {"quality": 5, "timeliness": 5, "inspires": 5}  # the rest "not observed"
            add_feedback(session, giver, ivo, scores, at=now - timedelta(days=10 + n), project=first)
            add_feedback(session, giver, ivo, scores, at=now - timedelta(days=60 + n), project=second)
    [subject] = [s for s in review_of(url).subjects if s.person.name == "Ivo"]
    assert subject.leadership.kpis_read == 1 and subject.leadership.level == 5.0
    assert subject.readiness.category is not Category.READY_NOW
    assert "at 3.8 or above on 1 of 6 leadership KPIs (1 read)" in subject.readiness.reason
