"""A local stand-in for Slack, used by the test-suite and by ``brickwork demo``.

* :mod:`bot.standin.webapi` — :class:`FakeSlack`, a fake Slack Web API on loopback that
  validates Block Kit like Slack does and records every call.
* :mod:`bot.standin.driver` — :class:`SlackDriver`, which sends the app signed slash
  commands, button clicks, modal submissions and events, the way Slack does.
* :mod:`bot.standin.render` — plain-text rendering of messages, modals and Home tabs.
* :mod:`bot.standin.validation` — the Block Kit checks behind ``invalid_blocks``.
"""

from bot.standin.driver import Actor, Response, SlackDriver, build_state_values
from bot.standin.render import blocks_to_text, message_to_text, mrkdwn_to_text, view_to_text
from bot.standin.webapi import Call, FakeSlack, FakeUser

__all__ = [
    "Actor",
    "Call",
    "FakeSlack",
    "FakeUser",
    "Response",
    "SlackDriver",
    "blocks_to_text",
    "build_state_values",
    "message_to_text",
    "mrkdwn_to_text",
    "view_to_text",
]
