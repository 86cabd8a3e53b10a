"""Reading what Slack sends back: typed private_metadata and flattened modal state.

Both are parsed here and nowhere else.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class NewProjectMeta(BaseModel):
    channel_id: str | None = None


class DebriefFormMeta(BaseModel):
    project_id: int
    subject_id: int


class FeedbackFormMeta(BaseModel):
    subject_id: int
    request_id: int | None = None
    about: str = ""


class ReportMeta(BaseModel):
    subject_slack_id: str


class RequestMeta(BaseModel):
    request_id: int


class DraftMeta(BaseModel):
    draft_id: int


class MetadataError(ValueError):
    """private_metadata we did not write (or an older app version wrote)."""


def dump_metadata(meta: BaseModel) -> str:
    return meta.model_dump_json()


def parse_metadata(view: dict[str, Any], model: type[M]) -> M:
    try:
        return model.model_validate_json(view.get("private_metadata") or "{}")
    except ValidationError as error:
        raise MetadataError(str(error)) from None


def flatten_state(view: dict[str, Any]) -> dict[str, Any]:
    """``state.values`` as {block_id: plain value}: str, list, date string or None."""
    flat: dict[str, Any] = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        for element in actions.values():
            flat[block_id] = _element_value(element)
    return flat


def _element_value(element: dict[str, Any]) -> Any:
    kind = element.get("type")
    if kind in {"static_select", "radio_buttons", "external_select"}:
        option = element.get("selected_option")
        return option.get("value") if option else None
    if kind == "checkboxes" or kind == "multi_static_select":
        return [o.get("value") for o in element.get("selected_options") or []]
    if kind == "users_select":
        return element.get("selected_user")
    if kind == "multi_users_select":
        return list(element.get("selected_users") or [])
    if kind == "datepicker":
        return element.get("selected_date")
    return element.get("value")


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def as_int(value: Any) -> int | None:
    try:
        return int(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
    except ValueError:
        return None
