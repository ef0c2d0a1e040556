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
    heavy(max(1, args.repeats // 3))


#: The settings the classroom benchmark's ``anywhere`` walk drifts to (page, link query):
#: many channels and filters at the largest sizes, the costliest first draws it found.
HEAVY = (
    ("convolution", "layer=Conv2D&n0=32&n1=32&channels=7&filters=8&k0=5&k1=5&padding=same"),
    ("convolution", "layer=Conv3D&n0=12&n1=12&n2=12&channels=7&filters=8"),
    ("depthwise", "layer=DepthwiseConv2D&n0=32&n1=32&channels=7&k0=5&k1=5"),
    ("depthwise", "layer=SeparableConv2D&n0=20&n1=20&channels=5&k0=3&k1=3"),
    ("transposed", "layer=Conv3DTranspose&n0=4&channels=2&filters=2&k0=7&k1=7&s0=4"
                   "&padding=same&op_on=1&op0=1&filter=1"),
    ("padding", "layer=ZeroPadding3D&n1=6&n2=5&channels=7&hi1=0&numbers=0"),
    ("upsampling", "layer=UpSampling3D&n0=12&n1=2&n2=4&channels=6"
                   "&data_format=channels_first&size0=3&size1=3&numbers=0"),
)


def heavy(repeats: int) -> None:
    """Time the :data:`HEAVY` settings as a page draws them: view, then the player's
    message (payload and JSON), uncached."""
    from urllib.parse import parse_qs

    from convviz.viz import downloads

    print("\nheavy settings (a class's random walk; build + the player's message):")
    total = 0.0
    for page, query in HEAVY:
        e = downloads.parse(page, "picture.png", parse_qs(query))

        def draw(e=e):
            v = view.build(e.spec, view=e.view, numbers=e.numbers, reveal=e.reveal,
                           filter=e.filter)
            return v, v.message(0, explain=e.numbers)

        v, m = draw()
        ms = median_ms(draw, repeats)
        total += ms
        print(f"{ms:8.0f} ms  {len(v.frames):4d} frames {len(m['json']) / 1e6:5.2f} MB  "
              f"{page}?{query}")
    print(f"summary: heavy settings {total:.0f} ms in all")


if __name__ == "__main__":
    main()
