"""What a read made of the database, remembered until what it was read from changes.

A read that costs as much as the rows it reads (a person's growth, their App Home snapshot) is
made again only when a cheap check of those rows (a count, a sum of ids, the latest change: a
"mark") moves, so rendering the same person twice costs the check, however many rows there are.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Remembered(Generic[K, V]):
    """Per key, the latest value and the mark it was read at: the ``size`` most recently used
    keys. Safe to share between threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[K, tuple[Hashable, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, mark: Hashable) -> V | None:
        """The value remembered for ``key`` if it was read at ``mark``, else None."""
        with self._lock:
            found = self._values.get(key)
            if found is None or found[0] != mark:
                return None
            self._values.move_to_end(key)
            return found[1]

    def put(self, key: K, mark: Hashable, value: V) -> None:
        with self._lock:
            self._values[key] = (mark, value)
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
