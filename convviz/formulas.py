"""Output-length formulas with the numbers filled in, and multiply-accumulate counts.

Pure functions of a layer and an input shape (no streamlit), used by the shape
panel, the shape calculator and the command line.

>>> import convviz
>>> d = derivations(convviz.Conv1D(4, 3, strides=2), (None, 10, 1))[0]
>>> d["result"], d["formula"].text()
(4, 'floor((10 - 3) / 2) + 1 = 4')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from . import geometry
from .geometry import effective_kernel


# ----------------------------------------------------------------------------- terms
@dataclass(frozen=True)
class Formula:
    r"""A formula built once in both spellings, so nothing has to read LaTeX back.

    Build one from parts with :func:`term` (strings and numbers read the same in both),
    :func:`floor`, :func:`ceil`, :func:`frac`, :func:`sub` and the symbols :data:`TIMES` and
    :data:`MOD`.

    >>> f = term(floor(frac(term(10, " - ", 3), 2)), " + 1")
    >>> f.latex()
    '\\left\\lfloor \\frac{10 - 3}{2} \\right\\rfloor + 1'
    >>> f.text()
    'floor((10 - 3) / 2) + 1'
    """

    tex: str
    plain: str

    def latex(self) -> str:
        """The LaTeX spelling (for ``st.latex`` and KaTeX)."""
        return self.tex

    def text(self) -> str:
        """The plain-text spelling (for a terminal, a hover line or a legend)."""
        return self.plain

    def __bool__(self) -> bool:
        return bool(self.tex)

    def __str__(self) -> str:
        return self.plain


def _spell(part) -> tuple[str, str]:
    if isinstance(part, Formula):
        return part.tex, part.plain
    return str(part), str(part)


def _tidy(plain: str) -> str:
    plain = re.sub(r"\s+", " ", plain)
    return re.sub(r"\s+\)", ")", re.sub(r"\(\s+", "(", plain)).strip()


def term(*parts) -> Formula:
    """The parts one after the other."""
    spelt = [_spell(p) for p in parts]
    return Formula("".join(t for t, _ in spelt), _tidy("".join(p for _, p in spelt)))


def sym(tex: str, plain: str) -> Formula:
    """A symbol spelt differently in LaTeX and in text."""
    return Formula(tex, plain)


def _group(plain: str) -> str:
    return f"({plain})" if re.search(r"[\s+\-*/]", plain) else plain


def frac(num, den) -> Formula:
    (nt, npl), (dt, dpl) = _spell(num), _spell(den)
    return Formula(f"\\frac{{{nt}}}{{{dt}}}", f"{_group(npl)} / {_group(dpl)}")


def floor(inner) -> Formula:
    t, p = _spell(inner)
    return Formula(f"\\left\\lfloor {t} \\right\\rfloor", f"floor({p})")


def ceil(inner) -> Formula:
    t, p = _spell(inner)
    return Formula(f"\\left\\lceil {t} \\right\\rceil", f"ceil({p})")


def sub(base: str, index: str) -> Formula:
    """``base`` with a subscript: ``p_{out}`` / ``p_out``."""
    return Formula(f"{base}_{index}" if len(index) == 1 else f"{base}_{{{index}}}",
                   f"{base}_{index}")


def word(name: str) -> Formula:
    """An argument's name set as text: ``\\text{depth\\_multiplier}`` / ``depth_multiplier``."""
    escaped = name.replace("_", "\\_")
    return Formula(f"\\text{{{escaped}}}", name)


#: Multiplication and remainder.
TIMES = sym("\\cdot ", " * ")
MOD = sym(" \\bmod ", " mod ")


# ----------------------------------------------------------------------------- axes
class AxisFormula(NamedTuple):
    """One spatial axis of a layer: its output length and how it is worked out.

    ``formula`` has the numbers filled in (and ends ``= out``); ``general`` is the rule in
    symbols; ``pads`` is ``(lo, hi)`` cells added (negative: removed), or ``(crop, None)``
    for a transposed convolution; ``note`` says what ``pads`` means, in words.
    """

    out: int
    formula: Formula
    general: Formula
    pads: tuple
    note: str


