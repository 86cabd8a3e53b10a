"""Logging that carries no feedback, no token and no forged line.

Brickwork holds what colleagues say about each other, so its log is written to a rule:

- **Our own lines name what happened, never what people wrote.** Services log ids and counts;
  the Slack client logs the method it called and how the call ended (``brickwork.slack``).
- **Libraries speak only when something is wrong, and never in their own words about a
  request.** slack_sdk, Bolt and the openai client log request and response bodies at DEBUG
  (notes, prompts, and for Bolt whole payloads even at INFO and WARNING); their loggers are
  held at WARNING whatever ``BRICKWORK_LOG_LEVEL`` says, and what they do say at WARNING or
  above is cut to its first clause (``_library_summary``).
- **One record is one line.** A newline (or any control character) inside a message is
  written escaped, so text that came from outside cannot start a line that looks like ours;
  a traceback's lines are indented under the record that carries it.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from typing import TextIO

# Loggers of libraries that log request or response bodies below WARNING.
QUIET_LIBRARIES = (
    "slack_sdk",
    "slack_bolt",
    "brickwork.bolt",  # Bolt's own logger, named by us (bot.app)
    "openai",
    "httpx",
    "httpcore",
    "httpx2",  # what the openai client uses in its 3.x line
    "httpcore2",
    "urllib3",
    "waitress",
    "apscheduler",
    "sqlalchemy",
    "alembic",
)
LIBRARY_MESSAGE_MAX = 200
MESSAGE_MAX = 2000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_control(text: str) -> str:
    """``text`` on one line: newlines and other control characters written as escapes."""

    def escaped(match: re.Match[str]) -> str:
        char = match.group()
        named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
        return named or (f"\\x{ord(char):02x}" if ord(char) < 256 else f"\\u{ord(char):04x}")

    return _CONTROL.sub(escaped, text)


def _is_library(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in QUIET_LIBRARIES)


def _library_summary(message: str) -> str:
    """What a library said, without what it quoted: the first line, cut before a quoted body.

    Bolt's warnings end in the request body ("Unhandled request ({...})"), slack_sdk's in the
    response; the first clause says what happened.
    """
    first = message.split("\n", 1)[0]
    for marker in (" ({", " (body", ": {", " - {", "(signature"):
        at = first.find(marker)
        if at > 0:
            first = first[:at] + " (details withheld)"
            break
    return first[:LIBRARY_MESSAGE_MAX]


class SafeFormatter(logging.Formatter):
    """One record, one line; a traceback follows on lines of its own, each indented by ``  | ``."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        if _is_library(record.name):
            message = _library_summary(message)
        message = escape_control(message[:MESSAGE_MAX])
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {message}"
        if record.exc_info and record.exc_info[0] is not None:
            kind, error, trace = record.exc_info
            frames = "".join(traceback.format_tb(trace)).rstrip("\n").split("\n")
            said = _what_it_said(error)
            last = f"{kind.__module__}.{kind.__qualname__}" + (f": {said}" if said else "")
            lines = ["Traceback (most recent call last):", *frames, last]
            line += "\n" + "\n".join(f"  | {text}" for text in lines)
        return line


OUR_PACKAGES = ("bot.", "handlers.", "storage.", "prompts.")


def _what_it_said(error: BaseException | None) -> str:
    """An exception's own words, when they cannot quote what people wrote: ours say what went
    wrong in our words; a library's may quote its input (a validation error shows the value
    that failed, a database error the row), so only its kind is kept — and for a Slack refusal,
    Slack's error code. One line, escaped, cut."""
    if error is None:
        return ""
    module = type(error).__module__ + "."
    if module.startswith(OUR_PACKAGES):
        return escape_control(str(error))[:300]
    response = getattr(error, "response", None)
    code = response.get("error") if response is not None and hasattr(response, "get") else None
    if isinstance(code, str):
        return escape_control(f"Slack answered {code}")[:120]
    return "(its message is not logged: it may quote input)"


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every record to ``stream`` (stderr) through ``SafeFormatter``; libraries at WARNING."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(SafeFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
