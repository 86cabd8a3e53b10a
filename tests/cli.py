"""Running ``brickwork`` as a user does: a separate process (started warm: ``tests/warm.py``)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests import warm


def brickwork(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``brickwork ARGS`` with exactly ``env`` on top of a clean environment."""
    base = {
        k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}
    }
    return warm.run(args, env={**base, **(env or {})}, cwd=cwd, timeout=timeout)