def _padding_note(lo, hi) -> str:
    return f"padding (lo, hi) = ({lo}, {hi})"


def conv_axis(n, k, s, d, padding) -> AxisFormula:
    """One axis of a windowed convolution (Conv, Depthwise, Separable)."""
    ke = effective_kernel(k, d)
    out = geometry.conv_output_length(n, k, s, d, padding)
    if padding == "valid":
        ke_term = ke if d == 1 else term("(", d, TIMES, "(", k, "-1)+1)")
        formula = term(floor(frac(term(n, " - ", ke_term), s)), " + 1 = ", out)
        general = term(floor(frac("n - (d(k-1)+1)", "s")), " + 1")
    else:
        formula = term(ceil(frac(n, s)), " = ", out)
        general = ceil(frac("n", "s"))
    lo, hi = geometry.conv_pads(n, k, s, d, padding)
    return AxisFormula(out, formula, general, (lo, hi), _padding_note(lo, hi))


def transpose_axis(n, k, s, d, padding, op) -> AxisFormula:
    """One axis of a transposed convolution (``op``: output_padding or None)."""
    ke = effective_kernel(k, d)
    out = geometry.transpose_output_length(n, k, s, d, padding, op)
    k_e, p_out = sub("k", "e"), sub("p", "out")
    if padding == "valid":
        extra = max(ke, s) - ke if op is None else op
        formula = term(f"({n}-1)", TIMES, s, f" + {ke} + {extra} = {out}")
        general = (term("(n-1)s + ", k_e, " + ", sym("\\max", "max"), "(", k_e, ", s) - ", k_e)
                   if op is None else term("(n-1)s + ", k_e, " + ", p_out))
    elif op is None:
        formula = term(n, TIMES, s, f" = {out}")
        general = term("n ", TIMES, "s")
    else:
        formula = term(f"({n}-1)", TIMES, s, f" + ({ke}", MOD, f"2) + {op} = {out}")
        general = term("(n-1)s + (", k_e, MOD, "2) + ", p_out)
    crop = geometry.transpose_crop(k, s, d, padding, op)
    return AxisFormula(out, formula, general, (crop, None),
                       f"crop {crop} from the start of the scatter result")


def crop_axis(n, lo, hi) -> AxisFormula:
    out = n - lo - hi
    return AxisFormula(out, term(f"{n} - {lo} - {hi} = {out}"),
                       term("n - ", sub("c", "lo"), " - ", sub("c", "hi")), (-lo, -hi),
                       f"cropped (start, end) = ({lo}, {hi})")


def pad_axis(n, lo, hi) -> AxisFormula:
    out = n + lo + hi
    return AxisFormula(out, term(f"{n} + {lo} + {hi} = {out}"),
                       term("n + ", sub("p", "lo"), " + ", sub("p", "hi")), (lo, hi),
                       _padding_note(lo, hi))


def upsample_axis(n, size) -> AxisFormula:
    out = n * size
    return AxisFormula(out, term(n, " ", TIMES, size, f" = {out}"), term("n ", TIMES, "size"),
                       (0, 0), "")


def derivations(layer, input_shape) -> list[dict]:
    """Per spatial axis: the formula (general and with numbers), its result, the padding.

    Returns a list of dicts with keys ``axis``, ``n``, ``general`` (the rule, a
    :class:`Formula`), ``formula`` (the rule with the numbers filled in), ``result``
    (int; may be <= 0 for an invalid setting: the layer raises), ``pads`` (``(lo, hi)``;
    for a transposed conv ``(crop, None)``) and ``note`` (what the pads mean, in words).
    Each layer family answers for its own axes (``layer.axis_formula``, an
    :class:`AxisFormula`).
    """
    _, spatial, _ = layer.split_shape(input_shape)
    rows = []
    for axis, n in enumerate(spatial):
        a = layer.axis_formula(axis, n)
        rows.append({"axis": axis, "n": n, "general": a.general, "formula": a.formula,
                     "result": a.out, "pads": a.pads, "note": a.note})
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
