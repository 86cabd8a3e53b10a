"""/feedback, /growth and /coach are in the manifest; until they ship they answer honestly."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import Ack, App

from handlers.ids import Command

PLANNED = {
    Command.GROWTH: "read your growth digest",
    Command.COACH: "draft coaching for a report",
}


def help_text(command: Command) -> str:
    return (
        f"*{command.value}* will let you {PLANNED[command]}. It is not available in this version of "
        "Brickwork yet. `/debrief help` shows what you can do today."
    )


def _answer_with(text: str) -> Callable[[Ack], None]:
    def answer(ack: Ack) -> None:
        ack(text=text)

    return answer


def register(app: App, _services: object = None) -> None:
    for command in PLANNED:
        app.command(command.value)(_answer_with(help_text(command)))
