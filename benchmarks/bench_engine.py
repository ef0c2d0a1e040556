"""Speed and memory of convviz's numeric kernels on full-size batched inputs.

Run from the repository root::

    python benchmarks/bench_engine.py                     # all cases, 5 timed runs each
    python benchmarks/bench_engine.py --repeats 9 --cases "conv2d k3,depthwise"
    python benchmarks/bench_engine.py --no-torch --no-memory

Every case is a convviz layer (float32, channels_last, bias on, weights built before
timing) called on a random batch.  Per case the script prints the median wall time over
``--blocks`` blocks of ``--repeats`` back-to-back runs (after one warm-up per block) and
the fastest run ("best"), the GFLOP/s (counted as 2 * MACs, formulas below), this
machine's NumPy float32 matmul GFLOP/s (2048^3, ``out=``) and the ratio of the two, and
PyTorch CPU's median and best times and the ratios (2 threads, NC.. layout, weights
prepared in advance, inference mode) when ``torch`` is importable (otherwise "n/a"; torch
is never a convviz dependency).  convviz, the matmul reference and PyTorch take turns
block by block, so all three see the same load on a shared machine.  The summary is
given twice: from the medians (typical times, including any load from other tenants of
the machine) and from the best runs (the closest to an unloaded machine).

MAC formulas (B batch, ``out`` output spatial cells, ``n`` input spatial cells, ``K`` =
prod(kernel_size)):

* ConvND:            B * out * F * K * Cin / groups
* DepthwiseConvND:   B * out * C * M * K
* SeparableConvND:   B * out * C * M * K  +  B * out * C * M * F
* ConvNDTranspose:   B * n * Cin * F * K      (the scatter; inserted zeros are not counted)
* UpSampling2D bilinear: B * out * C * 4  (2 taps per axis)

The memory check runs ``Conv2D(64, 3, padding="same")`` on (32, 224, 224, 3) and every
selected case, each once in a fresh subprocess, and compares its peak RSS (the child's
``VmHWM`` from ``/proc/self/status``, its peak resident set including the interpreter and
NumPy; ``ru_maxrss`` where there is no /proc.  ``getrusage(RUSAGE_CHILDREN)`` is not used:
Linux carries the parent's own peak into a vfork+exec'ed child) with
``2 * (input + output + weights) + 256 MiB``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import convviz  # noqa: E402
from convviz import parallel  # noqa: E402

THREADS = 2
GEMM_BOUND = ("conv2d k3", "conv3d", "conv1d k5")

# name: (convviz layer factory, input shape (channels_last), torch builder name)
CASES = {
    "conv1d k5": (lambda: convviz.Conv1D(64, 5, padding="same"), (64, 1024, 64)),
    "conv2d k3": (lambda: convviz.Conv2D(64, 3, padding="same"), (32, 64, 64, 32)),
    "conv2d stem": (lambda: convviz.Conv2D(64, 7, strides=2, padding="same"),
                    (32, 112, 112, 3)),
    "conv2d dilated": (lambda: convviz.Conv2D(32, 3, dilation_rate=2, padding="same"),
                       (32, 64, 64, 32)),
    "conv2d groups": (lambda: convviz.Conv2D(64, 3, groups=4, padding="same"),
                      (32, 56, 56, 64)),
    "depthwise": (lambda: convviz.DepthwiseConv2D(3, padding="same"), (32, 56, 56, 128)),
    "separable": (lambda: convviz.SeparableConv2D(128, 3, padding="same"), (32, 56, 56, 64)),
    "transpose 2d": (lambda: convviz.Conv2DTranspose(32, 4, strides=2, padding="same"),
                     (64, 32, 32, 64)),
    "conv3d": (lambda: convviz.Conv3D(32, 3, padding="same"), (4, 16, 32, 32, 16)),
    "transpose 3d": (lambda: convviz.Conv3DTranspose(16, 2, strides=2), (16, 8, 16, 16, 32)),
    "upsample bilinear": (lambda: convviz.UpSampling2D(2, interpolation="bilinear"),
                          (32, 64, 64, 32)),
    # the same layers as above with data_format="channels_first" (input NC..)
    "conv2d k3 cf": (lambda: convviz.Conv2D(64, 3, padding="same",
                                            data_format="channels_first"), (32, 32, 64, 64)),
    "depthwise cf": (lambda: convviz.DepthwiseConv2D(3, padding="same",
                                                     data_format="channels_first"),
                     (32, 128, 56, 56)),
    "transpose 2d cf": (lambda: convviz.Conv2DTranspose(32, 4, strides=2, padding="same",
                                                        data_format="channels_first"),
                        (64, 64, 32, 32)),
    # float64 (input and weights; PyTorch in float64 too)
    "conv2d k3 f64": (lambda: convviz.Conv2D(64, 3, padding="same", dtype="float64"),
                      (32, 64, 64, 32)),
}
#: The channels_last case each channels_first case is the same layer as.
SAME_LAYER = {"conv2d k3 cf": "conv2d k3", "depthwise cf": "depthwise",
              "transpose 2d cf": "transpose 2d"}


def channels_first(layer) -> bool:
    return getattr(layer, "data_format", "channels_last") == "channels_first"


def last(layer, shape):
    """``shape`` (in ``layer``'s data_format) as channels_last."""
    return (shape[0], *shape[2:], shape[1]) if channels_first(layer) else tuple(shape)


# ----------------------------------------------------------------------------- FLOPs
def macs(layer, x_shape, y_shape) -> int:
    x_shape, y_shape = last(layer, x_shape), last(layer, y_shape)
    B, *n, cin = x_shape
    out = math.prod(y_shape[1:-1])
    kind = type(layer).__name__
    if kind.startswith("UpSampling"):
        return B * out * cin * 4
    K = math.prod(layer.kernel_size)
    if "Transpose" in kind:
        return B * math.prod(n) * cin * layer.filters * K
    if kind.startswith("Depthwise"):
        return B * out * cin * layer.depth_multiplier * K
    if kind.startswith("Separable"):
        cm = cin * layer.depth_multiplier
        return B * out * cm * K + B * out * cm * layer.filters
    return B * out * layer.filters * K * cin // layer.groups


# ----------------------------------------------------------------------------- timing
def make_input(name, shape, dtype):
    seed = sum(map(ord, name))
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def median_time(fn, repeats: int, best: list | None = None) -> float:
    """Median wall time of ``repeats`` runs after one warm-up (the fastest run -> best)."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    if best is not None:
        best.append(min(times))
    return statistics.median(times)


# ----------------------------------------------------------------------------- torch
def load_torch():
    try:
        import torch
    except Exception:  # pragma: no cover - depends on the machine
        return None
    torch.set_num_threads(THREADS)
    # Warm torch's thread pool up once: right after `import torch` NumPy's own matmul
    # runs at about half speed on this machine until torch has run an operation.
    with torch.inference_mode():
        torch.nn.functional.conv2d(torch.ones(2, 8, 16, 16), torch.ones(8, 8, 3, 3))
    return torch


def torch_fn(torch, name, layer, x):
    """A no-argument callable running the PyTorch equivalent of ``layer`` on ``x``."""
    F = torch.nn.functional
    rank = x.ndim - 2
    cf = channels_first(layer)
    xt = torch.from_numpy(x if cf else np.ascontiguousarray(np.moveaxis(x, -1, 1)))
    kind = type(layer).__name__
    spatial = x.shape[2:] if cf else x.shape[1:-1]
    c = x.shape[1] if cf else x.shape[-1]

    def conv_w(kernel):  # Keras (*k, Cin/g, F) -> torch (F, Cin/g, *k)
        return torch.from_numpy(np.ascontiguousarray(np.moveaxis(kernel, (-1, -2),
                                                                 (0, 1))))

    if kind.startswith("UpSampling"):
        return lambda: F.interpolate(xt, scale_factor=layer.size, mode="bilinear",
                                     align_corners=False)
    bias = torch.from_numpy(layer.bias)
    if kind.startswith("Conv") and "Transpose" not in kind:
        conv = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
        w = conv_w(layer.kernel)
        if max(layer.strides) > 1:  # torch 'same' forbids strides: Keras's (lo, hi) pads
            pads = [v for lo_hi in reversed(layer.pads(spatial)) for v in lo_hi]
            return lambda: conv(F.pad(xt, pads), w, bias, layer.strides, 0,
                                layer.dilation_rate, layer.groups)
        return lambda: conv(xt, w, bias, layer.strides, "same", layer.dilation_rate,
                            layer.groups)
    if kind.startswith("Depthwise"):
        w = conv_w(layer.kernel.reshape(*layer.kernel_size, 1, -1))  # (C*M, 1, *k)
        return lambda: F.conv2d(xt, w, bias, 1, "same", layer.dilation_rate, c)
    if kind.startswith("Separable"):
        dw = conv_w(layer.depthwise_kernel.reshape(*layer.kernel_size, 1, -1))
        pw = conv_w(layer.pointwise_kernel)
        return lambda: F.conv2d(F.conv2d(xt, dw, None, 1, "same", 1, c), pw, bias)
    # transpose: Keras (*k, F, Cin) -> torch (Cin, F, *k)
    convt = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[rank - 1]
    w = torch.from_numpy(np.ascontiguousarray(np.moveaxis(layer.kernel, (-1, -2), (0, 1))))
    crops = layer.crops()
    return lambda: convt(xt, w, bias, layer.strides, crops)


# ----------------------------------------------------------------------------- memory
#: The large single case of the memory check, beside every case of the suite.
MEMORY_CASE = ("conv2d k3 224", lambda: convviz.Conv2D(64, 3, padding="same"),
               (32, 224, 224, 3))

MEM_CHILD = r"""
import resource, sys, numpy as np
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import bench_engine as b
name = sys.argv[3]
make, shape = (b.MEMORY_CASE[1:] if name == b.MEMORY_CASE[0] else b.CASES[name])
layer = make()
layer.build(shape)
x = b.make_input(name, shape, layer.dtype)
def hwm():  # peak RSS of this process image, KiB (not inherited from the parent)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
base = hwm()
y = layer(x)
w = sum(v.nbytes for v in layer.weights)
print(x.nbytes, y.nbytes, w, base, hwm(), float(y.ravel()[0]))
"""


def memory_check(name):
    """Peak RSS of one layer call on case ``name`` in a fresh subprocess, against
    ``2 * (input + output + weights) + 256 MiB``; prints one line, returns (peak, bound)."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(
        [sys.executable, "-c", MEM_CHILD, os.path.join(here, ".."), here, name],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    # ru_maxrss of RUSAGE_CHILDREN can carry the parent's own peak over the vfork/exec,
    # so the child reports its VmHWM (peak resident set of the new process image).
    xb, yb, wb, base, peak = (int(v) for v in out[:5])
    mib = 2**20
    bound = 2 * (xb + yb + wb) + 256 * mib
    print(f"{name:<18} {(xb + yb + wb) / mib:14.1f} {base / 1024:12.1f} "
          f"{peak / 1024:9.1f} {bound / mib:9.1f}   "
          f"{'OK' if peak * 1024 <= bound else 'EXCEEDED'}", flush=True)
    return peak * 1024, bound


def memory_checks(names):
    """:func:`memory_check` for the large case and for every case in ``names``."""
    print("\nMemory: peak RSS of one call per case, each in a fresh subprocess (VmHWM: "
          "interpreter, NumPy and the input included), against 2*(in+out+w)+256 MiB")
    hdr = (f"{'case':<18} {'in+out+w MiB':>14} {'before MiB':>12} {'peak MiB':>9} "
           f"{'bound MiB':>9}")
    print(hdr)
    print("-" * (len(hdr) + 11))
    results = {n: memory_check(n) for n in [MEMORY_CASE[0], *names]}
    over = [n for n, (peak, bound) in results.items() if peak > bound]
    print(f"summary: peak RSS within the bound on {len(results) - len(over)} of "
          f"{len(results)} cases" + (f"; over: {', '.join(over)}" if over else ""))
    return results


# ----------------------------------------------------------------------------- main
def interleaved(fns: dict, repeats: int, blocks: int = 3, pause: float = 0.02) -> dict:
    """Median, best and all wall times of each callable in ``fns``, timed in blocks.

    Each callable runs in ``blocks`` blocks of ``1 + repeats`` back-to-back calls (the
    first call of a block is a warm-up and is not timed), and the contenders take turns
    block by block.  Back-to-back calls are how a model runs a layer, and they keep one
    contender's threads, caches and allocations from disturbing the other's timed calls
    (single calls alternated with a 2048^3 matmul and PyTorch ran up to 2x slower than
    in a row, for both).  Taking turns exposes all of them to the same load when the
    machine is shared, so their ratio is much steadier than their times.  The pause
    before each block lets PyTorch's OpenMP threads stop spinning.
    """
    times = {k: [] for k in fns}
    for _ in range(blocks):
        for k, fn in fns.items():
            time.sleep(pause)
            fn()
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
    return {k: (statistics.median(v), min(v), v) for k, v in times.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5,
                    help="timed back-to-back runs per block (after one warm-up)")
    ap.add_argument("--blocks", type=int, default=3,
                    help="blocks per contender, taking turns (median over all runs)")
    ap.add_argument("--cases", default="", help="comma-separated case names (default all)")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even if importable")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory subprocess")
    ap.add_argument("--float64", action="store_true", help="time float64 inputs instead")
    args = ap.parse_args(argv)
    names = [c.strip() for c in args.cases.split(",") if c.strip()] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        ap.error(f"unknown cases {unknown}; choose from {list(CASES)}")
    dtype = np.float64 if args.float64 else np.float32

    if not args.no_memory:  # first, while this process is still small
        memory_checks(names)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"python {platform.python_version()}, numpy {np.__version__}")
    if parallel.can_split():
        print(f"convviz: chunks on {parallel.THREADS} worker threads, each with a "
              "single-threaded OpenBLAS (parallel.BLAS_SPLIT)")
    else:
        print("convviz: chunks one after another, BLAS on its own threads "
              "(NumPy's OpenBLAS not found, or parallel.BLAS_SPLIT off)")
    torch = None if args.no_torch or dtype != np.float32 else load_torch()
    if torch is not None:
        print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
              "timed in the same rounds as convviz")
    else:
        print("torch n/a" + (" (--no-torch)" if args.no_torch else ""))
    # The matmul reference runs in every round too, so each case is compared with the
    # matmul throughput of the same moments (the machine's load varies by 2-3x).
    n = 2048
    mrng = np.random.default_rng(0)
    ma = mrng.standard_normal((n, n), dtype=np.float32)
    mb = mrng.standard_normal((n, n), dtype=np.float32)
    mc = np.empty((n, n), np.float32)
    mm_flop = 2 * n**3

    def matmul():
        np.matmul(ma, mb, out=mc)

    print()
    hdr = (f"{'case':<18} {'input':<22} {'ms':>8} {'best':>7} {'GFLOP/s':>8} {'matmul':>7} "
           f"{'/matmul':>8} {'torch ms':>9} {'best':>7} {'vs torch':>9} {'(best)':>7}")
    print(hdr)
    print("-" * len(hdr))
    rng = np.random.default_rng(0)
    ratios, gemm_frac, mm_all = {"median": {}, "best": {}}, {"median": {}, "best": {}}, []
    times = {}
    for name in names:
        make, shape = CASES[name]
        layer = make()
        layer.build(shape)
        layer.set_weights([rng.standard_normal(w.shape) * 0.1 for w in layer.weights])
        # a case's own dtype (the float64 case), else float32 (float64 with --float64)
        x = make_input(name, shape, dtype if layer.dtype == "float32" else layer.dtype)
        y = layer(x)
        fns = {"convviz": lambda layer=layer, x=x: layer(x), "matmul": matmul}
        if torch is not None:
            with torch.inference_mode():
                fn = torch_fn(torch, name, layer, x)
                yt = fn().numpy()
                yt = yt if channels_first(layer) else np.moveaxis(yt, 1, -1)
            err = np.abs(yt - y).max() / (np.abs(y).max() + 1e-30)
            if err > 1e-4:
                print(f"  WARNING {name}: convviz and torch differ (rel {err:.2e})")

            def run_torch(fn=fn):
                with torch.inference_mode():
                    fn()

            fns["torch"] = run_torch
        res = interleaved(fns, args.repeats, args.blocks)
        flop = 2 * macs(layer, shape, y.shape)
        mm_all += res["matmul"][2]
        for i, kind in enumerate(("median", "best")):
            mm_gf = mm_flop / res["matmul"][i] / 1e9
            if name in GEMM_BOUND:
                gemm_frac[kind][name] = flop / res["convviz"][i] / 1e9 / mm_gf
            if torch is not None:
                ratios[kind][name] = res["torch"][i] / res["convviz"][i]
        t, best, _ = res["convviz"]
        times[name] = (t, best)
        gf, mm_gf = flop / t / 1e9, mm_flop / res["matmul"][0] / 1e9
        torch_s = "      n/a     n/a       n/a     n/a"
        if torch is not None:
            tt, tbest, _ = res["torch"]
            torch_s = (f"{tt * 1e3:9.2f} {tbest * 1e3:7.2f} {tt / t:8.2f}x "
                       f"{tbest / best:6.2f}x")
        print(f"{name:<18} {str(shape):<22} {t * 1e3:8.2f} {best * 1e3:7.2f} {gf:8.1f} "
              f"{mm_gf:7.1f} {gf / mm_gf:8.2f} {torch_s}", flush=True)
        del x, y, fns, res

    print()
    print(f"numpy float32 matmul (2048^3, out=) over all rounds: median "
          f"{mm_flop / statistics.median(mm_all) / 1e9:.1f} GFLOP/s, best "
          f"{mm_flop / min(mm_all) / 1e9:.1f}; '/matmul' uses each case's own rounds")
    for kind in ("median", "best"):
        # "median": typical times, including whatever load the machine had; "best": the
        # fastest run of each contender, closest to an unloaded machine.
        r = ratios[kind]
        if r:
            geo = math.exp(sum(math.log(v) for v in r.values()) / len(r))
            worst = min(r, key=r.get)
            print(f"summary ({kind}): geomean speed vs torch {geo:.2f}x (target >= 1.5), "
                  f"min {r[worst]:.2f}x ({worst}; target >= 1.0)")
        else:
            print(f"summary ({kind}): vs torch n/a (torch not importable or --no-torch)")
        if gemm_frac[kind]:
            parts = ", ".join(f"{k} {v:.0%}" for k, v in gemm_frac[kind].items())
            print(f"summary ({kind}): GEMM-bound cases at {parts} of matmul GFLOP/s "
                  "(target >= 50%)")
        i = ("median", "best").index(kind)
        cf = {k: times[k][i] / times[v][i] for k, v in SAME_LAYER.items()
              if k in times and v in times}
        if cf:
            parts = ", ".join(f"{k} {v:.2f}x" for k, v in cf.items())
            print(f"summary ({kind}): channels_first time / channels_last time: {parts} "
                  "(target <= 1.2x)")


if __name__ == "__main__":
    main()
