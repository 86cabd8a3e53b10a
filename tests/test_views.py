"""Views are pure functions: checked here against Slack's limits with slack_sdk's own models
and the stand-in's stricter validator, at their largest."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from slack_sdk.models.views import View

from bot.debriefs.service import (
    MAX_MEMBERS,
    DebriefForm,
    PersonRef,
    ProjectSummary,
    PromptCard,
    PromptItem,
)
from bot.feedback.answers import Answers
from bot.framework import MAX_KPIS_PER_DIMENSION, Framework, load_framework, parse_framework
from bot.standin.validation import validate_message_blocks, validate_message_text, validate_view
from handlers.debrief import parse_answers
from handlers.forms import DebriefFormMeta, FormRefused, Input, db_id_pair, parse_metadata, read_form
from handlers.ids import kpi_block
from handlers.views import debrief as views
from handlers.views.form import NOT_OBSERVED
from storage.models import ProjectState, TaskKind, UpwardFeedback
from tests.slackcheck import mrkdwn_texts

NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)
EVIL = "<!channel> & <https://evil.example|bank>"


def person(i: int, name: str = "Person") -> PersonRef:
    return PersonRef(person_id=i, slack_id=f"U{i:04d}", name=f"{name} {i}")


def card(items: int, state: ProjectState = ProjectState.OPEN, name: str = "Apollo") -> PromptCard:
    return PromptCard(
        project_id=7,
        project_name=name,
        lead=person(1, "Lead"),
        end_date=date(2026, 12, 1),
        state=state,
        closes_at=NOW,
        anonymous=False,
        items=tuple(
            PromptItem(subject=person(i + 2), kind=TaskKind.LEAD_REVIEW, done=i % 2 == 0)
            for i in range(items)
        ),
    )


def as_dicts(blocks: list) -> list[dict]:  # type: ignore[type-arg]
    return [b.to_dict() for b in blocks]


def big_framework() -> Framework:
    def kpis(prefix: str) -> list[dict[str, str]]:
        return [
            {"key": f"{prefix}{i}", "label": "L" * 75, "kind": "scale", "description": "d" * 150}
            for i in range(MAX_KPIS_PER_DIMENSION)
        ]

    return parse_framework({"version": "big", "delivery": kpis("d"), "leadership": kpis("l")})


def test_lead_dm_with_the_most_members_fits_a_message() -> None:
    for state in ProjectState:
        text, blocks = views.prompt_message(card(MAX_MEMBERS, state))
        assert validate_message_text(text) == []
        assert len(blocks) <= 50
        assert validate_message_blocks(as_dicts(blocks)) == []
        _, reminder = views.reminder_message(card(MAX_MEMBERS, state))
        assert validate_message_blocks(as_dicts(reminder)) == []


def test_buttons_only_while_open() -> None:
    open_blocks = json.dumps(as_dicts(views.prompt_message(card(3))[1]))
    # One per person, and "Rate yourself on this project".
    assert open_blocks.count('"button"') == 4 and '"value": "7:2"' in open_blocks
    assert "rate_myself_on_project" in open_blocks and '"value": "7"' in open_blocks
    for state in (ProjectState.CLOSED, ProjectState.CANCELLED):
        assert '"button"' not in json.dumps(as_dicts(views.prompt_message(card(3, state))[1]))


def test_debrief_form_at_the_largest_framework_fits_a_modal() -> None:
    framework = big_framework()
    previous = Answers(scores={k.key: 3 for k in framework.kpis}, delivery_note="n" * 3000)
    for kind in TaskKind:
        form = DebriefForm(
            project_id=1,
            project_name="P" * 80,
            subject=person(2),
            kind=kind,
            anonymous=True,
            framework=framework,
            previous=previous,
        )
        view = views.debrief_modal(form).to_dict()
        assert len(view["blocks"]) <= 100
        assert validate_view(view) == []
        View(**view).validate_json()


def test_debrief_form_prefills_every_kind_of_answer() -> None:
    framework = load_framework()
    previous = Answers(scores={"target": 0, "quality": 5, "decides": None}, growth_note="g")
    form = DebriefForm(
        project_id=1,
        project_name="P",
        subject=person(2),
        kind=TaskKind.LEAD_REVIEW,
        anonymous=False,
        framework=framework,
        previous=previous,
    )
    blocks = {b["block_id"]: b for b in views.debrief_modal(form).to_dict()["blocks"] if "block_id" in b}
    assert blocks[kpi_block("target")]["element"]["initial_option"]["value"] == "no"  # score 0 is an answer
    assert blocks[kpi_block("quality")]["element"]["initial_option"]["value"] == "5"
    assert blocks[kpi_block("decides")]["element"]["initial_option"]["value"] == NOT_OBSERVED
    assert "initial_option" not in blocks[kpi_block("motivates")]["element"]
    assert blocks["growth_note"]["element"]["initial_value"] == "g"


def test_user_text_is_escaped_in_every_view() -> None:
    summary = ProjectSummary(
        id=1,
        name=EVIL,
        lead=PersonRef(1, "U1", EVIL),
        end_date=date(2026, 12, 1),
        state=ProjectState.OPEN,
        due_at=NOW,
        closes_at=NOW,
        upward=UpwardFeedback.NAMED,
        done=0,
        total=2,
        lead_tz="UTC",
    )
    form = DebriefForm(
        project_id=1,
        project_name=EVIL,
        subject=PersonRef(2, "U2", EVIL),
        kind=TaskKind.UPWARD,
        anonymous=False,
        framework=load_framework(),
        previous=None,
    )
    prompt_text, prompt_blocks = views.prompt_message(card(2, name=EVIL))
    surfaces: list[list[str]] = [
        [prompt_text, *mrkdwn_texts(as_dicts(prompt_blocks))],
        mrkdwn_texts(as_dicts(views.reminder_message(card(2, name=EVIL))[1])),
        mrkdwn_texts(views.project_created_modal(summary).to_dict()),
        mrkdwn_texts(views.debrief_modal(form).to_dict()),
        mrkdwn_texts(as_dicts(views.project_list([summary])[1])),
        [views.cancelled_text(summary)],
    ]
    for texts in surfaces:
        joined = "\n".join(texts)
        assert "&lt;!channel&gt; &amp; &lt;https://evil.example|bank&gt;" in joined
        assert "<!channel>" not in joined and "<https://evil" not in joined


def test_parse_answers() -> None:
    framework = load_framework()
    values = {kpi_block(k.key): "3" for k in framework.kpis}
    values[kpi_block("target")] = "partly"
    values[kpi_block("motivates")] = NOT_OBSERVED
    values[kpi_block("delegates")] = "seven"
    values[kpi_block("decides")] = "٣"  # ARABIC-INDIC DIGIT THREE: int() reads it as 3; we do not
    values[kpi_block("innovates")] = "+3"
    del values[kpi_block("quality")]
    answers = parse_answers({**values, "growth_note": "try X"}, framework)
    assert answers.scores["target"] == 1 and answers.scores["motivates"] is None
    # A value we did not offer fails validation, never stored as-is or as what int() makes of it.
    assert answers.scores["delegates"] == answers.scores["decides"] == answers.scores["innovates"] == -1
    assert answers.missing == {"quality"} and answers.growth_note == "try X"


def test_button_values_and_metadata_are_parsed_in_one_place() -> None:
    assert db_id_pair("12:34") == (12, 34)
    for bad in ("", "12", "a:b", "1:2:3", "-1:2", "0:1", "1:99999999999", "٣:4", "+3:4", " 1:2", None, 12):
        with pytest.raises(FormRefused):
            db_id_pair(bad)
    view = {"private_metadata": DebriefFormMeta(project_id=1, subject_id=2).model_dump_json()}
    assert parse_metadata(view, DebriefFormMeta) == DebriefFormMeta(project_id=1, subject_id=2)
    for bad in (
        "",
        "{}",
        "not json",
        '{"project_id": "x", "subject_id": 2}',
        '{"project_id": "1", "subject_id": 2}',  # strings are not ids: only what we wrote
        '{"project_id": 1, "subject_id": 2147483648}',  # beyond what the database holds
        '{"project_id": 1, "subject_id": 2, "extra": 1}',
        '{"project_id": true, "subject_id": 2}',
        "[]",
    ):
        with pytest.raises(FormRefused):
            parse_metadata({"private_metadata": bad}, DebriefFormMeta)


def test_read_form_reads_every_element_type() -> None:
    view = {
        "state": {
            "values": {
                "a": {"input": {"type": "plain_text_input", "value": "x"}},
                "b": {"input": {"type": "static_select", "selected_option": {"value": "3"}}},
                "c": {"input": {"type": "static_select", "selected_option": None}},
                "d": {"input": {"type": "multi_users_select", "selected_users": ["U1", "U2"]}},
                "e": {"input": {"type": "users_select", "selected_user": "U3"}},
                "f": {"input": {"type": "datepicker", "selected_date": "2026-12-01"}},
                "g": {"input": {"type": "radio_buttons", "selected_option": {"value": "yes"}}},
                "h": {"input": {"type": "checkboxes", "selected_options": [{"value": "1"}]}},
            }
        }
    }
    spec = {
        "a": Input.TEXT,
        "b": Input.CHOICE,
        "c": Input.CHOICE,
        "d": Input.USERS,
        "e": Input.USER,
        "f": Input.DATE,
        "g": Input.CHOICE,
        "h": Input.CHOICES,
        "missing": Input.TEXT,
    }
    view["state"]["values"]["d"]["input"]["selected_users"] = ["U0AAA", "W0BBB"]
    view["state"]["values"]["e"]["input"]["selected_user"] = "U0CCC"
    assert read_form(view, spec) == {
        "a": "x",
        "b": "3",
        "c": None,
        "d": ["U0AAA", "W0BBB"],
        "e": "U0CCC",
        "f": date(2026, 12, 1),
        "g": "yes",
        "h": ["1"],
        "missing": "",
    }


@pytest.mark.parametrize(
    ("element", "kind"),
    [
        ({"type": "checkboxes", "selected_options": [{"value": "x"}]}, Input.TEXT),  # a text field as boxes
        ({"type": "plain_text_input", "value": ["x"]}, Input.TEXT),
        ({"type": "static_select", "selected_option": "3"}, Input.CHOICE),
        ({"type": "static_select", "selected_option": {"value": 3}}, Input.CHOICE),
        ({"type": "users_select", "selected_user": "someone"}, Input.USER),
        ({"type": "multi_users_select", "selected_users": "U0AAA"}, Input.USERS),
        ({"type": "datepicker", "selected_date": "2026-02-30"}, Input.DATE),
        ({"type": "datepicker", "selected_date": "tomorrow"}, Input.DATE),
        ("not an element", Input.TEXT),
    ],
)
def test_a_form_field_of_the_wrong_shape_is_refused(element: object, kind: Input) -> None:
    with pytest.raises(FormRefused):
        read_form({"state": {"values": {"f": {"input": element}}}}, {"f": kind})


def test_an_anonymous_item_shows_neither_its_source_nor_its_day() -> None:
    from bot.feedback.cards import ReceivedItem
    from handlers.views.feedback import item_lines
    from storage.models import FeedbackSource, Relation

    framework = load_framework()
    at = datetime(2026, 11, 17, 15, tzinfo=UTC)
    for source in FeedbackSource:
        named = ReceivedItem(
            feedback_id=1,
            at=at,
            source=source,
            relation=Relation.PEER,
            giver=person(3, "Carol"),
            context="the offsite",
            scores={"quality": 4},
            notes={"strengths_note": "clear plan"},
        )
        assert item_lines(named, framework).startswith("*Carol 3* · ")
        assert "the offsite" in item_lines(named, framework) and "17 Nov 2026" in item_lines(named, framework)
        anonymous = ReceivedItem(**{**named.__dict__, "giver": None, "anonymous": True})
        text = item_lines(anonymous, framework)
        head, *rest = text.split("\n")
        assert head == "_anonymous_ · Nov 2026"
        for leak in ("on request", "debrief", "feedback on the lead", "unasked", "the offsite", "17"):
            assert leak not in text, (source, leak)
        assert "clear plan" in text and "4" in "\n".join(rest)


def test_a_home_past_its_limits_keeps_settings_and_a_picker_slack_accepts() -> None:
    from bot.feedback.cards import RequestCard, Snapshot
    from bot.home.service import TEAM_PICKER_MAX, HomeData
    from handlers.ids import BlockId
    from handlers.views.home import home_view
    from storage.models import RequestState

    me = person(1, "Maya")
    snapshot = Snapshot(person=me, stats=(), items=0)
    cards = tuple(
        RequestCard(
            request_id=i,
            requester=person(i + 100),
            giver=me,
            subject=person(i + 100),
            about="",
            state=RequestState.OPEN,
            decline_reason="",
            created_at=NOW,
            nudged_at=None,
            can_nudge=False,
        )
        for i in range(60)  # more than the service ever hands over: the view must still fit
    )
    data = HomeData(
        me=me,
        paused_until=None,
        digest_enabled=True,
        digest_weekday=6,
        digest_hour=23,
        snapshot=snapshot,
        waiting=cards,
        waiting_total=len(cards),
        my_open=(),
        my_open_total=0,
        latest=(),
        reports=(),
        reports_total=0,
        team_ids=tuple(f"U{i:04d}" for i in range(TEAM_PICKER_MAX + 10)),  # a CSV import made 60
        pending=(),
        claimed_by=None,
        projects=(),
    )
    view = home_view(data, load_framework(), NOW.date()).to_dict()
    blocks = view["blocks"]
    assert len(blocks) <= 100 and validate_view(view) == []
    assert [b for b in blocks if b.get("block_id") == BlockId.SETTINGS]  # the end survives the cut
    assert "More than fits here" in json.dumps(blocks)

    view = home_view(replace(data, waiting=cards[:5]), load_framework(), NOW.date()).to_dict()
    blocks = view["blocks"]
    assert validate_view(view) == [] and "More than fits here" not in json.dumps(blocks)
    picker = next(b for b in blocks if b.get("block_id") == BlockId.TEAM)["elements"][0]
    assert picker["initial_users"] == [f"U{i:04d}" for i in range(TEAM_PICKER_MAX)]
    assert len(picker["initial_users"]) <= picker["max_selected_items"]
    assert "the other 10 on your team are managed by the org chart import" in json.dumps(blocks)


def test_talent_sections_fit_slack_after_escaping() -> None:
    from bot.text import escape_mrkdwn
    from handlers.views.talent import SECTION_MAX, _sections

    names = ", ".join(escape_mrkdwn(f"<Long & odd name {i}>") for i in range(400))
    texts = _sections(["*Strong on both*: " + names, "short line"])
    assert all(len(t) <= SECTION_MAX for t in texts) and len(texts) >= 3
    assert "&lt;Long &amp; odd name 399&gt;" in texts[-1] or "&lt;Long &amp; odd name 399&gt;" in texts[-2]
    assert not any(t.endswith("&g") or t.endswith("&lt") for t in texts)  # never cut inside an entity
