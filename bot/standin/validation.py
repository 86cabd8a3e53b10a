"""Block Kit payload validation, standing in for the checks Slack's servers run.

The fake Web API (:mod:`bot.standin.webapi`) rejects every message and view that
real Slack would reject, so a test that passes against the fake does not fail in
production with ``invalid_blocks`` / ``invalid_arguments``.

Two layers are applied:

1. slack_sdk's own models: ``Block.parse(...)`` must recognise the block and
   ``.to_dict()`` (which runs every ``JsonValidator`` recursively) must not raise;
   views go through ``View(**view).validate_json()`` / ``.to_dict()``.
2. A deep walk for the limits slack_sdk does not check (or checks only on some
   element classes): text lengths per context, option lengths everywhere, option
   counts per element, ``block_id`` uniqueness, ``action_id`` uniqueness within a
   block, unknown fields, empty texts, modal ``submit`` requirement, and so on.

Every error is a string ending in a Slack-style JSON pointer, e.g.
``"must be at most 75 characters: 'Approve the whole…' [json-pointer:/blocks/2/elements/0/text/text]"``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from slack_sdk.models.blocks import Block, BlockElement
from slack_sdk.models.views import View

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
MESSAGE_TEXT_MAX = 40000
TEXT_OBJECT_MAX = 3000
SECTION_TEXT_MAX = 3000
SECTION_FIELD_MAX = 2000
SECTION_FIELDS_MAX_COUNT = 10
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTION_DESCRIPTION_MAX = 75
OPTION_GROUP_LABEL_MAX = 75
PLACEHOLDER_MAX = 150
LABEL_MAX = 2000
HINT_MAX = 2000
STATIC_SELECT_MAX_OPTIONS = 100
RADIO_CHECKBOX_MAX_OPTIONS = 10
OVERFLOW_MIN_OPTIONS = 2
OVERFLOW_MAX_OPTIONS = 5
ACTIONS_MAX_ELEMENTS = 25
CONTEXT_MAX_ELEMENTS = 10
PLAIN_TEXT_INPUT_MAX_LENGTH = 3000
ID_MAX = 255
VIEW_TITLE_MAX = 24
VIEW_BUTTON_MAX = 24
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30

TEXT_OBJECT_TYPES = frozenset({"plain_text", "mrkdwn"})
SELECT_WITH_OPTIONS = frozenset({"static_select", "multi_static_select"})
SMALL_OPTION_LISTS = frozenset({"radio_buttons", "checkboxes"})
#: Elements that may sit in an ``input`` block (slack_sdk's InputInteractiveElement family).
INPUT_ELEMENT_TYPES = frozenset(
    {
        "plain_text_input",
        "email_text_input",
        "url_text_input",
        "number_input",
        "rich_text_input",
        "file_input",
        "static_select",
        "multi_static_select",
        "external_select",
        "multi_external_select",
        "users_select",
        "multi_users_select",
        "conversations_select",
        "multi_conversations_select",
        "channels_select",
        "multi_channels_select",
        "datepicker",
        "timepicker",
        "datetimepicker",
        "radio_buttons",
        "checkboxes",
    }
)


def _preview(text: str, width: int = 30) -> str:
    return repr(text if len(text) <= width else text[: width - 1] + "…")


class _Walker:
    """Collects errors while walking one message's blocks or one view."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.block_ids: dict[str, str] = {}

    def err(self, path: str, message: str) -> None:
        self.errors.append(f"{message} [json-pointer:{path}]")

    # -- text objects -----------------------------------------------------------------

    def text_object(
        self,
        obj: Any,
        path: str,
        *,
        max_len: int = TEXT_OBJECT_MAX,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        if obj is None:
            if required:
                self.err(path, "must provide a text object")
            return
        if isinstance(obj, str):
            # slack_sdk accepts bare strings in some builders; Slack's API does not.
            self.err(path, 'must be a text object ({"type": "plain_text", "text": ...}), not a string')
            return
        if not isinstance(obj, dict):
            self.err(path, "must be a text object")
            return
        ttype = obj.get("type")
        if ttype not in TEXT_OBJECT_TYPES:
            self.err(f"{path}/type", f"must be 'plain_text' or 'mrkdwn', got {ttype!r}")
            return
        if plain_only and ttype != "plain_text":
            self.err(f"{path}/type", "must be 'plain_text'")
        text = obj.get("text")
        if not isinstance(text, str):
            self.err(f"{path}/text", "must be a string")
            return
        if len(text) == 0:
            self.err(f"{path}/text", "must be more than 0 characters")
        elif len(text) > max_len:
            self.err(
                f"{path}/text", f"must be at most {max_len} characters (got {len(text)}): {_preview(text)}"
            )

    # -- ids ------------------------------------------------------------------------

    def block_id(self, block: dict[str, Any], path: str) -> None:
        if "block_id" not in block:
            return
        bid = block["block_id"]
        if not isinstance(bid, str) or bid == "":
            self.err(f"{path}/block_id", "must be a non-empty string")
            return
        if len(bid) > ID_MAX:
            self.err(f"{path}/block_id", f"must be at most {ID_MAX} characters")
        if bid in self.block_ids:
            self.err(f"{path}/block_id", f"duplicate block_id {bid!r} (also at {self.block_ids[bid]})")
        else:
            self.block_ids[bid] = path

    def action_id(self, element: dict[str, Any], path: str, seen: dict[str, str]) -> None:
        """``action_id`` must be <= 255 chars and unique within its containing block."""
        if "action_id" not in element:
            return
        aid = element["action_id"]
        if not isinstance(aid, str) or aid == "":
            self.err(f"{path}/action_id", "must be a non-empty string")
            return
        if len(aid) > ID_MAX:
            self.err(f"{path}/action_id", f"must be at most {ID_MAX} characters")
        if aid in seen:
            self.err(
                f"{path}/action_id", f"duplicate action_id {aid!r} in the same block (also at {seen[aid]})"
            )
        else:
            seen[aid] = path

    # -- options ----------------------------------------------------------------------

    def option(self, opt: Any, path: str, *, plain_only: bool) -> None:
        if not isinstance(opt, dict):
            self.err(path, "must be an option object")
            return
        self.text_object(opt.get("text"), f"{path}/text", max_len=OPTION_TEXT_MAX, plain_only=plain_only)
        value = opt.get("value")
        if not isinstance(value, str) or value == "":
            self.err(f"{path}/value", "must be a non-empty string")
        elif len(value) > OPTION_VALUE_MAX:
            self.err(f"{path}/value", f"must be at most {OPTION_VALUE_MAX} characters: {_preview(value)}")
        if "description" in opt:
            self.text_object(
                opt["description"],
                f"{path}/description",
                max_len=OPTION_DESCRIPTION_MAX,
                plain_only=plain_only,
            )
        extra = set(opt) - {"text", "value", "description", "url"}
        if extra:
            self.err(path, f"unknown option field(s) {sorted(extra)}")

    def options_of(self, element: dict[str, Any], path: str) -> None:
        etype = element.get("type", "")
        plain_only = etype not in SMALL_OPTION_LISTS
        options = element.get("options")
        if options is not None:
            if not isinstance(options, list):
                self.err(f"{path}/options", "must be an array")
            else:
                if etype in SELECT_WITH_OPTIONS and len(options) > STATIC_SELECT_MAX_OPTIONS:
                    self.err(f"{path}/options", f"must have at most {STATIC_SELECT_MAX_OPTIONS} items")
                if etype in SMALL_OPTION_LISTS and len(options) > RADIO_CHECKBOX_MAX_OPTIONS:
                    self.err(f"{path}/options", f"must have at most {RADIO_CHECKBOX_MAX_OPTIONS} items")
                if (etype in SMALL_OPTION_LISTS or etype in SELECT_WITH_OPTIONS) and len(options) == 0:
                    self.err(f"{path}/options", "must have at least 1 item")
                if etype == "overflow" and not OVERFLOW_MIN_OPTIONS <= len(options) <= OVERFLOW_MAX_OPTIONS:
                    self.err(
                        f"{path}/options",
                        f"must have between {OVERFLOW_MIN_OPTIONS} and {OVERFLOW_MAX_OPTIONS} items",
                    )
                values_seen: set[str] = set()
                for i, opt in enumerate(options):
                    self.option(opt, f"{path}/options/{i}", plain_only=plain_only)
                    value = opt.get("value") if isinstance(opt, dict) else None
                    if isinstance(value, str):
                        if value in values_seen:
                            self.err(f"{path}/options/{i}/value", f"duplicate option value {value!r}")
                        values_seen.add(value)
        groups = element.get("option_groups")
        if groups is not None:
            if not isinstance(groups, list):
                self.err(f"{path}/option_groups", "must be an array")
            else:
                if len(groups) > STATIC_SELECT_MAX_OPTIONS:
                    self.err(f"{path}/option_groups", f"must have at most {STATIC_SELECT_MAX_OPTIONS} items")
                for g, group in enumerate(groups):
                    gpath = f"{path}/option_groups/{g}"
                    if not isinstance(group, dict):
                        self.err(gpath, "must be an option group object")
                        continue
                    self.text_object(
                        group.get("label"), f"{gpath}/label", max_len=OPTION_GROUP_LABEL_MAX, plain_only=True
                    )
                    gopts = group.get("options")
                    if not isinstance(gopts, list) or not gopts:
                        self.err(f"{gpath}/options", "must be a non-empty array")
                        continue
                    if len(gopts) > STATIC_SELECT_MAX_OPTIONS:
                        self.err(f"{gpath}/options", f"must have at most {STATIC_SELECT_MAX_OPTIONS} items")
                    for i, opt in enumerate(gopts):
                        self.option(opt, f"{gpath}/options/{i}", plain_only=True)
        if "initial_option" in element:
            self.option(element["initial_option"], f"{path}/initial_option", plain_only=plain_only)
        if "initial_options" in element:
            initial = element["initial_options"]
            if not isinstance(initial, list):
                self.err(f"{path}/initial_options", "must be an array")
            else:
                for i, opt in enumerate(initial):
                    self.option(opt, f"{path}/initial_options/{i}", plain_only=plain_only)

    # -- elements ---------------------------------------------------------------------

    def confirm(self, confirm: Any, path: str) -> None:
        if not isinstance(confirm, dict):
            self.err(path, "must be a confirmation dialog object")
            return
        self.text_object(confirm.get("title"), f"{path}/title", max_len=CONFIRM_TITLE_MAX, plain_only=True)
        self.text_object(confirm.get("text"), f"{path}/text", max_len=CONFIRM_TEXT_MAX)
        self.text_object(
            confirm.get("confirm"), f"{path}/confirm", max_len=CONFIRM_BUTTON_MAX, plain_only=True
        )
        self.text_object(confirm.get("deny"), f"{path}/deny", max_len=CONFIRM_BUTTON_MAX, plain_only=True)

    def element(self, element: Any, path: str, seen_actions: dict[str, str]) -> None:
        if not isinstance(element, dict):
            self.err(path, "must be an element object")
            return
        etype = element.get("type")
        if not isinstance(etype, str):
            self.err(f"{path}/type", "is required")
            return
        if etype in TEXT_OBJECT_TYPES:
            self.text_object(element, path)
            return
        try:
            parsed = BlockElement.parse(element)
        except Exception as exc:  # slack_sdk raises TypeError & co. on malformed input
            self.err(path, f"invalid {etype} element: {exc}")
            return
        if parsed is None:
            self.err(f"{path}/type", f"unsupported element type {etype!r}")
            return
        unknown = set(element) - set(parsed.attributes)
        if unknown:
            self.err(path, f"unknown field(s) {sorted(unknown)} for a {etype} element")
        self.action_id(element, path, seen_actions)
        if "placeholder" in element:
            self.text_object(
                element["placeholder"], f"{path}/placeholder", max_len=PLACEHOLDER_MAX, plain_only=True
            )
        if "confirm" in element:
            self.confirm(element["confirm"], f"{path}/confirm")
        if etype == "button":
            self.text_object(element.get("text"), f"{path}/text", max_len=BUTTON_TEXT_MAX, plain_only=True)
            value = element.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > BUTTON_VALUE_MAX):
                self.err(f"{path}/value", f"must be a string of at most {BUTTON_VALUE_MAX} characters")
            url = element.get("url")
            if url is not None and (not isinstance(url, str) or len(url) > URL_MAX):
                self.err(f"{path}/url", f"must be a string of at most {URL_MAX} characters")
            style = element.get("style")
            if style is not None and style not in ("primary", "danger"):
                self.err(f"{path}/style", "must be 'primary' or 'danger'")
        if etype in ("plain_text_input", "email_text_input", "url_text_input"):
            for key in ("max_length", "min_length"):
                if key in element:
                    v = element[key]
                    if (
                        not isinstance(v, int)
                        or isinstance(v, bool)
                        or not 0 <= v <= PLAIN_TEXT_INPUT_MAX_LENGTH
                    ):
                        self.err(
                            f"{path}/{key}", f"must be an integer between 0 and {PLAIN_TEXT_INPUT_MAX_LENGTH}"
                        )
            mn, mx = element.get("min_length"), element.get("max_length")
            if isinstance(mn, int) and isinstance(mx, int) and mn > mx:
                self.err(f"{path}/min_length", "must not exceed max_length")
            initial = element.get("initial_value")
            if isinstance(initial, str) and isinstance(mx, int) and len(initial) > mx:
                self.err(f"{path}/initial_value", "must not exceed max_length")
        if any(k in element for k in ("options", "option_groups", "initial_option", "initial_options")):
            self.options_of(element, path)
        elif etype in SELECT_WITH_OPTIONS or etype in SMALL_OPTION_LISTS or etype == "overflow":
            self.err(f"{path}/options", "is required")

    # -- blocks -----------------------------------------------------------------------

    def block(self, block: Any, path: str, surface: str) -> None:
        if not isinstance(block, dict):
            self.err(path, "must be a block object")
            return
        btype = block.get("type")
        if not isinstance(btype, str):
            self.err(f"{path}/type", "is required")
            return
        try:
            parsed = Block.parse(block)
        except Exception as exc:
            self.err(path, f"invalid {btype} block: {exc}")
            return
        if parsed is None:
            self.err(f"{path}/type", f"unsupported block type {btype!r}")
            return
        before = len(self.errors)
        unknown = set(block) - set(parsed.attributes)
        if unknown:
            self.err(path, f"unknown field(s) {sorted(unknown)} for a {btype} block")
        self.block_id(block, path)
        seen_actions: dict[str, str] = {}
        if btype == "section":
            if "text" in block:
                self.text_object(block["text"], f"{path}/text", max_len=SECTION_TEXT_MAX)
            fields = block.get("fields")
            if fields is not None:
                if not isinstance(fields, list) or not fields:
                    self.err(f"{path}/fields", "must be a non-empty array")
                else:
                    if len(fields) > SECTION_FIELDS_MAX_COUNT:
                        self.err(f"{path}/fields", f"must have at most {SECTION_FIELDS_MAX_COUNT} items")
                    for i, field in enumerate(fields):
                        self.text_object(field, f"{path}/fields/{i}", max_len=SECTION_FIELD_MAX)
            if "text" not in block and fields is None:
                self.err(path, "a section block needs text or fields")
            if "accessory" in block:
                self.element(block["accessory"], f"{path}/accessory", seen_actions)
        elif btype == "header":
            self.text_object(block.get("text"), f"{path}/text", max_len=HEADER_TEXT_MAX, plain_only=True)
        elif btype == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.err(f"{path}/elements", "must be a non-empty array")
            else:
                if len(elements) > CONTEXT_MAX_ELEMENTS:
                    self.err(f"{path}/elements", f"must have at most {CONTEXT_MAX_ELEMENTS} items")
                for i, el in enumerate(elements):
                    epath = f"{path}/elements/{i}"
                    if isinstance(el, dict) and el.get("type") in TEXT_OBJECT_TYPES:
                        self.text_object(el, epath)
                    elif isinstance(el, dict) and el.get("type") == "image":
                        continue
                    else:
                        self.err(epath, "context elements must be text objects or images")
        elif btype == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.err(f"{path}/elements", "must be a non-empty array")
            else:
                if len(elements) > ACTIONS_MAX_ELEMENTS:
                    self.err(f"{path}/elements", f"must have at most {ACTIONS_MAX_ELEMENTS} items")
                for i, el in enumerate(elements):
                    self.element(el, f"{path}/elements/{i}", seen_actions)
        elif btype == "input":
            self.text_object(block.get("label"), f"{path}/label", max_len=LABEL_MAX, plain_only=True)
            if "hint" in block:
                self.text_object(block["hint"], f"{path}/hint", max_len=HINT_MAX, plain_only=True)
            element = block.get("element")
            if element is None:
                self.err(f"{path}/element", "is required")
            else:
                etype = element.get("type") if isinstance(element, dict) else None
                if etype not in INPUT_ELEMENT_TYPES:
                    self.err(f"{path}/element/type", f"{etype!r} cannot be used in an input block")
                self.element(element, f"{path}/element", seen_actions)
        if len(self.errors) == before:
            # Nothing found by the deep walk: let slack_sdk's own validators have the last word.
            try:
                parsed.to_dict()
            except Exception as exc:
                self.err(path, f"{btype} block: {exc}")

    def blocks(self, blocks: Any, path: str, *, surface: str) -> None:
        if not isinstance(blocks, list):
            self.err(path, "must be an array of blocks")
            return
        limit = MESSAGE_MAX_BLOCKS if surface == "message" else VIEW_MAX_BLOCKS
        if len(blocks) > limit:
            self.err(path, f"must have at most {limit} blocks (got {len(blocks)})")
        for i, block in enumerate(blocks):
            self.block(block, f"{path}/{i}", surface)


