"""How a server process's C allocator keeps its memory: set once, when the app is served.

A class's server builds pictures whose player data is one string of up to ~30 MB, and
Streamlit copies it into a message and a websocket frame on every rerun that sends it.
glibc's malloc serves a block that large with its own ``mmap`` and gives it back when it is
freed, but then raises its *mmap threshold* to that block's size (up to 32 MiB) and its
*trim threshold* to twice that: from then on every block under ~30 MB comes from the heaps
of its arenas (one per script thread, up to 8 per core), whose free space is kept up to
~60 MB each instead of going back to the system.  Measured on a 10-minute class run
(benchmarks/RESULTS.md, #14): the Streamlit processes' memory grew 20-25 % after the first
minute, most of it free space inside glibc's heaps (``mallinfo2``: 10 -> 46 MB free beside
35-37 MB in use).

:func:`tune` fixes both thresholds (which turns glibc's sliding thresholds off) and caps
the arenas, the ``mallopt`` equivalent of ``MALLOC_MMAP_THRESHOLD_=131072
MALLOC_TRIM_THRESHOLD_=131072 MALLOC_ARENA_MAX=2`` in the environment, for
``streamlit run app.py`` as well as ``convviz serve``.  Elsewhere (macOS, musl, Windows) it
does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

#: mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8

#: Blocks of at least this many bytes are mapped on their own and unmapped when freed
#: (glibc's initial value, kept fixed), and free space above it at the top of a heap is
#: given back.
THRESHOLD_BYTES = 128 * 1024

#: Arenas: the script threads of a process share these (the GIL lets one run at a time).
ARENAS = 2


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    # glibc only: musl and the others have no sliding thresholds to fix
    return libc if hasattr(libc, "gnu_get_libc_version") else None


def tune(libc=None) -> bool:
    """Fix glibc's mmap and trim thresholds at :data:`THRESHOLD_BYTES` and its arenas at
    :data:`ARENAS`; True when glibc took all three."""
    libc = libc or _libc()
    if libc is None:
        return False
    settings = ((M_MMAP_THRESHOLD, THRESHOLD_BYTES), (M_TRIM_THRESHOLD, THRESHOLD_BYTES),
                (M_ARENA_MAX, ARENAS))
    return all(libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) == 1
               for param, value in settings)
