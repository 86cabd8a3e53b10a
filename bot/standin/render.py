"""What a person sees in Slack, as plain text: stands in for the Slack client's renderer.

Used by ``brickwork demo`` to print messages, modals and the Home tab in a terminal,
and by tests that want to assert on the visible wording rather than on Block Kit JSON.

The rendering is deliberately simple and stable:

* header -> the text, underlined with ``=``;
* section -> its text, then one line per field; an accessory goes at the end of the last line;
* context -> the texts joined with `` · `` (images skipped);
* divider -> ``———``;
* actions -> ``[ Button label ]`` pieces (selects as ``[ Placeholder ▾ ]``);
* input -> ``Label: <value or ____>``; radio buttons as ``(•) Yes  ( ) Partly``,
  checkboxes as ``[x] A  [ ] B``, selects as ``value ▾ (A / B / C)``;
* images, files and videos are skipped.

mrkdwn is converted minimally: ``<@U123>`` -> ``@name`` (using ``names`` when given),
``<#C1|general>`` -> ``#general``, ``<!here>`` -> ``@here``, ``<url|label>`` -> ``label (url)``,
and ``&lt;`` / ``&gt;`` / ``&amp;`` are unescaped. All functions are pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Names = Callable[[str], str]

DIVIDER = "———"
BLANK = "____"
MAX_LISTED_OPTIONS = 8
_ANGLE = re.compile(r"<([^<>\n]+)>")


def mrkdwn_to_text(text: str, names: Names | None = None) -> str:
    """Convert Slack mrkdwn to readable plain text (mentions, links, escapes)."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            if label:
                return "@" + label.lstrip("@")
            uid = target[1:]
            return "@" + (names(uid) if names is not None else uid)
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            if label:
                return label
            keyword = target[1:].split("^", 1)[0]
            return "@" + keyword if keyword in ("here", "channel", "everyone") else keyword
        if label:
            shown = target.removeprefix("mailto:")
            return label if label == shown else f"{label} ({target})"
        return target.removeprefix("mailto:")

    converted = _ANGLE.sub(replace, text)
    return converted.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def text_of(obj: Any, names: Names | None = None) -> str:
    """The visible text of a text object (mrkdwn converted) or of a bare string."""
    if isinstance(obj, Mapping):
        text = str(obj.get("text") or "")
        return mrkdwn_to_text(text, names) if obj.get("type") == "mrkdwn" else text
    if isinstance(obj, str):
        return obj
    return ""


def blocks_to_text(blocks: Sequence[Mapping[str, Any]], names: Names | None = None) -> str:
    """Render a list of blocks as the lines a person would read."""
    lines: list[str] = []
    for block in blocks:
        lines.extend(_block_lines(block, names))
    return "\n".join(lines)


def message_to_text(message: Mapping[str, Any], names: Names | None = None) -> str:
    """Render a stored message: its blocks, or its ``text`` when it has no blocks."""
    blocks = message.get("blocks") or []
    if blocks:
        return blocks_to_text(blocks, names)
    return mrkdwn_to_text(str(message.get("text") or ""), names)


def view_to_text(view: Mapping[str, Any], names: Names | None = None) -> str:
    """Render a modal (title, blocks, close/submit buttons) or a Home tab."""
    lines: list[str] = []
    if view.get("type") == "home":
        lines.append("== Home ==")
    else:
        lines.append(f"== {text_of(view.get('title')) or 'Modal'} ==")
    body = blocks_to_text(view.get("blocks") or [], names)
    if body:
        lines.append(body)
    if view.get("type") != "home":
        buttons = [f"[ {text_of(view.get('close')) or 'Cancel'} ]"]
        if view.get("submit"):
            buttons.append(f"[ {text_of(view.get('submit'))} ]")
        lines.append("  ".join(buttons))
    return "\n".join(lines)


def _block_lines(block: Mapping[str, Any], names: Names | None) -> list[str]:
    btype = block.get("type")
    if btype == "header":
        title = text_of(block.get("text"))
        return [title, "=" * len(title)]
    if btype == "section":
        lines = text_of(block.get("text"), names).split("\n") if block.get("text") else []
        lines.extend(text_of(f, names) for f in block.get("fields") or [])
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping) and accessory.get("type") != "image":
            piece = _element_text(accessory, names, in_input=False)
            if lines:
                lines[-1] = f"{lines[-1]}  {piece}"
            else:
                lines = [piece]
        return lines
    if btype == "context":
        parts = [
            text_of(el, names)
            for el in block.get("elements") or []
            if isinstance(el, Mapping) and el.get("type") in ("plain_text", "mrkdwn")
        ]
        return [" · ".join(parts)] if parts else []
    if btype == "divider":
        return [DIVIDER]
    if btype == "actions":
        pieces = [_element_text(el, names, in_input=False) for el in block.get("elements") or []]
        return ["  ".join(p for p in pieces if p)]
    if btype == "input":
        label = text_of(block.get("label"))
        if block.get("optional"):
            label += " (optional)"
        element = block.get("element")
        value = _element_text(element, names, in_input=True) if isinstance(element, Mapping) else BLANK
        lines = [f"{label}: {value}"]
        if block.get("hint"):
            lines.append(f"  ({text_of(block.get('hint'))})")
        return lines
    if btype == "rich_text":
        return _rich_text(block.get("elements") or [], names).split("\n")
    if btype == "markdown":
        return str(block.get("text") or "").split("\n")
    return []  # image, file, video, unknown: nothing to read