def validate_message_blocks(blocks: Any) -> list[str]:
    """Errors (empty when valid) for the ``blocks`` of a message, as Slack would report them."""
    walker = _Walker()
    walker.blocks(blocks, "/blocks", surface="message")
    return walker.errors


def validate_message_text(text: Any) -> list[str]:
    """Errors for a message's top-level ``text``."""
    if text is None:
        return []
    if not isinstance(text, str):
        return ["text must be a string [json-pointer:/text]"]
    if len(text) > MESSAGE_TEXT_MAX:
        return [f"text must be at most {MESSAGE_TEXT_MAX} characters (got {len(text)}) [json-pointer:/text]"]
    return []


def validate_view(view: Any, *, allowed_types: Collection[str] = ("modal", "home")) -> list[str]:
    """Errors (empty when valid) for a ``view`` argument of views.open/push/update/publish."""
    walker = _Walker()
    if not isinstance(view, dict):
        walker.err("/view", "must be a view object")
        return walker.errors
    vtype = view.get("type")
    if vtype not in allowed_types:
        walker.err("/view/type", f"must be one of {sorted(allowed_types)}, got {vtype!r}")
        return walker.errors
    # Slack's own view objects also carry app_installed_team_id; echoing it back is harmless.
    unknown = set(view) - set(View.attributes) - {"app_installed_team_id"}
    if unknown:
        walker.err("/view", f"unknown field(s) {sorted(unknown)}")
    if vtype == "modal":
        walker.text_object(view.get("title"), "/view/title", max_len=VIEW_TITLE_MAX, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                walker.text_object(view[key], f"/view/{key}", max_len=VIEW_BUTTON_MAX, plain_only=True)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and "submit" not in view:
            walker.err("/view/submit", "is required when the view contains input blocks")
    elif vtype == "home":
        for key in ("submit", "close"):
            if key in view:
                walker.err(f"/view/{key}", "is not allowed in a home tab view")
    pm = view.get("private_metadata")
    if pm is not None and (not isinstance(pm, str) or len(pm) > PRIVATE_METADATA_MAX):
        walker.err("/view/private_metadata", f"must be a string of at most {PRIVATE_METADATA_MAX} characters")
    cb = view.get("callback_id")
    if cb is not None and (not isinstance(cb, str) or len(cb) > CALLBACK_ID_MAX):
        walker.err("/view/callback_id", f"must be a string of at most {CALLBACK_ID_MAX} characters")
    if "blocks" not in view:
        walker.err("/view/blocks", "is required")
    else:
        walker.blocks(view["blocks"], "/view/blocks", surface=vtype)
    if not walker.errors:
        try:
            View(**view).to_dict()
        except Exception as exc:
            walker.err("/view", str(exc))
    return walker.errors
