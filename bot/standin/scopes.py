"""OAuth scopes: what each Web API method the stand-in implements needs, and what our app is granted.

Slack refuses a call whose token lacks a scope the method needs with HTTP 200 and
``{"ok": false, "error": "missing_scope", "needed": "<scope>", "provided": "<granted,scopes>"}``.
:class:`bot.standin.webapi.FakeSlack` does the same, with the scopes it was built with
(:data:`APP_SCOPES` unless a test passes fewer).

The bot-token scopes below are the ones each method's reference page lists under "Scopes / Bot
token" at ``https://docs.slack.dev/reference/methods/<method>``:

* ``auth.test`` — none (https://docs.slack.dev/reference/methods/auth.test).
* ``users.info`` — ``users:read`` (https://docs.slack.dev/reference/methods/users.info).
* ``users.lookupByEmail`` — ``users:read.email`` (https://docs.slack.dev/reference/methods/users.lookupByEmail).
* ``conversations.open`` — the page lists ``channels:manage``, ``groups:write``, ``im:write`` and
  ``mpim:write``; which one a call needs depends on the conversation: ``im:write`` for a DM,
  ``mpim:write`` for a group DM (https://docs.slack.dev/reference/methods/conversations.open).
  The stand-in opens only DMs and group DMs, so only those two are used.
* ``conversations.history`` — ``channels:history`` (public channels), ``groups:history`` (private
  channels), ``im:history`` (DMs), ``mpim:history`` (group DMs), by the kind of conversation read
  (https://docs.slack.dev/reference/methods/conversations.history).
* ``chat.postMessage``, ``chat.update``, ``chat.delete``, ``chat.postEphemeral`` — ``chat:write``
  (https://docs.slack.dev/reference/methods/chat.postMessage and the pages of the other three).
  ``chat.postMessage`` may also post to a public channel the bot is not in when the app has
  ``chat:write.public`` (https://docs.slack.dev/reference/scopes/chat:write.public).
* ``views.open``, ``views.push``, ``views.update``, ``views.publish`` — none beyond a bot token
  (https://docs.slack.dev/reference/methods/views.open and the pages of the other three).
* ``files.getUploadURLExternal``, ``files.completeUploadExternal`` — ``files:write``
  (https://docs.slack.dev/reference/methods/files.getUploadURLExternal,
  https://docs.slack.dev/reference/methods/files.completeUploadExternal).
* ``files.info`` — ``files:read`` (https://docs.slack.dev/reference/methods/files.info); the same
  scope lets a bot token download a file from its ``url_private`` (https://api.slack.com/scopes/files:read,
  https://api.slack.com/types/file#auth), which the stand-in checks as well (``FILES_READ``).

Which scope Slack names in ``needed`` when a method lists several (``conversations.history``) is not
documented; the stand-in names the one for the kind of conversation the call was about.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

#: Bot scopes each implemented method may need. For the methods in :data:`SCOPE_BY_CONVERSATION`
#: a call needs exactly one of them, picked by the kind of conversation; for the others, all of them.
METHOD_SCOPES: Final[Mapping[str, tuple[str, ...]]] = {
    "auth.test": (),
    "users.info": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "conversations.open": ("im:write", "mpim:write"),
    "conversations.history": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "views.open": (),
    "views.push": (),
    "views.update": (),
    "views.publish": (),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "files.info": ("files:read",),
}

#: Downloading a file from its ``url_private`` with a bot token needs this scope.
FILES_READ: Final = "files:read"

#: For methods whose scope depends on the conversation: {method: {conversation kind: scope}}.
#: Kinds: ``public`` and ``private`` channels, ``im`` (a DM), ``mpim`` (a group DM).
SCOPE_BY_CONVERSATION: Final[Mapping[str, Mapping[str, str]]] = {
    "conversations.history": {
        "public": "channels:history",
        "private": "groups:history",
        "im": "im:history",
        "mpim": "mpim:history",
    },
    "conversations.open": {"im": "im:write", "mpim": "mpim:write"},
}

#: Lets chat.postMessage post to public channels the bot is not a member of.
CHAT_WRITE_PUBLIC: Final = "chat:write.public"

#: The bot scopes our app's manifest grants: ``oauth_config.scopes.bot`` in ``manifest.yml``, plus
#: ``im:history`` (the app reads its own DMs with conversations.history to check that a message it
#: sent went through; the manifest is to gain it — tests/test_standin.py compares the two).
APP_SCOPES: Final[tuple[str, ...]] = (
    "commands",
    "chat:write",
    "im:write",
    "users:read",
    "users:read.email",
    "files:write",
    "im:history",
    "files:read",
)


def needed_scopes(method: str, conversation_kind: str | None = None) -> tuple[str, ...]:
    """The scopes a call to ``method`` needs (about a conversation of ``conversation_kind``, if it matters).

    Raises ``KeyError`` for a method the stand-in does not implement, and ``ValueError`` when the
    method's scope depends on the conversation and ``conversation_kind`` is missing or unknown.
    """
    allowed = METHOD_SCOPES[method]
    by_kind = SCOPE_BY_CONVERSATION.get(method)
    if by_kind is None:
        return allowed
    if conversation_kind not in by_kind:
        raise ValueError(
            f"{method} needs a scope that depends on the conversation kind, got {conversation_kind!r}"
        )
    return (by_kind[conversation_kind],)


def missing_scopes(
    granted: tuple[str, ...] | frozenset[str], method: str, conversation_kind: str | None = None
) -> tuple[str, ...]:
    """The scopes of :func:`needed_scopes` that ``granted`` lacks (empty when the call is allowed)."""
    return tuple(s for s in needed_scopes(method, conversation_kind) if s not in granted)
