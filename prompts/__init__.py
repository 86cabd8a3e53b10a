"""LLM prompt templates: each a versioned text file beside the JSON schema of its answer.

A template file starts with a ``version:`` line, then the system part and the user part,
separated by a line ``=== user ===``. ``{placeholders}`` in the user part are filled with
``str.format``; the evidence goes in already rendered and delimited by the caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

SEPARATOR = "=== user ==="


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    system: str
    user_template: str
    schema: dict[str, Any]

    def user(self, **values: str) -> str:
        return self.user_template.format(**values)


def load_prompt(name: str) -> Prompt:
    folder = resources.files(__name__)
    text = folder.joinpath(f"{name}.txt").read_text(encoding="utf-8")
    schema = json.loads(folder.joinpath(f"{name}.schema.json").read_text(encoding="utf-8"))
    first, _, rest = text.partition("\n")
    if not first.startswith("version:"):
        raise ValueError(f"prompts/{name}.txt must start with a 'version:' line")
    system, separator, user = rest.partition(f"\n{SEPARATOR}\n")
    if not separator:
        raise ValueError(f"prompts/{name}.txt has no '{SEPARATOR}' line")
    return Prompt(
        name=name,
        version=first.removeprefix("version:").strip(),
        system=system.strip(),
        user_template=user.strip(),
        schema=schema,
    )
