"""Modals Brickwork opened, and for whom.

A view id travels in every submission and in every button pressed inside a modal, and the
app may update any view it opened, whoever is looking at it. So a view id from a payload is
never taken on trust: each modal we open is recorded with its person, and a submission, a
close or a button naming a view id must come from that person (``check``); otherwise it is
refused and nothing happens — no write, no ``views.update`` of someone else's screen, no
reading of what another person's modal made (a project created from their form).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.views import View

from bot.errors import NotAllowed
from bot.slack_gateway import SlackGateway
from storage.db import Database
from storage.repositories import modals as modals_repo

KEEP = timedelta(days=30)  # a modal left open over a holiday still works; older records are dropped
RECORDING_WAIT_SECONDS = 2.0  # a submission may overtake the record of the modal just opened
NOT_YOURS = "This form is not yours, so nothing was done. Open your own from Slack."


class Modals:
    def __init__(self, db: Database, gateway: SlackGateway, clock: Callable[[], datetime]) -> None:
        self._db, self._gateway, self._clock = db, gateway, clock
        self._opening: Counter[str] = Counter()  # people with a views.open under way here
        self._recorded = threading.Condition()

    def open(self, trigger_id: str, slack_user_id: str, view: View | dict[str, Any]) -> str:
        """``views.open`` with the person's trigger; the new view is recorded as theirs."""
        with self._recorded:
            self._opening[slack_user_id] += 1
        try:
            opened = self._gateway.open_view(trigger_id, view)
            with self._db.transaction() as session:
                modals_repo.remember(
                    session,
                    view_id=str(opened["id"]),
                    slack_user_id=slack_user_id,
                    callback_id=str(opened.get("callback_id") or "")[:64],
                    at=self._clock(),
                )
        finally:
            with self._recorded:
                self._opening[slack_user_id] -= 1
                if self._opening[slack_user_id] <= 0:
                    del self._opening[slack_user_id]
                self._recorded.notify_all()
        return str(opened["id"])

    def update(self, view_id: str, view: View | dict[str, Any]) -> None:
        """``views.update`` of a modal we opened; it is recorded as the new form it now is —
        before Slack is asked, since the person may act on the new form the moment Slack shows
        it, before its answer reaches us. If Slack refuses, the record goes back."""
        callback = view.callback_id if isinstance(view, View) else view.get("callback_id")
        with self._db.transaction() as session:
            before = modals_repo.owner(session, view_id)
            previous = before.callback_id if before is not None else None
            modals_repo.set_callback(session, view_id=view_id, callback_id=str(callback or "")[:64])
        try:
            self._gateway.update_view(view_id, view)
        except Exception:
            if previous is not None:
                with self._db.transaction() as session:
                    modals_repo.set_callback(session, view_id=view_id, callback_id=previous)
            raise

    def check(self, view: Mapping[str, Any], slack_user_id: str) -> None:
        """Refuse (``NotAllowed``) unless Brickwork opened this view for this person, as the form
        it says it is (its ``callback_id``): a form cannot be passed off as another one.

        Slack shows a modal as soon as ``views.open`` answers, a moment before it is recorded
        here; a submission in that moment (a script is that fast) waits for the record of a
        modal this person is opening, and only for that."""
        view_id, callback = view.get("id"), view.get("callback_id")
        if not isinstance(view_id, str):
            raise NotAllowed(NOT_YOURS)
        opened = self._opened_as(view_id)
        if opened is None:
            with self._recorded:
                self._recorded.wait_for(
                    lambda: slack_user_id not in self._opening, timeout=RECORDING_WAIT_SECONDS
                )
            opened = self._opened_as(view_id)
        if opened != (slack_user_id, callback):
            raise NotAllowed(NOT_YOURS)

    def _opened_as(self, view_id: str) -> tuple[str, str] | None:
        with self._db.transaction() as session:
            return modals_repo.opened_as(session, view_id)

    def forget_old(self, now: datetime) -> int:
        with self._db.transaction() as session:
            return modals_repo.forget_before(session, now - KEEP)
