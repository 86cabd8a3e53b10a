"""Reading what Slack sends back: typed ``private_metadata``, button values and modal state.

Everything here is attacker-controlled, even in a signed request (Slack's client would never
send most of what a forged payload can hold), so each is parsed here and nowhere else, strictly:
metadata must be exactly what we wrote (ids within the database's range), a button's value a
number we could have put there, and each input of a form the element we built for it — a
text field that arrives as checkboxes is refused, not guessed at. A refusal is a
``FormRefused`` (a ``BrickworkError``): the person reads a clear sentence, nothing is stored.
What the values *mean* (may this person rate that one?) is for the services to decide.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from bot.errors import BrickworkError
from bot.text import SLACK_USER_ID_PATTERN, is_slack_user_id
from handlers.ids import ActionId
from storage.models import ABOUT_MAX

M = TypeVar("M", bound=BaseModel)

DB_ID_MAX = 2**31 - 1  # the largest id an INTEGER column holds
DbId = Annotated[int, Field(ge=1, le=DB_ID_MAX)]
SlackUserId = Annotated[str, StringConstraints(pattern=SLACK_USER_ID_PATTERN)]
OUT_OF_DATE = "This form or button is out of date (or was not made by Brickwork), so nothing was done."
_DB_ID = re.compile(r"^[1-9][0-9]{0,9}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class FormRefused(BrickworkError):
    """Metadata, a button value or a form field that Brickwork did not make."""

    def __init__(self, message: str = OUT_OF_DATE) -> None:
        super().__init__(message)


MetadataError = FormRefused  # private_metadata we did not write (or an older app version wrote)


class _Meta(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NewProjectMeta(_Meta):
    """The "New project" form carries nothing but the proof that we made it."""


class DebriefFormMeta(_Meta):
    project_id: DbId
    subject_id: DbId


class FeedbackFormMeta(_Meta):
    subject_id: DbId
    request_id: DbId | None = None
    about: Annotated[str, StringConstraints(max_length=ABOUT_MAX)] = ""


class ReportMeta(_Meta):
    subject_slack_id: SlackUserId


class ForgetMeta(_Meta):
    """The admin's "Forget a person" confirmation: whom it is about."""

    subject_slack_id: SlackUserId


class RequestMeta(_Meta):
    request_id: DbId


class DraftMeta(_Meta):
    draft_id: DbId


class SelfMeta(_Meta):
    """Rating oneself: on a project (from its debrief DM), or not."""

    project_id: DbId | None = None


def dump_metadata(meta: BaseModel) -> str:
    return meta.model_dump_json()


def parse_metadata(view: Mapping[str, Any], model: type[M]) -> M:
    try:
        return model.model_validate_json(view.get("private_metadata") or "{}")
    except ValidationError:
        raise FormRefused() from None  # the details would quote the forged value: not in a log


def db_id(value: Any) -> int:
    """A button value that names a row: a whole number our database could hold, or a refusal."""
    if isinstance(value, str) and _DB_ID.fullmatch(value) and int(value) <= DB_ID_MAX:
        return int(value)
    raise FormRefused()


def db_id_pair(value: Any) -> tuple[int, int]:
    """``"<a>:<b>"`` (a debrief button: project and person) as two ids, or a refusal."""
    first, sep, second = value.partition(":") if isinstance(value, str) else ("", "", "")
    if not sep:
        raise FormRefused()
    return db_id(first), db_id(second)


# ---------------------------------------------------------------------------------------
# Modal state
# ---------------------------------------------------------------------------------------


class Input(enum.Enum):
    """The kinds of input our modals use, each with the element types Slack may report for it."""

    TEXT = ("plain_text_input",)
    CHOICE = ("static_select", "radio_buttons")
    CHOICES = ("checkboxes", "multi_static_select")
    USER = ("users_select",)
    USERS = ("multi_users_select",)
    DATE = ("datepicker",)


def read_form(view: Mapping[str, Any], spec: Mapping[str, Input]) -> dict[str, Any]:
    """The inputs named in ``spec`` (block id -> kind), each as a plain value: ``TEXT`` a str
    (``""`` when empty), ``CHOICE``/``USER`` a str or None, ``CHOICES``/``USERS`` a list of str,
    ``DATE`` a ``date`` or None. An input that is missing reads as empty (the service then
    says which field to fill); one whose element or value has the wrong type is refused."""
    state = view.get("state") or {}
    values = (state.get("values") if isinstance(state, Mapping) else None) or {}
    if not isinstance(state, Mapping) or not isinstance(values, Mapping):
        raise FormRefused()
    return {block_id: _read(values.get(block_id), kind) for block_id, kind in spec.items()}


def _read(block: Any, kind: Input) -> Any:
    element = block.get(ActionId.INPUT.value) if isinstance(block, Mapping) else None
    if element is None:
        return _empty(kind)
    if not isinstance(element, Mapping) or element.get("type") not in kind.value:
        raise FormRefused()
    if kind is Input.TEXT:
        return _str_or_none(element.get("value")) or ""
    if kind is Input.CHOICE:
        option = element.get("selected_option")
        if option is None:
            return None
        if not isinstance(option, Mapping):
            raise FormRefused()
        return _str_or_none(option.get("value"), required=True)
    if kind is Input.CHOICES:
        options = element.get("selected_options") or []
        if not isinstance(options, list) or not all(isinstance(o, Mapping) for o in options):
            raise FormRefused()
        return [_str_or_none(o.get("value"), required=True) for o in options]
    if kind is Input.USER:
        user = element.get("selected_user")
        if user is None:
            return None
        return _user_id(user)
    if kind is Input.USERS:
        users = element.get("selected_users") or []
        if not isinstance(users, list) or len(users) > 100:
            raise FormRefused()
        return [_user_id(u) for u in users]
    chosen = element.get("selected_date")
    if chosen is None:
        return None
    if not isinstance(chosen, str) or not _DATE.fullmatch(chosen):
        raise FormRefused()
    try:
        return date.fromisoformat(chosen)
    except ValueError:
        raise FormRefused() from None


def _empty(kind: Input) -> Any:
    return {Input.TEXT: "", Input.CHOICES: [], Input.USERS: []}.get(kind)


def _str_or_none(value: Any, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > 12_000:
        raise FormRefused()
    return value


def _user_id(value: Any) -> str:
    if not is_slack_user_id(value):
        raise FormRefused()
    return value
