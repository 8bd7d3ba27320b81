"""Per-subject state with a bound: the least recently used subject goes first.

Nodes and bridges keep state per subject (a filter, an encoder, a frame counter), and
the subject is a free string in every message: without a bound, a stream of new subject
names (a bug upstream, or a hostile publisher) grows a node's memory until it dies.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

DEFAULT_MAX_SUBJECTS = 64


class LruDict(OrderedDict):
    """A dict of at most ``limit`` keys; setting a new key past the limit evicts the least
    recently set or ``use``d one (``pinned`` keys never), calling ``on_evict(key, value)``."""

    def __init__(self, limit: int = DEFAULT_MAX_SUBJECTS,
                 on_evict: Callable[[Any, Any], Any] | None = None,
                 pinned: Iterable[Hashable] = ()) -> None:
        super().__init__()
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self.on_evict = on_evict
        self.pinned = set(pinned)
        self.evicted = 0

    def use(self, key: Hashable, default: Any = None) -> Any:
        """The value of ``key`` (``default`` when absent), marked as recently used."""
        if key not in self:
            return default
        self.move_to_end(key)
        return super().__getitem__(key)

    def __setitem__(self, key: Hashable, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.limit:
            self._evict()

    def _evict(self) -> None:
        for old in list(self.keys()):
            if len(self) <= self.limit:
                return
            if old in self.pinned:
                continue
            value = self.pop(old)
            self.evicted += 1
            if self.on_evict is not None:
                self.on_evict(old, value)
