"""Wall time of ``convviz.realdata.batch_run`` on a batch of real photographs.

Run from the repository root::

    python benchmarks/bench_realdata.py                 # all cases, 5 timed runs each
    python benchmarks/bench_realdata.py --repeats 9 --cases "conv2d,separable"

The batch is 16 copies of the shipped 256 x 256 RGB photo (``assets/images/photo.png``),
each with a little seeded noise, float32 channels-last: (16, 256, 256, 3), the largest
batch the app's cap (``MAX_BATCH_ELEMENTS``) is meant for. Every case is one
``batch_run`` call (layer built, weights set from the named kernel, then run), timed
three ways: split into the default chunks (ceil(16 / 4) = 4 images per call, with a
progress callback, as a page would show progress), in chunks of 2 images, and as one call
(``chunk=16``). Per case the script prints the median wall time over ``--repeats`` runs
(after one warm-up), and the images per second and GFLOP/s of the default chunks
(2 * MACs / time; MACs as ``convviz.formulas.macs``, 0 for layers that only copy or
interpolate without weights). It also times ``to_png`` of the first image's feature maps
and ``load_image`` + ``fit`` of the photo, the other steps of a page run. The machine's
load swings (see RESULTS.md): run it twice and compare.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_engine import median_time  # noqa: E402  (same warm-up + median timer)

from convviz import realdata  # noqa: E402

try:  # the engine's worker-thread count (moved from convviz.engine to convviz.parallel)
    from convviz.parallel import THREADS  # noqa: E402
except ImportError:  # pragma: no cover - older trees
    from convviz.engine import THREADS  # noqa: E402

BATCH = 16

# name: (layer, keras arguments, named kernel)
CASES = {
    "conv2d": ("Conv2D", {"filters": 8, "kernel_size": 3}, "sobel_x"),
    "conv2d same s2": ("Conv2D", {"filters": 8, "kernel_size": 3, "strides": 2,
                                  "padding": "same"}, "random"),
    "depthwise": ("DepthwiseConv2D", {"kernel_size": 3, "padding": "same"}, "gaussian"),
    "separable": ("SeparableConv2D", {"filters": 8, "kernel_size": 3, "padding": "same"},
                  "laplacian"),
    "transpose s2": ("Conv2DTranspose", {"filters": 8, "kernel_size": 3, "strides": 2,
                                         "padding": "same"}, "box_blur"),
    "upsample bilinear": ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}, None),
}


def batch_of_photos(batch: int = BATCH) -> np.ndarray:
    """(batch, 256, 256, 3) float32: the shipped photo plus seeded noise (std 0.02)."""
    photo = realdata.load_asset("photo")
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 0.02, (batch, *photo.shape)).astype(np.float32)
    return np.clip(photo[None] + noise, 0.0, 1.0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per case (median)")
    ap.add_argument("--cases", default=",".join(CASES),
                    help=f"comma-separated subset of: {', '.join(CASES)}")
    args = ap.parse_args(argv)
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        ap.error(f"unknown cases {unknown}; choose from {list(CASES)}")

    images = batch_of_photos()
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, "
          f"{os.cpu_count()} CPUs, engine threads {THREADS}")
    print(f"batch {images.shape} {images.dtype}, {images.size:,} elements "
          f"(MAX_BATCH_ELEMENTS {realdata.MAX_BATCH_ELEMENTS:,}); median of {args.repeats}")
    print()
    header = (f"{'case':<18} {'call':<70} {'out shape':<18} {'4/call ms':>9} "
              f"{'2/call ms':>9} {'1 call ms':>9} {'img/s':>6} {'GFLOP/s':>7}")
    print(header)
    print("-" * len(header))
    first = None
    for name in names:
        layer, kwargs, kernel = CASES[name]
        kw = dict(kwargs)
        if kernel is not None:
            kw["kernel"] = kernel
        last = {}

        def chunked(layer=layer, kw=kw, last=last):
            last["r"] = realdata.batch_run(layer, images, progress=lambda f: None, **kw)

        def pairs(layer=layer, kw=kw):
            realdata.batch_run(layer, images, chunk=2, **kw)

        def single(layer=layer, kw=kw):
            realdata.batch_run(layer, images, chunk=BATCH, **kw)

        t_chunked = median_time(chunked, args.repeats)
        t_pairs = median_time(pairs, args.repeats)
        t_single = median_time(single, args.repeats)
        r = last["r"]
        first = first or r
        gflops = 2 * r.macs / t_chunked / 1e9
        print(f"{name:<18} {r.call.replace('keras.layers.', ''):<70} "
              f"{str(r.output.shape):<18} {t_chunked * 1e3:>9.1f} {t_pairs * 1e3:>9.1f} "
              f"{t_single * 1e3:>9.1f} {BATCH / t_chunked:>6.1f} {gflops:>7.2f}")

    print()
    if first is not None:
        maps = np.moveaxis(first.output[0], -1, 0)
        t_png = median_time(lambda: realdata.to_png(maps), args.repeats)
        print(f"to_png of {maps.shape[0]} maps {maps.shape[1:]}: {t_png * 1e3:.0f} ms")
    path = realdata.REGISTRY["photo"].path
    t_load = median_time(lambda: realdata.fit(realdata.load_image(path, mode="rgb"), 128),
                         args.repeats)
    print(f"load_image + fit(128) of the photo: {t_load * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
