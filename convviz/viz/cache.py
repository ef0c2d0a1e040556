"""A process-wide cache of built pictures, bounded by count and by bytes (no streamlit).

A layer view grows after it is built: drawing it keeps the player's payload texts and
the frames with its scene. A class changing settings for ten minutes drifts to bigger
pictures, so a cache bounded only by its number of entries grows with them (measured:
the Streamlit processes' memory +20 % between the first and the tenth minute with 16
views each). :class:`SizedCache` also counts the bytes its entries hold, measured when
one is made and again, for the most recently used ones, whenever another is made; it
drops the least recently used entries to stay within both bounds.
"""

from __future__ import annotations

import collections
import gc
import sys
import threading
import types
from collections.abc import Callable, Hashable

#: What a size walk does not enter: code and types are shared by the whole process.
_SHARED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
           types.CodeType, types.MethodDescriptorType, types.WrapperDescriptorType)


def deep_nbytes(obj) -> int:
    """Bytes held by ``obj`` and everything it refers to (arrays' data included), not
    counting modules, classes and functions, each object once."""
    seen, stack, total = set(), [obj], 0
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, _SHARED):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)  # an ndarray that owns its data counts the data
        stack.extend(gc.get_referents(o))
    return total


class SizedCache:
    """``make(*key)``, kept for the next call with the same key: at most ``max_entries``
    entries and ``max_bytes`` bytes (:func:`deep_nbytes`; the newest entry is kept even
    when it alone is bigger). Thread-safe; a key made by two threads at once is made
    twice and kept once."""

    #: Entries re-measured at each miss: the most recently used, those drawn since.
    REMEASURE = 2

    def __init__(self, make: Callable, max_entries: int, max_bytes: int):
        self.make, self.max_entries, self.max_bytes = make, max_entries, max_bytes
        self._items: collections.OrderedDict[Hashable, list] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """Bytes of the entries, as last measured."""
        with self._lock:
            return sum(size for _, size in self._items.values())

    def get(self, *key):
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                return item[0]
            recent = list(self._items.values())[-self.REMEASURE:]
        for item in recent:  # outside the lock: a walk takes milliseconds
            item[1] = deep_nbytes(item[0])
        value = self.make(*key)
        size = deep_nbytes(value)
        with self._lock:
            self._items[key] = [value, size]
            self._items.move_to_end(key)
            total = sum(s for _, s in self._items.values())
            while len(self._items) > 1 and (len(self._items) > self.max_entries
                                            or total > self.max_bytes):
                _, (_, old) = self._items.popitem(last=False)
                total -= old
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
