"""Output-length formulas with the numbers filled in, and multiply-accumulate counts.

Pure functions of a layer and an input shape (no streamlit), used by the shape
panel, the shape calculator and the command line.

>>> import convviz
>>> d = derivations(convviz.Conv1D(4, 3, strides=2), (None, 10, 1))[0]
>>> d["result"], d["latex"]
(4, '\\\\left\\\\lfloor \\\\frac{10 - 3}{2} \\\\right\\\\rfloor + 1 = 4')
"""

from __future__ import annotations

from . import geometry
from .geometry import effective_kernel


def conv_axis(n, k, s, d, padding):
    """``(out, latex, general, (lo, hi))`` of one axis of a windowed convolution."""
    ke = effective_kernel(k, d)
    out = geometry.conv_output_length(n, k, s, d, padding)
    if padding == "valid":
        ke_txt = f"{ke}" if d == 1 else f"({d}\\cdot({k}-1)+1)"
        latex = f"\\left\\lfloor \\frac{{{n} - {ke_txt}}}{{{s}}} \\right\\rfloor + 1 = {out}"
        general = "\\left\\lfloor \\frac{n - (d(k-1)+1)}{s} \\right\\rfloor + 1"
    else:
        latex = f"\\left\\lceil \\frac{{{n}}}{{{s}}} \\right\\rceil = {out}"
        general = "\\left\\lceil \\frac{n}{s} \\right\\rceil"
    lo, hi = geometry.conv_pads(n, k, s, d, padding)
    return out, latex, general, (lo, hi)


def transpose_axis(n, k, s, d, padding, op):
    """``(out, latex, general, (crop, None))`` of one axis of a transposed convolution."""
    ke = effective_kernel(k, d)
    out = geometry.transpose_output_length(n, k, s, d, padding, op)
    if padding == "valid":
        extra = max(ke, s) - ke if op is None else op
        latex = f"({n}-1)\\cdot {s} + {ke} + {extra} = {out}"
        general = (
            "(n-1)s + k_e + \\max(k_e, s) - k_e" if op is None else "(n-1)s + k_e + p_{out}"
        )
    elif op is None:
        latex = f"{n}\\cdot {s} = {out}"
        general = "n \\cdot s"
    else:
        latex = f"({n}-1)\\cdot {s} + ({ke} \\bmod 2) + {op} = {out}"
        general = "(n-1)s + (k_e \\bmod 2) + p_{out}"
    crop = geometry.transpose_crop(k, s, d, padding, op)
    return out, latex, general, (crop, None)


def crop_axis(n, lo, hi):
    out = n - lo - hi
    return out, f"{n} - {lo} - {hi} = {out}", "n - c_{lo} - c_{hi}", (-lo, -hi)


def pad_axis(n, lo, hi):
    out = n + lo + hi
    return out, f"{n} + {lo} + {hi} = {out}", "n + p_{lo} + p_{hi}", (lo, hi)


def upsample_axis(n, size):
    out = n * size
    return out, f"{n} \\cdot {size} = {out}", "n \\cdot size", (0, 0)


def derivations(layer, input_shape) -> list[dict]:
    """Per spatial axis: the formula (general and with numbers), its result, the padding.

    Returns a list of dicts with keys ``axis``, ``n``, ``general`` (LaTeX), ``latex``
    (LaTeX with the numbers substituted), ``result`` (int; may be <= 0 for an invalid
    setting: the layer raises) and ``pads`` (``(lo, hi)``; for a transposed conv
    ``(crop, None)``). Each layer family answers for its own axes
    (``layer.axis_formula``).
    """
    _, spatial, _ = layer.split_shape(input_shape)
    rows = []
    for axis, n in enumerate(spatial):
        out, latex, general, pads = layer.axis_formula(axis, n)
        rows.append({"axis": axis, "n": n, "general": general, "latex": latex, "result": out,
                     "pads": pads})
    return rows


def macs(layer, input_shape) -> int:
    """Multiply-accumulates of one forward pass per batch item (batch None counts as 1).

    Conv: ``prod(out) * F * prod(k) * Cin/groups``; depthwise: ``prod(out) * C*M * prod(k)``;
    separable adds the pointwise ``prod(out) * C*M * F``; transposed:
    ``prod(in) * prod(k) * Cin * F`` (no multiplications by inserted zeros); resize:
    ``prod(out) * C * taps``; nearest upsampling, cropping and padding: 0. Each family
    answers for itself (``layer.macs_per_sample``).
    """
    batch, spatial, channels = layer.split_shape(input_shape)
    _, out_spatial, _ = layer.split_shape(layer.compute_output_shape(input_shape))
    return int((batch or 1) * layer.macs_per_sample(spatial, out_spatial, channels))
