"""User text is data: what a person typed is checked before it is stored, and escaped before
it goes into mrkdwn.

``checked_text`` is the one gate for every field a person types (names, notes, "about",
reasons, coaching edits): it refuses what no database or reader should get — NUL and other
control characters (PostgreSQL refuses NUL outright), lone surrogates (not encodable),
bidirectional overrides (they make text display as something else: "Trojan Source"),
Unicode non-characters — and treats text made only of invisible characters (zero-width
spaces, joiners, fillers) as empty, so "not empty" means something a reader can see.
"""

from __future__ import annotations

import re
import unicodedata

from bot.errors import InvalidInput

# A Slack user id: U… (or W… on Enterprise Grid). One pattern for commands, forms, settings.
SLACK_USER_ID_PATTERN = r"^[UW][A-Z0-9]{2,20}$"
_SLACK_USER_ID = re.compile(SLACK_USER_ID_PATTERN)


def is_slack_user_id(value: object) -> bool:
    return isinstance(value, str) and _SLACK_USER_ID.fullmatch(value) is not None


# Format characters that reorder text on screen (Unicode bidi embeddings, overrides, isolates).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters and symbols that draw nothing: Hangul fillers, the braille blank, the Mongolian vowel
# separator (Unicode lists the last as a format character already; kept here for clarity).
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Zs", "Zl", "Zp", "Cc"})


def is_blank(text: str) -> bool:
    """True when ``text`` shows nothing: whitespace, zero-width and other invisible characters."""
    return all(
        char.isspace() or char in _BLANK_GLYPHS or unicodedata.category(char) in _INVISIBLE_CATEGORIES
        for char in text
    )


def text_problem(text: str, *, multiline: bool) -> str | None:
    """Why ``text`` cannot be stored as it is, in words for the person; None when it can."""
    for char in text:
        code = ord(char)
        if char == "\t" or (char == "\n" and multiline):
            continue
        if char == "\x00":
            return "It contains a NUL character; remove it."
        if unicodedata.category(char) == "Cc":
            what = "a control character" if multiline else "a control character or a line break"
            return f"It contains {what}; remove it."
        if 0xD800 <= code <= 0xDFFF:
            return "It contains a broken character (a lone surrogate); retype it."
        if char in _BIDI_CONTROLS:
            return "It contains a character that reverses how text is shown; remove it."
        if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
            return "It contains a character that is not meant for text; remove it."
    return None


def plain(text: str, limit: int) -> str:
    """``text`` that came from elsewhere (a handle in a request, a name from Slack), made
    storable: what ``checked_text`` would refuse is taken out, line breaks become spaces."""
    kept = "".join(
        " " if char in "\n\r\t" else char
        for char in text
        if char in "\n\r\t" or text_problem(char, multiline=False) is None
    )
    return kept.strip()[:limit]


def checked_text(
    value: str, *, field: str, limit: int, required: bool = False, multiline: bool = True
) -> str:
    """``value`` trimmed, or ``InvalidInput({field: reason})``: the one check for typed text.

    Windows line ends become ``\\n``; a value that shows nothing counts as empty (``""``), and
    is refused when ``required``.
    """
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    problem = text_problem(text, multiline=multiline)
    if problem is not None:
        raise InvalidInput({field: problem})
    if is_blank(text):
        if required:
            raise InvalidInput({field: "Write something here: it is empty, or only invisible characters."})
        return ""
    if len(text) > limit:
        raise InvalidInput({field: f"Keep this to {limit} characters (it has {len(text)})."})
    return text


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as control characters in message text.

    With ``&``, ``<`` and ``>`` escaped, ``<!channel>`` or ``<https://evil|bank>`` typed by a
    person shows as typed and pings or links nobody.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def user_mention(slack_user_id: str) -> str:
    return f"<@{slack_user_id}>"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def slack_date(moment_unix: int, fmt: str, fallback: str) -> str:
    """Slack's date token: every reader sees ``moment`` in their own time zone."""
    return f"<!date^{moment_unix}^{fmt}|{fallback}>"
