"""A trace (the geometry an animation needs) must cost less than one forward pass.

Run from the repository root::

    python benchmarks/bench_trace.py [--repeats N]

Times ``convviz.Conv2D(64, 3, padding="same").trace((None, 224, 224, 3))`` plus
``.step(i)`` for a few ``i`` (first, middle, last and two others), against one forward pass
of the same layer on a (8, 224, 224, 3) float32 batch, and prints both medians and their
ratio.  The requirement: the trace is faster than the forward pass.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_engine import median_time  # noqa: E402  (same warm-up + median timer)

import convviz  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7, help="timed runs (median)")
    args = ap.parse_args(argv)

    layer = convviz.Conv2D(64, 3, padding="same")
    layer.build((None, 224, 224, 3))
    x = np.random.default_rng(0).standard_normal((8, 224, 224, 3), dtype=np.float32)

    def trace():
        tr = layer.trace((None, 224, 224, 3))
        n = len(tr)
        for i in (0, 1, n // 2, n - 2, n - 1):
            tr.step(i)
        return tr

    tr = trace()
    t_trace = median_time(trace, args.repeats)
    t_fwd = median_time(lambda: layer(x), args.repeats)
    print(f"Conv2D(64, 3, padding='same'): trace((None, 224, 224, 3)) ({len(tr)} steps) "
          f"+ 5 x step(i)")
    print(f"  trace + steps : {t_trace * 1e3:9.3f} ms (median of {args.repeats})")
    print(f"  forward (8, 224, 224, 3) float32: {t_fwd * 1e3:9.3f} ms (median of {args.repeats})")
    verdict = "OK: trace is faster" if t_trace < t_fwd else "FAIL: trace is slower"
    print(f"  ratio trace / forward = {t_trace / t_fwd:.4f}  -> {verdict}")


if __name__ == "__main__":
    main()