def _element_text(element: Mapping[str, Any], names: Names | None, *, in_input: bool) -> str:
    etype = element.get("type")
    placeholder = text_of(element.get("placeholder"))
    if etype == "button":
        return f"[ {text_of(element.get('text'))} ]"
    if etype == "overflow":
        return "[ ⋯ ]"
    if etype == "radio_buttons":
        chosen = (element.get("initial_option") or {}).get("value")
        return "  ".join(
            f"({'•' if o.get('value') == chosen else ' '}) {text_of(o.get('text'), names)}"
            for o in element.get("options") or []
        )
    if etype == "checkboxes":
        chosen_values = {o.get("value") for o in element.get("initial_options") or []}
        return "  ".join(
            f"[{'x' if o.get('value') in chosen_values else ' '}] {text_of(o.get('text'), names)}"
            for o in element.get("options") or []
        )
    if etype in ("static_select", "external_select", "multi_static_select", "multi_external_select"):
        initial = element.get("initial_options") or (
            [element["initial_option"]] if element.get("initial_option") else []
        )
        current = ", ".join(text_of(o.get("text")) for o in initial)
        if not in_input:
            return f"[ {current or placeholder or 'Select'} ▾ ]"
        options = [text_of(o.get("text")) for o in _options(element)]
        listed = " / ".join(options[:MAX_LISTED_OPTIONS]) + (
            " / …" if len(options) > MAX_LISTED_OPTIONS else ""
        )
        return f"{current or BLANK} ▾" + (f" ({listed})" if listed else "")
    if etype in ("users_select", "multi_users_select"):
        users = element.get("initial_users") or (
            [element["initial_user"]] if element.get("initial_user") else []
        )
        current = ", ".join("@" + (names(u) if names is not None else u) for u in users)
        return current or (BLANK if in_input else f"[ {placeholder or 'Select a person'} ▾ ]")
    if etype in (
        "conversations_select",
        "channels_select",
        "multi_conversations_select",
        "multi_channels_select",
    ):
        chosen = (
            element.get("initial_conversations")
            or element.get("initial_channels")
            or [c for c in (element.get("initial_conversation"), element.get("initial_channel")) if c]
        )
        current = ", ".join("#" + str(c) for c in chosen)
        return current or (BLANK if in_input else f"[ {placeholder or 'Select a channel'} ▾ ]")
    if etype in ("datepicker", "timepicker"):
        current = str(element.get("initial_date") or element.get("initial_time") or "")
        return current or (BLANK if in_input else f"[ {placeholder or 'Pick a date'} ]")
    if etype in ("plain_text_input", "email_text_input", "url_text_input", "number_input"):
        initial = element.get("initial_value")
        return str(initial) if initial not in (None, "") else BLANK
    if etype == "rich_text_input":
        initial = element.get("initial_value")
        text = _rich_text(initial.get("elements") or [], names) if isinstance(initial, Mapping) else ""
        return text or BLANK
    return BLANK if in_input else ""


def _options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _rich_text(elements: Sequence[Any], names: Names | None) -> str:
    """Flatten rich_text elements (sections, lists, quotes, preformatted) to text."""
    out: list[str] = []
    for element in elements:
        if not isinstance(element, Mapping):
            continue
        etype = element.get("type")
        if etype == "rich_text_list":
            for item in element.get("elements") or []:
                out.append("• " + _rich_text([item], names))
        elif etype in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
            prefix = "> " if etype == "rich_text_quote" else ""
            out.append(prefix + "".join(_rich_leaf(leaf, names) for leaf in element.get("elements") or []))
        else:
            out.append(_rich_leaf(element, names))
    return "\n".join(out)


def _rich_leaf(leaf: Any, names: Names | None) -> str:
    if not isinstance(leaf, Mapping):
        return ""
    ltype = leaf.get("type")
    if ltype == "text":
        return str(leaf.get("text") or "")
    if ltype == "user":
        uid = str(leaf.get("user_id") or "")
        return "@" + (names(uid) if names is not None else uid)
    if ltype == "channel":
        return "#" + str(leaf.get("channel_id") or "")
    if ltype == "link":
        url = str(leaf.get("url") or "")
        label = leaf.get("text")
        return f"{label} ({url})" if label else url
    if ltype == "emoji":
        return f":{leaf.get('name')}:"
    if ltype == "broadcast":
        return "@" + str(leaf.get("range") or "")
    return str(leaf.get("text") or "")
