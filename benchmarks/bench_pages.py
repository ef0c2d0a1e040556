"""How long each page's picture takes to build for its default settings (target: < 300 ms),
and how many bytes it sends.

Run ``python benchmarks/bench_pages.py [--repeats N]``. For every family page and every layer
on it, with the page's default widget values, this times (uncached, as on a first visit):

* ``build``: run the layer on its sample, trace it, and build the scene and the step
  player's payload with all of its frames and hover links (``convviz.viz.view.build``,
  ``LayerView.payload``);
* ``json``: serialise the payload as Streamlit does before sending it to the browser;

and prints the median of ``--repeats`` runs, the frame count and the payload size in bytes
(every channel, kernel and output is drawn: see ``convviz.viz.scene``). That payload is what
a widget change sends, once; a step change sends none of it (the player steps in the
browser and reports only the step). The largest configurations a page accepts are timed
too, to show what the size caps bound.
"""

from __future__ import annotations

import argparse
import json
import time

from convviz.demo import Spec
from convviz.viz import schema, view


def median_ms(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return sorted(times)[len(times) // 2]


def measure(spec: Spec, repeats: int, **options) -> dict:
    v = view.build(spec, **options)
    if v.error:
        raise SystemExit(f"{spec}: {v.error}")
    build_ms = median_ms(lambda: view.build(spec, **options).payload(), repeats)
    payload = json.dumps(v.payload())
    json_ms = median_ms(lambda: json.dumps(v.payload()), repeats)
    return {"build": build_ms, "json": json_ms, "frames": len(v.frames),
            "bytes": len(payload.encode())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    view.build(Spec("Conv2D", {"filters": 1, "kernel_size": 3}, (5, 5)))  # warm imports
    print(f"{'page':<12} {'layer':<18} {'build ms':>9} {'json ms':>8} {'frames':>7} "
          f"{'bytes':>9}")
    worst = 0.0
    for key, fam in schema.FAMILY_PAGES.items():
        for layer in fam.layers:
            spec = schema.spec_from_values(fam, {**fam.defaults(), "layer": layer})
            r = measure(spec, args.repeats)
            worst = max(worst, r["build"] + r["json"])
            print(f"{key:<12} {layer:<18} {r['build']:9.1f} {r['json']:8.1f} "
                  f"{r['frames']:7d} {r['bytes']:9d}")
    print(f"summary: slowest default page picture {worst:.0f} ms (build + json); target < 300 ms")
    print("\nlargest accepted sizes (frames capped at 300, 120 for 3D):")
    for spec in (Spec("Conv2D", {"filters": 1, "kernel_size": 3, "padding": "same"}, (32, 32)),
                 Spec("Conv3D", {"filters": 1, "kernel_size": 3, "padding": "same"},
                      (12, 12, 12)),
                 Spec("Conv1D", {"filters": 1, "kernel_size": 7, "padding": "same"}, (64,))):
        r = measure(spec, max(1, args.repeats // 3))
        print(f"{spec.name:<10} {str(spec.spatial):<14} build {r['build']:7.1f} ms, "
              f"json {r['json']:6.1f} ms, {r['frames']} frames, {r['bytes']} bytes")


if __name__ == "__main__":
    main()
