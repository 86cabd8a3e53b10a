"""The coach against any OpenAI-compatible server: what each draft cost and whether it was used.

The real app runs in process (SQLite, the stand-in for Slack); colleagues give feedback through
the real modals, for reports whose ratings differ in shape: one KPI clearly low, two low, one a
whole point below the rest, everything high (no growth area: the offline coach says so and the
LLM is not asked, by design). Then a manager drafts coaching for each, through the configured
server. Printed per draft: accepted (the LLM's answer passed every check) or fallback and why,
tokens as the server counted them (``-`` when it reports no usage), latency, and the response
format that was used; and, as the floor measured in the same run, one completion of two tokens.

Run against a local llama.cpp server, for example::

    python -m llama_cpp.server --model SmolLM2-135M-Instruct.Q4_1.gguf --n_ctx 4096 --port 8765
    .venv/bin/python bench/coach_llm.py --base-url http://127.0.0.1:8765/v1 --model local

or against OpenAI with ``--base-url https://api.openai.com/v1 --api-key sk-...``. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import openai
from sqlmodel import select

from bot.demo import running_stack
from bot.standin.driver import Actor
from bot.standin.webapi import FakeSlack, FakeUser
from storage.models import CoachingDraft, Person

MANAGER = FakeUser(id="U0BOSS", name="boss", real_name="Robin Manager", tz="Europe/Berlin")
GIVERS = tuple(FakeUser(id=f"U0G{i:03d}", name=f"g{i}", real_name=f"Giver {i}") for i in range(4))
SCALE = (
    "Quality",
    "Timeliness",
    "Inspires and retains people",
    "Decides well under pressure",
    "Collaborates across teams, includes people",
    "Delegates",
    "Motivates",
)
# Each report's ratings: one low KPI, two low, one a point below the rest, all high.
SHAPES: dict[str, dict[str, str]] = {
    "delegation low": {"Delegates": "2"},
    "two low": {"Timeliness": "2", "Decides well under pressure": "2"},
    "a point below": {"Motivates": "3"},
    "all high": {},
}
NOTES = (
    "In the release review she walked the team through the failed load test and named who fixes what.",
    "She kept the migration plan current, but the handover to support came two days late.",
    "During the outage she made the rollback call quickly and explained it to everyone affected.",
    "She did most of the integration work herself instead of handing parts to the two new joiners.",
)


def give(actor: Actor, slack: FakeSlack, subject: FakeUser, low: dict[str, str], n: int) -> None:
    before = len(slack.calls_to("views.open"))
    actor.command("/feedback", f"give <@{subject.id}|{subject.name}>")
    slack.wait_for("views.open", count=before + 1)
    form = slack.open_modal(actor.user_id)
    assert form is not None
    values = {"Target met": "yes", "Drives innovation and culture": "Not observed"}
    values |= {label: "5" if n % 2 else "4" for label in SCALE} | low
    values["What went well"] = NOTES[n % len(NOTES)]
    if actor.submit(form, values).text:  # a note hint is answered once; the same form is accepted
        actor.submit(form, values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="the server, such as http://127.0.0.1:8765/v1")
    parser.add_argument("--model", default="local")
    parser.add_argument("--api-key", default="sk-local")
    parser.add_argument("--response-format", default="auto")
    parser.add_argument("--max-tokens", default="1200")
    parser.add_argument("--timeout", default="300")
    parser.add_argument("--items", type=int, default=8, help="feedback items per report")
    parser.add_argument("--rounds", type=int, default=2, help="drafts per report (redrafted afresh)")
    parser.add_argument("--show", action="store_true", help="print what each accepted draft says")
    args = parser.parse_args()

    client = openai.OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=60)
    started = time.perf_counter()
    client.chat.completions.create(
        model=args.model, messages=[{"role": "user", "content": "Say OK."}], max_tokens=2
    )
    floor = time.perf_counter() - started

    reports = {
        shape: FakeUser(id=f"U0R{i:03d}", name=f"r{i}", real_name=f"Report {i}")
        for i, shape in enumerate(SHAPES)
    }
    env = {
        "BRICKWORK_COACH": "llm",
        "OPENAI_API_KEY": args.api_key,
        "OPENAI_BASE_URL": args.base_url,
        "OPENAI_MODEL": args.model,
        "OPENAI_RESPONSE_FORMAT": args.response_format,
        "OPENAI_MAX_TOKENS": args.max_tokens,
        "OPENAI_TIMEOUT_SECONDS": args.timeout,
        "OPENAI_MAX_RETRIES": "0",
        "BRICKWORK_LOG_LEVEL": "WARNING",
    }
    people = (MANAGER, *reports.values(), *GIVERS)
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(Path(tmp), lambda: datetime.now(UTC), env, people=people) as (app, slack, driver),
    ):
        app.services.people.one(MANAGER.id)
        for shape, report in reports.items():
            for n in range(args.items):
                give(driver.as_user(GIVERS[n % len(GIVERS)].id), slack, report, SHAPES[shape], n)
        with app.services.db.transaction() as session:
            boss = session.exec(select(Person.id).where(Person.slack_user_id == MANAGER.id)).one()
            ids = [r.id for r in reports.values()]
            for row in session.exec(select(Person).where(Person.slack_user_id.in_(ids))):  # type: ignore[attr-defined]
                row.manager_id = boss
                session.add(row)

        print(f"server: {args.base_url} model={args.model} max_tokens={args.max_tokens}")
        print(f"floor: one 2-token completion took {floor:.2f} s")
        print(f"{'report':<16} {'coach':<8} {'prompt':>6} {'answer':>6} {'seconds':>8}  format / why")
        accepted = total = 0
        for _ in range(args.rounds):
            for shape, report in reports.items():
                started = time.perf_counter()
                card = app.services.coaching.draft(MANAGER.id, report.id, view_id=None, fresh=True)
                seconds = time.perf_counter() - started
                with app.services.db.transaction() as session:
                    draft = session.get(CoachingDraft, card.draft_id)
                    assert draft is not None
                    tokens = (draft.prompt_tokens, draft.completion_tokens)
                used = card.coach == "llm"
                total += not card.cached
                accepted += used and not card.cached
                why = (
                    "accepted: answered from the cache (the same prompt was answered before)"
                    if used and card.cached
                    else f"accepted ({app.services.coaching.response_format})"
                    if used
                    else card.fallback_reason or "offline by design: no growth area in the data"
                )
                shown = [str(t) if t is not None else "-" for t in tokens]
                print(f"{shape:<16} {card.coach:<8} {shown[0]:>6} {shown[1]:>6} {seconds:>8.1f}  {why}")
                if args.show and used:
                    for area in card.areas:
                        said = " / ".join((area.observation, area.suggestion, area.first_step))
                        print(f"    {area.kpi.key}: {said}")
        print(f"LLM answers used: {accepted} of {total} drafts asked of the server (cache hits left out)")


if __name__ == "__main__":
    main()
