"""The scene adds up: every frame draws the layer's arithmetic, and both painters paint it alike.

Expected values never come from the scene: they come from the engine's ``layer(x)``
(``Sample.y``), the loop references in ``tests/reference.py`` and the Keras geometry written
out below. The "drawn" numbers are read back from the picture itself (the panels' cell texts
at the positions the frame's boxes outline), so a wrong tap position, a wrong kernel
orientation or a wrong label shows up as a sum that no longer equals ``y``.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.colors import to_hex, to_rgba
from matplotlib.text import Text
from reference import (
    activate,
    conv_pads,
    conv_transpose_crop,
    conv_transpose_out_len,
    depthwise_ref,
    effective_kernel,
    resize_ref,
    resize_weights,
)

import convviz
from convviz import export
from convviz.demo import Spec, run, sample_input
from convviz.viz import player, view
from convviz.viz import scene as sc
from convviz.viz.painter import ScenePainter

# ----------------------------------------------------------------------------- helpers


def _last(sample, array) -> np.ndarray:
    """Batch item 0 of ``array`` as ``spatial + (channels,)``, float64."""
    a = np.asarray(array, dtype=np.float64)[0]
    return np.moveaxis(a, 0, -1) if sample.spec.data_format == "channels_first" else a


def _coord(c) -> str:
    return "(" + ", ".join(str(int(v)) for v in c) + ")"


def _close(a, b, tol=1e-4) -> bool:
    return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)


def _drawn_equals(text, value, slack=0.0) -> bool:
    """A number as drawn (up to 3 decimals) equals ``value``."""
    assert text != "", f"no number drawn where {value} was expected"
    return abs(float(text) - float(value)) <= 5e-4 + 1e-4 * abs(float(value)) + slack


def _term(v: str, w: str) -> str:
    """``value·weight`` as the arithmetic writes it (negative weights in parentheses)."""
    return f"{v}·({w})" if w.startswith("-") else f"{v}·{w}"


def _logical(lines) -> list[str]:
    """Undo the wrapping of the arithmetic lines (continuations are indented)."""
    out = []
    for line in lines:
        if line.startswith("    ") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


_WHERE: dict = {}


def _where(scene) -> dict:
    """Canvas ``(x, y)`` -> ``(panel, grid index, flat index)`` for every static cell."""
    key = id(scene)
    if key not in _WHERE:
        where = {}
        for p in scene.panels:
            grid = sc.all_cells(p.shape)
            x, y = p.xy(grid)
            for k, (a, b) in enumerate(zip(x.tolist(), y.tolist())):
                assert (a, b) not in where, f"panels {p.key} and {where[(a, b)][0].key} overlap"
                where[(a, b)] = (p, tuple(int(v) for v in grid[k]), k)
        _WHERE.clear()
        _WHERE[key] = (scene, where)
    return _WHERE[key][1]


def _text(p, grid) -> str:
    return str(p.text[int(np.ravel_multi_index(tuple(grid), p.shape))])


def _boxed(scene, fr, role) -> dict:
    """Panel key -> grid indices outlined by ``role`` boxes (every box sits on a cell)."""
    where = _where(scene)
    out: dict = {}
    bx, by = fr.boxes.get(role, ((), ()))
    for a, b in zip(np.asarray(bx).tolist(), np.asarray(by).tolist()):
        assert (a, b) in where, f"a {role} box at {(a, b)} is on no cell"
        p, g, _ = where[(a, b)]
        out.setdefault(p.key, []).append(g)
    return out


def _spread(n: int, most: int = 40) -> list[int]:
    """Every step when there are at most ``most``, else an even spread (ends included)."""
    if n <= most:
        return list(range(n))
    return sorted({int(v) for v in np.linspace(0, n - 1, 24).round()} | {1, n - 2})


# ----------------------------------------------------------------------------- geometry
def _axis_slots(layer, kind, a, n, o):
    """Keras geometry of output coordinate ``o`` along axis ``a``, independent of convviz.

    Returns ``(slots, grid_length)``; each slot is ``(grid, cell, real, weight)``: the input
    panel's grid index it reads, the kernel panel cell it pairs with (the kernel drawn in the
    orientation the window uses), whether it reads a real input cell, and its weight.
    """
    if kind in ("conv", "depthwise", "separable"):
        k, s, d = layer.kernel_size[a], layer.strides[a], layer.dilation_rate[a]
        lo, hi = conv_pads(n, k, s, d, layer.padding)
        slots = [(o * s + j * d, j, 0 <= o * s + j * d - lo < n, 1.0) for j in range(k)]
        return slots, n + lo + hi
    if kind == "transpose":
        k, s, d = layer.kernel_size[a], layer.strides[a], layer.dilation_rate[a]
        op = None if layer.output_padding is None else layer.output_padding[a]
        ke = effective_kernel(k, d)
        lo = ke - 1 - conv_transpose_crop(k, s, d, layer.padding, op)  # zeros before x[0]
        space = (n - 1) * s + 1  # the zero-inserted input
        out = conv_transpose_out_len(n, k, s, d, layer.padding, op)
        hi = (out - 1) + (ke - 1) - lo - (space - 1)
        g0, g1 = min(-lo, 0), max(space + hi, space)
        slots = []
        for j in range(k):
            c = o + j * d - lo
            slots.append((c - g0, j, 0 <= c < space and c % s == 0, 1.0))
        return slots, g1 - g0
    if kind == "crop":
        lo, hi = layer.cropping[a]
        return [(o + lo, None, True, 1.0)], n
    if kind == "pad":
        lo, hi = layer.padding[a]
        return [(o, None, lo <= o < lo + n, 1.0)], n + lo + hi
    assert kind == "upsample"
    s = layer.size[a]
    if layer.interpolation == "nearest":
        return [(o // s, None, True, 1.0)], n
    w = resize_weights(n, s, layer.interpolation)[o]
    return [(i, None, True, float(w[i])) for i in range(n) if w[i] != 0], n


def _window(sample, o):
    """``(slots, grid_shape)`` of output cell ``o``: slots in row-major order."""
    layer = sample.layer
    kind = layer.trace_kind
    spatial = sample.spec.spatial
    per_axis, shape = [], []
    for a, (n, oa) in enumerate(zip(spatial, o)):
        slots, length = _axis_slots(layer, kind, a, n, int(oa))
        per_axis.append(slots)
        shape.append(length)
    out = []
    for combo in itertools.product(*per_axis):
        grid = tuple(c[0] for c in combo)
        cell = None if combo[0][1] is None else tuple(c[1] for c in combo)
        out.append((grid, cell, all(c[2] for c in combo), math.prod(c[3] for c in combo)))
    return out, tuple(shape)


def _gaps(slots) -> set:
    """Cells inside the span of the window that no slot reads (dilation)."""
    rank = len(slots[0][0])
    rows = [sorted({s[0][k] for s in slots}) for k in range(rank)]
    span = itertools.product(*(range(r[0], r[-1] + 1) for r in rows))
    return {c for c in span if any(c[k] not in rows[k] for k in range(rank))}


def _activation(sample) -> str | None:
    return sample.spec.arguments.get("activation")


# ----------------------------------------------------------------------------- gather check
def _check_gather_step(scene, i, numbers=True):
    """Step ``i`` of a gather scene adds up, from the numbers it draws to the engine's y."""
    sample = scene.sample
    layer = sample.layer
    kind = layer.trace_kind
    x, y = _last(sample, sample.x), _last(sample, sample.y)
    cin, cout = x.shape[-1], y.shape[-1]
    out_shape = y.shape[:-1]
    n = math.prod(out_shape)
    phase, j = (1, i - n) if kind == "separable" and i >= n else (0, i)
    o = tuple(int(v) for v in np.unravel_index(j, out_shape))
    fr = scene.frame(i)
    panels = {p.key: p for p in scene.panels}
    f = scene.filter
    act = _activation(sample)
    if kind == "separable" and phase == 0:
        act = None  # the activation follows the pointwise stage
    assert fr.step == i
    assert fr.caption.startswith(f"step {i} of 0..{scene.steps - 1}")

    slots, grid_shape = _window(sample, o)
    ins = [p for p in scene.panels if p.kind == "input"]
    assert [p.channel for p in ins] == list(range(min(cin, sc.MAX_PANELS)))
    for p in ins:
        assert p.shape == grid_shape, (p.key, p.shape, grid_shape)

    taps, pads = _boxed(scene, fr, "tap"), _boxed(scene, fr, "tap_pad")
    gaps = _boxed(scene, fr, "gap")
    current = _boxed(scene, fr, "current")
    assert not _boxed(scene, fr, "patch")

    mid = None
    if kind == "separable":
        mid = depthwise_ref(x[None], layer.depthwise_kernel, None, layer.strides,
                            layer.padding, layer.dilation_rate)[0]

    # --- the cell being written: one current box on every panel of the stage, at o
    if kind == "separable" and phase == 0:
        targets = [p for p in scene.panels if p.kind == "intermediate"]
        values = mid
    else:
        targets = [p for p in scene.panels if p.kind == "output"]
        values = y
    assert targets
    assert current == {p.key: [o] for p in targets}

    # --- the window, on the input panels (or the intermediate maps, pointwise stage)
    if kind == "conv":
        groups = layer.groups
        cg = cin // groups
        g = f // (cout // groups)
        read = list(range(g * cg, (g + 1) * cg))
    elif kind == "separable" and phase == 1:
        read = []
    else:
        read = list(range(cin))
    expect_taps = {f"in{c}": [s[0] for s in slots if s[2]] for c in read}
    expect_pads = {f"in{c}": [s[0] for s in slots if not s[2]] for c in read}
    if kind == "separable" and phase == 1:
        expect_taps = {p.key: [o] for p in scene.panels if p.kind == "intermediate"}
    drawn_in = {k for k in expect_taps if k in panels}
    if numbers:  # the window reads the input values drawn (0 on padding, inserted zeros)
        for c in read:
            if f"in{c}" in panels:
                for grid, _, real, _ in slots:
                    want = sc.fmt(x[(*_source(sample, grid), c)]) if real else "0"
                    assert _text(panels[f"in{c}"], grid) == want, (c, grid)
    if kind != "separable":
        n_real = sum(1 for s in slots if s[2])
        assert f" {n_real} input cell{'s' * (n_real != 1)} " in fr.caption, fr.caption
    assert {k: sorted(v) for k, v in taps.items()} == {
        k: sorted(v) for k, v in expect_taps.items() if k in drawn_in and v}
    assert {k: sorted(v) for k, v in pads.items()} == {
        k: sorted(v) for k, v in expect_pads.items() if k in drawn_in and v}
    if kind in ("conv", "transpose", "depthwise") or (kind == "separable" and phase == 0):
        holes = _gaps(slots)
        assert {k: set(v) for k, v in gaps.items()} == {
            k: holes for k in expect_taps if k in drawn_in and holes}
    else:
        assert not gaps

    # --- the expected sums: which output (or intermediate) channels this step writes
    if kind in ("conv", "transpose") or (kind == "separable" and phase == 1):
        channels = [f]
    elif kind in ("depthwise", "separable"):
        channels = list(range(cin * layer.depth_multiplier))
    else:
        channels = list(range(cout))
    assert [s.out_channel for s in fr.sums] == channels
    assert all(s.label.startswith(f"out{_coord(o)} ") for s in fr.sums)

    # resizing layers: the interpolation weights are written on the window's cells
    labels = {}  # input panel key -> {grid: weight text}
    if kind == "upsample":
        where = _where(scene)
        dy = getattr(sc, "TAP_LABEL_DY", 0.32)
        for lx, ly, lt in zip(np.asarray(fr.texts[0]).tolist(), np.asarray(fr.texts[1]).tolist(),
                              fr.texts[2]):
            row = round(ly - dy)
            assert abs(ly - dy - row) < 1e-9, ly
            p, g, _ = where[(lx, row)]
            assert p.kind == "input"
            assert g not in labels.get(p.key, {}), f"two labels on cell {g} of {p.key}"
            labels.setdefault(p.key, {})[g] = lt.removeprefix("×")
        expect = {s[0]: sc.fmt(s[3]) for s in slots}
        if any(s[3] != 1 for s in slots):
            assert "in0" in labels, "interpolation weights not written"
        for key, got in labels.items():
            assert got == expect, key

    # "·(0)": a tiny negative weight drawn as 0 (test_a_weight_drawn_as_0_is_written_as_0)
    logical = [t.replace("·(0)", "·0") for t in _logical(fr.arithmetic)]
    bias_panel = panels.get("bias")
    for s in fr.sums:
        q = s.out_channel
        # the value: the engine's output (or the depthwise maps), and what the cell shows
        expected = values[(*o, q)]
        assert _close(s.value, expected), (s, expected)
        target = next(p for p in targets if p.channel == q) if q < sc.MAX_PANELS else None
        if target is not None and numbers:
            assert _drawn_equals(_text(target, o), expected)
        if not numbers:
            continue
        # recompute the value from the numbers drawn
        terms = []  # (channel, value text, weight text)
        if kind in ("conv", "transpose"):
            for c in read:
                kp = panels[f"k{c}"]
                w = np.asarray(layer.kernel, dtype=np.float64)
                for grid, cell, _, _ in slots:
                    if kind == "conv":
                        truth = w[(*cell, c - read[0], f)]
                    else:  # flipped: the panel's cell j shows tap k-1-j
                        truth = w[(*(k - 1 - v for k, v in zip(layer.kernel_size, cell)), f, c)]
                    assert _text(kp, cell) == sc.fmt(truth)
                    terms.append((c, _text(panels[f"in{c}"], grid), _text(kp, cell)))
        elif kind in ("depthwise", "separable") and phase == 0:
            m = layer.depth_multiplier
            c = q // m
            kp = panels[f"k{q}"]
            dw = layer.kernel if kind == "depthwise" else layer.depthwise_kernel
            for grid, cell, _, _ in slots:
                assert _text(kp, cell) == sc.fmt(dw[(*cell, c, q % m)])
                terms.append((c, _text(panels[f"in{c}"], grid), _text(kp, cell)))
        elif kind == "separable":
            pw = np.asarray(layer.pointwise_kernel).reshape(-1, layer.filters)
            pp = panels["pw"]
            for r in range(pw.shape[0]):
                cell = (r,) if len(pp.shape) == 1 else (0, r)
                assert _text(pp, cell) == sc.fmt(pw[r, f])
                mv = _text(panels[f"mid{r}"], o)
                assert _drawn_equals(mv, mid[(*o, r)])
                terms.append((r, mv, _text(pp, cell)))
        else:
            for grid, *_ in slots:
                v = _text(panels[f"in{q}"], grid)
                drawn = labels.get(f"in{q}", labels.get("in0", {}))
                w = drawn.get(grid, "1")  # no label: every weight is 1 (asserted above)
                terms.append((q, v, w))
        by = {}
        for c, v, w in terms:
            by[c] = by.get(c, 0.0) + float(v) * float(w)
        bias_text = None
        if getattr(layer, "use_bias", False) and not (kind == "separable" and phase == 0):
            if bias_panel is not None and bias_panel.channel == q:
                bias_text = _text(bias_panel, (0,) * len(bias_panel.shape))
            else:  # not drawn (see test_every_bias_the_arithmetic_adds_is_drawn)
                assert kind == "depthwise"
                bias_text = sc.fmt(layer.bias[q])
            assert _close(float(bias_text), layer.bias[q])
        pre = sum(by.values()) + (float(bias_text) if bias_text is not None else 0.0)
        slack = 5e-4 * sum(abs(float(v)) for _, v, _ in terms) if kind == "upsample" else 0.0
        assert _drawn_equals(sc.fmt(activate(pre, act)), expected, slack), (pre, expected)
        # the terms and per-channel subtotals of the sum are those drawn numbers
        mine = [t for t in fr.terms if t.out_channel == q]
        for c in by:
            got = sorted((sc.fmt(t.value), sc.fmt(t.weight)) for t in mine if t.channel == c)
            want = sorted((v, w) for cc, v, w in terms if cc == c)
            assert got == want, (c, got, want)
        assert [c for c, _ in s.by_channel] == list(by)
        for (_, sub), want in zip(s.by_channel, by.values()):
            assert _close(sub, want, 1e-3 if kind == "upsample" else 1e-9)
        # the arithmetic lines say it with the same numbers
        if q >= sc.MAX_PANELS:
            continue
        tail = f" + bias {bias_text}" if bias_text is not None else ""
        result = sc.fmt(expected if kind == "upsample" else pre)
        end = f" = {result}" + (f" → {act} → {sc.fmt(expected)}" if act not in (None, "linear")
                                else "")
        pointwise = kind == "separable" and phase == 1
        if len(by) <= 1 or pointwise:
            body = " + ".join(_term(v, w) for _, v, w in terms) or "0"
            if kind == "upsample":  # float32 y and the float64 sum may round apart
                # '≈' exactly when the weights as written (4 decimals) do not add up to it
                rounded = sum(float(v) * float(w) for _, v, w in terms)
                eq = "=" if sc.fmt(rounded) == sc.fmt(s.total) else "≈"
                head = f"{s.label} = {body}{tail} {eq} "
                line = next((t for t in logical if t.startswith(head)), None)
                assert line is not None, (logical, head)
                assert _drawn_equals(line[len(head):], expected, 1e-4)
            else:
                assert f"{s.label} = {body}{tail}{end}" in logical, (logical, body)
        else:
            for c in by:
                body = " + ".join(_term(v, w) for cc, v, w in terms if cc == c)
                assert f"ch{c}: {body} = {sc.fmt(by[c])}" in logical
            subs = " + ".join(f"ch{c} {sc.fmt(v)}" for c, v in by.items())
            assert f"{s.label} = {subs}{tail}{end}" in logical
        v = sc.fmt(expected)
        assert kind == "upsample" or any(line.endswith((f"= {v}", f"→ {v}")) for line in logical)


def _source(sample, grid):
    """The input cell behind a real grid cell of the input panel (independent geometry)."""
    layer = sample.layer
    kind = layer.trace_kind
    out = []
    for a, (n, g) in enumerate(zip(sample.spec.spatial, grid)):
        if kind in ("conv", "depthwise", "separable"):
            k, s, d = layer.kernel_size[a], layer.strides[a], layer.dilation_rate[a]
            out.append(g - conv_pads(n, k, s, d, layer.padding)[0])
        elif kind == "transpose":
            k, s, d = layer.kernel_size[a], layer.strides[a], layer.dilation_rate[a]
            op = None if layer.output_padding is None else layer.output_padding[a]
            lo = effective_kernel(k, d) - 1 - conv_transpose_crop(k, s, d, layer.padding, op)
            out.append((g + min(-lo, 0)) // s)
        elif kind == "pad":
            out.append(g - layer.padding[a][0])
        else:
            out.append(g)
    return tuple(out)


# ----------------------------------------------------------------------------- cases
def _spec(name, spatial, channels=1, **kwargs):
    return Spec(name, kwargs, spatial=spatial, channels=channels)


GATHER = [
    _spec("Conv1D", (7,), 2, filters=2, kernel_size=3, padding="causal", dilation_rate=2),
    _spec("Conv1D", (7,), 4, filters=4, kernel_size=3, groups=2, strides=2, padding="same"),
    _spec("Conv1D", (5,), 3, filters=2, kernel_size=2, data_format="channels_first"),
    _spec("Conv2D", (4, 4), 3, filters=2, kernel_size=3),
    _spec("Conv2D", (5, 6), 2, filters=2, kernel_size=3, strides=2, padding="same"),
    _spec("Conv2D", (5, 5), 4, filters=4, kernel_size=2, groups=2, dilation_rate=2,
          padding="same"),
    _spec("Conv2D", (5, 6), 2, filters=3, kernel_size=(2, 3), strides=(1, 2),
          data_format="channels_first", activation="relu"),
    _spec("Conv3D", (3, 3, 4), 2, filters=2, kernel_size=2),
    _spec("Conv3D", (3, 4, 4), 2, filters=2, kernel_size=2, groups=2, strides=2,
          padding="same", data_format="channels_first"),
    _spec("Conv1DTranspose", (3,), 2, filters=2, kernel_size=3, strides=2),
    _spec("Conv1DTranspose", (4,), 2, filters=2, kernel_size=3, strides=2, padding="same",
          output_padding=1),
    _spec("Conv1DTranspose", (3,), 1, filters=1, kernel_size=2, strides=3),
    _spec("Conv2DTranspose", (3, 3), 2, filters=2, kernel_size=3, strides=2, padding="same"),
    _spec("Conv2DTranspose", (3, 3), 2, filters=2, kernel_size=(3, 2), strides=(2, 1),
          output_padding=(1, 0)),
    _spec("Conv2DTranspose", (3, 3), 1, filters=1, kernel_size=3, dilation_rate=2),
    _spec("Conv2DTranspose", (2, 3), 2, filters=2, kernel_size=2, strides=2,
          data_format="channels_first"),
    _spec("Conv3DTranspose", (2, 2, 2), 2, filters=2, kernel_size=2, strides=2, padding="same"),
    _spec("Conv1DTranspose", (3,), 1, filters=2, kernel_size=2, strides=3, padding="same"),
    _spec("Conv2DTranspose", (3, 2), 1, filters=1, kernel_size=4, strides=2, padding="same",
          output_padding=1),
    _spec("Conv3DTranspose", (2, 2, 2), 1, filters=1, kernel_size=2, dilation_rate=2),
    _spec("DepthwiseConv1D", (7,), 2, kernel_size=3, depth_multiplier=2, strides=2,
          padding="same"),
    _spec("DepthwiseConv2D", (6, 6), 2, kernel_size=3, depth_multiplier=2, dilation_rate=2),
    _spec("DepthwiseConv2D", (5, 5), 3, kernel_size=2, depth_multiplier=2, strides=2,
          padding="same", data_format="channels_first"),
    _spec("SeparableConv1D", (6,), 2, filters=2, kernel_size=3, depth_multiplier=2,
          padding="same"),
    _spec("SeparableConv2D", (4, 4), 2, filters=2, kernel_size=3, depth_multiplier=2),
    _spec("SeparableConv2D", (5, 5), 2, filters=2, kernel_size=3, depth_multiplier=2,
          strides=2, padding="same"),
    _spec("Cropping1D", (6,), 2, cropping=(1, 2)),
    _spec("Cropping2D", (4, 5), 2, cropping=((1, 0), (0, 2))),
    _spec("Cropping3D", (3, 3, 4), 2, cropping=((1, 0), (0, 1), (1, 1))),
    _spec("ZeroPadding1D", (4,), 2, padding=(2, 1)),
    _spec("ZeroPadding2D", (3, 3), 2, padding=((1, 0), (2, 1))),
    _spec("ZeroPadding3D", (2, 2, 2), 2, padding=1),
    _spec("UpSampling1D", (4,), 2, size=3),
    _spec("UpSampling2D", (3, 3), 2, size=2),
    _spec("UpSampling2D", (3, 3), 2, size=(2, 3), interpolation="bilinear"),
    _spec("UpSampling2D", (3, 4), 1, size=2, interpolation="bicubic"),
    _spec("UpSampling2D", (2, 4), 1, size=2, interpolation="lanczos3"),
    _spec("UpSampling3D", (2, 2, 2), 2, size=2),
]

SCATTER = [
    _spec("Conv1DTranspose", (3,), 2, filters=2, kernel_size=3, strides=2),
    _spec("Conv1DTranspose", (4,), 2, filters=2, kernel_size=3, strides=2, padding="same",
          output_padding=1),
    _spec("Conv2DTranspose", (3, 3), 2, filters=2, kernel_size=3, strides=2, padding="same"),
    _spec("Conv2DTranspose", (2, 2), 1, filters=1, kernel_size=2, strides=3),
    _spec("Conv1DTranspose", (3,), 1, filters=2, kernel_size=2, strides=3, padding="same"),
    _spec("Conv2DTranspose", (3, 2), 1, filters=1, kernel_size=4, strides=2, padding="same",
          output_padding=1),
    _spec("Conv3DTranspose", (2, 2, 2), 2, filters=2, kernel_size=2, strides=2),
]


def _id(spec) -> str:
    args = ",".join(f"{k}={v}" for k, v in spec.kwargs)
    return f"{spec.name}[{args};{spec.spatial}x{spec.channels}]".replace(" ", "")


def test_every_layer_class_is_checked():
    assert {s.name for s in GATHER} == set(convviz.LAYERS)
    assert {s.name for s in SCATTER} == {n for n in convviz.LAYERS if n.endswith("Transpose")}


def _filters(spec):
    """Filters to show: the last one too, when there are several (the filter option)."""
    out = spec.arguments.get("filters", 1)
    return [0] if out == 1 or spec.name.startswith(("Depthwise",)) else [0, out - 1]


@pytest.mark.parametrize("spec", GATHER, ids=_id)
def test_the_picture_adds_up_gather(spec):
    sample = run(spec)
    for f in _filters(spec):
        scene = sc.build(sample, numbers=True, filter=f)
        assert scene.filter == f
        n = math.prod(_last(sample, sample.y).shape[:-1])
        assert scene.steps == (2 * n if spec.name.startswith("Separable") else n)
        steps = _spread(scene.steps) if f == 0 else [0, scene.steps - 1]
        if spec.name.startswith("Separable"):
            steps = sorted(set(steps) | {0, n - 1, n, scene.steps - 1})
        for i in steps:
            _check_gather_step(scene, i)


def _case(name, k=0):
    """The ``k``-th gather case of layer ``name``."""
    return [s for s in GATHER if s.name == name][k]


@pytest.mark.parametrize("spec", [_case("Conv2D"), _case("Conv2DTranspose"),
                                  _case("DepthwiseConv2D"), _case("SeparableConv2D"),
                                  _case("UpSampling2D", 1)], ids=_id)
def test_the_sums_hold_without_numbers(spec):
    """numbers=False: no value is written in the cells, the sums are still y."""
    sample = run(spec)
    scene = sc.build(sample, numbers=False)
    for p in scene.panels:
        if p.kind in ("input", "output", "intermediate"):
            assert set(p.text.tolist()) == {""}, p.key
    for i in _spread(scene.steps, 12):
        _check_gather_step(scene, i, numbers=False)


@pytest.mark.parametrize("spec,f", [
    (_case("Conv2D"), 1),
    (_case("Conv1D"), 0),
    (_case("Conv2DTranspose"), 1),
    (_case("Conv3DTranspose", 1), 0),
    (_case("DepthwiseConv2D"), 0),
    (_case("SeparableConv1D"), 1),
    (_case("Conv1D", 1), 1),  # groups=2: filter 1 is in group 0
    (_case("Conv1D", 1), 3),  # group 1 reads channels 2, 3
    (_spec("Conv2D", (3, 3), 2, filters=2, kernel_size=2, groups=2), 1),
], ids=lambda v: _id(v) if isinstance(v, Spec) else f"filter={v}")
def test_kernel_index_labels_sit_on_the_window(spec, f):
    """numbers=False: the window's taps are labelled with the kernel tap each one uses."""
    sample = run(spec)
    layer = sample.layer
    kind = layer.trace_kind
    scene = sc.build(sample, numbers=False, filter=f)
    cin = _last(sample, sample.x).shape[-1]
    out_shape = _last(sample, sample.y).shape[:-1]
    first = 0
    if kind == "conv":
        first = f // (layer.filters // layer.groups) * (cin // layer.groups)
    panel = scene.panel(f"in{first}")
    n = math.prod(out_shape)
    for i in _spread(n, 8):
        fr = scene.frame(i)
        o = np.unravel_index(i, out_shape)
        slots, _ = _window(sample, o)
        want = {}
        for grid, cell, _, _ in slots:
            tap = cell if kind != "transpose" else tuple(
                k - 1 - v for k, v in zip(layer.kernel_size, cell))
            (x,), (y,) = panel.xy(np.array([grid]))
            want[(int(x), int(y))] = ",".join(str(v) for v in tap)
            assert _text(scene.panel(f"k{first}"), cell) == want[(int(x), int(y))]
        got = dict(zip(zip(np.asarray(fr.texts[0]).tolist(), np.asarray(fr.texts[1]).tolist()),
                       fr.texts[2]))
        (ox, oy), (cols, rows) = panel.origin, panel.size
        on_panel = {xy: t for xy, t in got.items()
                    if ox <= xy[0] < ox + cols and oy <= xy[1] < oy + rows}
        assert on_panel == want, i
        # every other label sits on another input channel the window reads, same taps
        read = [p for p in scene.panels if p.kind == "input" and p is not panel
                and any(p.origin[0] <= x < p.origin[0] + p.size[0]
                        and p.origin[1] <= y < p.origin[1] + p.size[1] for x, y in got)]
        assert len(got) == len(want) * (1 + len(read)), i
        # and they sit on the window's boxes
        boxed = _boxed(scene, fr, "tap").get(panel.key, []) + _boxed(
            scene, fr, "tap_pad").get(panel.key, [])
        assert sorted(boxed) == sorted(g for g, *_ in slots)


def _dejavu_px(text: str, size: float) -> float:
    """``text``'s advance width at ``size`` px in DejaVu Sans, as matplotlib lays it out
    (its ink is about a pixel narrower: the glyphs' side bearings)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath
    prop = FontProperties(family="DejaVu Sans", size=size)
    return TextToPath().get_text_width_height_descent(text, prop, ismath=False)[0]


@pytest.mark.parametrize("text", ["0", "0,0", "2,2,2", "-10", "0.75", "-0.3333", "12,3"])
def test_text_px_measures_like_the_font(text):
    """The width a scene reckons a label takes is the font's (within 2 %)."""
    assert sc.text_px(text, 10) == pytest.approx(_dejavu_px(text, 10), rel=0.02)


@pytest.mark.parametrize("view", ["gather", "scatter"])
def test_tap_indices_too_wide_for_their_cells_are_left_out(view):
    """A 3-D kernel's tap indices ("0,0,1": 18 px at the 7 px font) do not fit cells
    shrunk to 11-14 px: the kernel cells and the window's taps then carry no label
    (hover still names the tap), and a notice says where to read them."""
    spec = _spec("Conv3DTranspose", (4, 4, 4), 2, filters=2, kernel_size=3, strides=2)
    scene = sc.build(run(spec), view=view, numbers=False)
    assert scene.cell_px <= 14
    kernels = [p for p in scene.panels if p.kind == "kernel"]
    assert kernels and all(set(p.text.tolist()) == {""} for p in kernels)
    assert all(h.startswith("kernel tap (") for p in kernels for h in p.hover)
    notice = [n for n in scene.notices if "tap indices" in n]
    assert notice and f"({scene.cell_px} px)" in notice[0]
    for i in scene.frames_at[:10]:
        fr = scene.frame(int(i))
        if fr.text_kind == "tap":
            assert list(fr.texts[2]) == [], i
    # every label a scene keeps fits its cell (a pixel over at most), by the font itself
    f = scene.fonts
    for i in scene.frames_at[:10]:
        fr = scene.frame(int(i))
        for t in fr.texts[2]:
            assert _dejavu_px(t, f[fr.text_kind]) <= scene.cell_px + 1, (i, t)


def test_tap_indices_that_fit_are_written():
    """With room (a 3x3x3 input draws 38 px cells) the indices are all there."""
    spec = _spec("Conv3D", (3, 3, 3), 1, filters=2, kernel_size=3, padding="same")
    scene = sc.build(run(spec), numbers=False)
    assert scene.cell_px >= 30
    assert scene.panel("k0").text.tolist()[:3] == ["0,0,0", "0,0,1", "0,0,2"]
    assert not [n for n in scene.notices if "tap indices" in n]
    assert len(scene.frame(13).texts[2]) == 27  # the centre output reads all 27 taps
    for t in scene.panel("k0").text:
        assert _dejavu_px(t, scene.fonts["value"]) <= scene.cell_px + 1


# ----------------------------------------------------------------------------- scatter
def _scatter_running(sample, f=None):
    """Running output after each input cell scatters: ``(steps, *out_shape, filters)``.

    ``full[i*s + j*d] += x[i] * W[j]`` (W: kernel_size + (filters, Cin)), cropped by the
    padding, starting from the bias: loops here, not the engine's or the scene's.
    """
    layer = sample.layer
    x = _last(sample, sample.x)
    w = np.asarray(layer.kernel, dtype=np.float64)
    y = _last(sample, sample.y)
    rank = sample.spec.rank
    ops = layer.output_padding or (None,) * rank
    crops = [conv_transpose_crop(k, s, d, layer.padding, op)
             for k, s, d, op in zip(layer.kernel_size, layer.strides, layer.dilation_rate, ops)]
    out = np.zeros(y.shape) + (np.asarray(layer.bias, dtype=np.float64) if layer.use_bias
                               else 0.0)
    steps = []
    for i in itertools.product(*(range(n) for n in x.shape[:-1])):
        for j in itertools.product(*(range(k) for k in layer.kernel_size)):
            pos = tuple(ii * s + jj * d - c for ii, jj, s, d, c in
                        zip(i, j, layer.strides, layer.dilation_rate, crops))
            if all(0 <= p < m for p, m in zip(pos, y.shape[:-1])):
                out[pos] += w[j] @ x[i]
        steps.append(out.copy())
    return np.array(steps), crops


@pytest.mark.parametrize("spec", SCATTER, ids=_id)
def test_the_picture_adds_up_scatter(spec):
    sample = run(spec)
    layer = sample.layer
    x, y = _last(sample, sample.x), _last(sample, sample.y)
    running, crops = _scatter_running(sample)
    np.testing.assert_allclose(running[-1], y, rtol=1e-6, atol=1e-6)  # closes on the engine
    in_shape, out_shape = x.shape[:-1], y.shape[:-1]
    cout = y.shape[-1]
    w = np.asarray(layer.kernel, dtype=np.float64)
    for f in sorted({0, cout - 1}):
        scene = sc.build(sample, view="scatter", numbers=True, filter=f)
        assert scene.steps == math.prod(in_shape)
        panels = {p.key: p for p in scene.panels}
        where = _where(scene)
        outs = [p for p in scene.panels if p.kind == "output"]
        assert [p.channel for p in outs] == list(range(cout))
        for i in _spread(scene.steps, 12) if f == 0 else [0, scene.steps - 1]:
            fr = scene.frame(i)
            idx = tuple(int(v) for v in np.unravel_index(i, in_shape))
            assert fr.covers == []
            # running values drawn over every output cell
            seen = {}
            for a, b, t in zip(np.asarray(fr.texts[0]).tolist(),
                               np.asarray(fr.texts[1]).tolist(), fr.texts[2]):
                p, g, _ = where[(a, b)]
                assert p.kind == "output" and (p.key, g) not in seen
                seen[(p.key, g)] = t
            assert len(seen) == cout * math.prod(out_shape)
            for (key, g), t in seen.items():
                assert _drawn_equals(t, running[i][(*g, panels[key].channel)]), (i, key, g, t)
            # the boxes: the input cell, and the patch it adds to (filter f only)
            assert _boxed(scene, fr, "current") == {f"in{c}": [idx] for c in range(x.shape[-1])}
            patch, lines_want = [], []
            before = running[i - 1] if i else running[0] * 0 + (
                np.asarray(layer.bias, dtype=np.float64))
            for j in itertools.product(*(range(k) for k in layer.kernel_size)):
                pos = tuple(ii * s + jj * d - c for ii, jj, s, d, c in
                            zip(idx, j, layer.strides, layer.dilation_rate, crops))
                if not all(0 <= p < m for p, m in zip(pos, out_shape)):
                    continue
                patch.append(pos)
                parts, total = [], float(before[(*pos, f)])
                for c in range(x.shape[-1]):
                    v = _text(panels[f"in{c}"], idx)
                    wt = _text(panels[f"k{c}"], j)  # scatter view: the kernel unflipped
                    assert v == sc.fmt(x[(*idx, c)]) and wt == sc.fmt(w[(*j, f, c)])
                    parts.append(_term(v, wt))
                    total += float(v) * float(wt)
                assert _close(total, running[i][(*pos, f)])
                lines_want.append(f"out{_coord(pos)} = {sc.fmt(before[(*pos, f)])} + "
                                  + " + ".join(parts) + f" = {sc.fmt(total)}")
            boxes = _boxed(scene, fr, "patch")
            assert {k: sorted(v) for k, v in boxes.items()} == (
                {f"out{f}": sorted(patch)} if patch else {})
            logical = _logical(fr.arithmetic)
            if i == 0:
                bias = panels["bias"].text[0]
                assert logical[0] == f"every output cell starts at the bias ({bias})"
                assert _close(float(panels["bias"].text[0]), layer.bias[f])
                logical = logical[1:]
            assert logical[:12] == lines_want[:12]


# ----------------------------------------------------------------------------- covers
def _covered(scene, fr) -> set:
    cells = _where(scene)
    hit = set()
    for x0, y0, x1, y1 in fr.covers:
        assert x0 <= x1 and y0 <= y1
        hit |= {(a, b) for a in range(x0, x1 + 1) for b in range(y0, y1 + 1)}
    return hit & set(cells)


COVER_CASES = [_case("Conv1D"), _case("Conv2D", 1), _case("Conv3D", 1), _case("Conv2DTranspose"),
               _case("Conv3DTranspose"), _case("DepthwiseConv2D"), _case("SeparableConv1D"),
               _case("SeparableConv2D", 1), _case("Cropping2D"), _case("ZeroPadding3D"),
               _case("UpSampling2D", 1)]


@pytest.mark.parametrize("spec", COVER_CASES, ids=_id)
def test_covers_hide_exactly_the_cells_not_yet_written(spec):
    sample = run(spec)
    out_shape = _last(sample, sample.y).shape[:-1]
    n = math.prod(out_shape)
    cells = sc.all_cells(out_shape)
    scene = sc.build(sample, numbers=True, reveal=False)
    separable = spec.name.startswith("Separable")
    for i in _spread(scene.steps):
        phase, j = (1, i - n) if separable and i >= n else (0, i)
        want = set()
        stage = "intermediate" if separable and phase == 0 else "output"
        for p in scene.panels:
            if p.kind == stage:
                x, y = p.xy(cells[j + 1:])
                want |= set(zip(x.tolist(), y.tolist()))
            elif separable and phase == 0 and p.kind == "output":
                x, y = p.xy(cells)  # the pointwise stage has written nothing yet
                want |= set(zip(x.tolist(), y.tolist()))
        assert _covered(scene, scene.frame(i)) == want, i
    revealed = sc.build(sample, numbers=True, reveal=True)
    for i in _spread(revealed.steps):
        assert revealed.frame(i).covers == []


@pytest.mark.parametrize("spec", SCATTER[:3], ids=_id)
def test_scatter_reveal_shows_the_final_values(spec):
    sample = run(spec)
    y = _last(sample, sample.y)
    scene = sc.build(sample, view="scatter", numbers=True, reveal=True)
    where = _where(scene)
    fr = scene.frame(0)
    assert fr.covers == []
    for a, b, t in zip(np.asarray(fr.texts[0]).tolist(), np.asarray(fr.texts[1]).tolist(),
                       fr.texts[2]):
        p, g, _ = where[(a, b)]
        assert _drawn_equals(t, y[(*g, p.channel)])


def test_float_noise_weights_are_neither_drawn_nor_counted():
    """Lanczos weights of ~1e-17 (sinc at its zeros) are zeros: no label, no term, no count."""
    spec = _spec("UpSampling2D", (2, 2), 1, size=(3, 1), interpolation="lanczos3")
    scene = sc.build(run(spec), numbers=True)
    fr = scene.frame(0)
    assert fr.texts[2] and "0" not in fr.texts[2]
    assert not any("·0" in line or "(0)" in line for line in fr.arithmetic), fr.arithmetic
    n = len(fr.texts[2])
    assert f"interpolates {n} input cell" in fr.caption
    assert len(fr.boxes["tap"][0]) == n


@pytest.mark.parametrize("numbers", [True, False])
def test_interpolation_subtitle_claims_weights_only_where_drawn(numbers):
    """The subtitle speaks of the values only where they are drawn: without numbers the
    cells hold no value and no sum is written, only the weights in the tapped cells, and
    it says how to turn the numbers on."""
    spec = _spec("UpSampling2D", (3, 3), 1, size=2, interpolation="bilinear")
    scene = sc.build(run(spec), numbers=numbers)
    fr = scene.frame(4)
    assert fr.texts[2] == ("0.25", "0.75")  # the weights, in the tapped cells, either way
    assert any(scene.panel("in0").text) == numbers  # the values
    assert bool(fr.arithmetic) == numbers  # the sum
    assert ("under its cell's value" in scene.subtitle) == numbers
    assert ("--numbers" in scene.subtitle) != numbers
    assert scene.subtitle.startswith("Each output cell is a weighted sum of input cells")


def test_a_negative_weight_is_written_in_parentheses_as_drawn():
    spec = _spec("Conv1D", (4,), 1, filters=1, kernel_size=3)
    scene = sc.build(run(spec), numbers=True)
    for t in scene.frame(0).terms:
        text = sc._term_text(t)
        assert text.endswith(f"·({sc.fmt(t.weight)})") == sc.fmt(t.weight).startswith("-")


# ----------------------------------------------------------------------------- bias drawn
BIASED = [s for s in GATHER if s.name.startswith(("Conv", "Depthwise", "Separable"))]


def _bias_case(spec):
    return pytest.param(spec, id=_id(spec))


@pytest.mark.parametrize("spec", [_bias_case(s) for s in BIASED])
def test_every_bias_the_arithmetic_adds_is_drawn(spec):
    """The picture adds up only if the bias it adds is on the canvas, not just in the text."""
    sample = run(spec)
    scene = sc.build(sample, numbers=True)
    fr = scene.frame(0)
    biases = [p for p in scene.panels if p.kind == "bias"]
    for s in fr.sums:
        if s.bias is None:
            continue
        # one cell per filter shown, or (depthwise) a row with every output channel's bias
        row = [p for p in biases if len(p.text) > 1]
        shown = ([float(row[0].text[s.out_channel])] if row else
                 [float(p.text[0]) for p in biases if p.channel == s.out_channel])
        assert shown, f"{s.label} adds bias {s.bias}; no panel draws it"
        assert _close(shown[0], sample.layer.bias[s.out_channel])


# ----------------------------------------------------------------------------- painters
def _player_cells(d) -> dict:
    """``(x, y) -> (fill, text)`` of every cell the browser's player paints."""
    c = d["cells"]
    return {(x, y): (to_hex(d["palette"][f]), t)
            for x, y, f, t in zip(c["x"], c["y"], c["f"], c["t"])}


def _mpl_cells(painter) -> dict:
    ax = painter.ax
    cells = ax.collections[0]
    faces = cells.get_facecolor()
    colour = {}
    for path, face in zip(cells.get_paths(), faces):
        v = path.vertices
        cx, cy = (v.min(0) + v.max(0)) / 2
        assert np.allclose(v.max(0) - v.min(0), 1.0)
        colour[(round(cx), round(cy))] = to_hex(face)
    texts = {}
    x, y, text, size, color = painter.values()
    assert color == sc.TEXT
    for tx, ty, t in zip(x, y, text):
        assert float(tx).is_integer() and float(ty).is_integer()
        assert (int(tx), int(ty)) not in texts
        if t:
            texts[(int(tx), int(ty))] = str(t)
    for t in ax.texts:  # titles and ticks are matplotlib texts, never on a cell's centre
        tx, ty = (float(v) for v in t.get_position())
        assert not (tx.is_integer() and ty.is_integer() and (int(tx), int(ty)) in colour)
    return {k: (c, texts.pop(k, "")) for k, c in colour.items()}, texts


def _rect_cells(verts) -> tuple:
    v = np.asarray(verts)
    x0, y0 = v.min(0) + 0.5
    x1, y1 = v.max(0) - 0.5
    return tuple(int(round(t)) for t in (x0, y0, x1, y1))


def _player_frame(d, i) -> dict:
    """One frame of the player's payload, in canvas cells (lines: canvas y and text)."""
    k = d["frames"].index(i)
    fr = d["steps_data"][k]
    boxes = {r: sorted(zip(*fr["b"].get(r, [[], []]))) for r in sc.BOX_ROLES}
    labels = sorted((a, b, t) for a, b, t in zip(*player.labels(d)[k]) if t)
    lines = [(round((d["lines_y0"] + k * d["line_px"] - d["top"]) / d["cell"] - 0.5, 6), t)
             for k, t in enumerate(fr["l"])]
    return dict(boxes=boxes, labels=labels, lines=lines, covers=sorted(map(tuple, fr["c"])),
                tints=sorted(map(tuple, fr["t"])))


def _mpl_frame(painter, i) -> dict:
    arts = painter.artists(i)
    try:
        boxes = {r: [] for r in sc.BOX_ROLES}
        covers, tints, lines = [], [], []
        r, g, b, alpha = (float(v) for v in sc.WRITTEN_TINT[5:-1].split(","))  # "rgba(...)"
        tint = np.array([r / 255, g / 255, b / 255, alpha])
        tx, ty, tt, size, color = painter.labels(i)
        labels = [(float(a), float(b), str(t)) for a, b, t in zip(tx, ty, tt) if t]
        for a in arts:
            if isinstance(a, Text):
                tx, ty = (float(v) for v in a.get_position())
                assert tx == -0.5  # only the caption and arithmetic lines are Text
                lines.append((ty, a.get_text()))
                continue
            paths = [p.vertices for p in a.get_paths()]
            face = a.get_facecolor()
            edge = a.get_edgecolor()
            if len(face) and np.allclose(face[0], to_rgba(sc.COVER)) and not len(edge):
                covers += [_rect_cells(v) for v in paths]
            elif len(face) and np.allclose(face[0], tint):
                tints += [_rect_cells(v) for v in paths]
            else:
                roles = [r for r in sc.BOX_ROLES
                         if to_hex(edge[0]) == sc.BOXES[r][0] and len(boxes[r]) == 0]
                centres = sorted(tuple(int(round(c)) for c in (v.min(0) + v.max(0)) / 2)
                                 for v in paths)
                if len(roles) > 1:  # tap and patch share a colour: name them by the scene
                    fr = painter.scene.frame(i)
                    roles = [r for r in roles if sorted(zip(
                        *(np.asarray(v).tolist() for v in fr.boxes.get(r, ((), ()))))) == centres]
                assert len(roles) == 1, (roles, centres)
                boxes[roles[0]] = centres
        return dict(boxes={r: sorted(v) for r, v in boxes.items()}, labels=sorted(labels),
                    lines=sorted(lines), covers=sorted(covers), tints=sorted(tints))
    finally:
        for a in arts:
            a.remove()


PAINTER_CASES = [
    (_spec("Conv2D", (4, 4), 3, filters=2, kernel_size=3, padding="same"), "gather", 1),
    (_spec("Conv3D", (3, 3, 4), 2, filters=2, kernel_size=2, groups=2), "gather", 0),
    (_spec("Conv1DTranspose", (3,), 2, filters=2, kernel_size=3, strides=2), "scatter", 1),
    (_spec("Cropping2D", (4, 5), 2, cropping=((1, 0), (0, 2))), "gather", 0),
    (_spec("UpSampling2D", (3, 3), 2, size=2, interpolation="bilinear"), "gather", 0),
    (_spec("SeparableConv2D", (4, 4), 2, filters=2, kernel_size=3, depth_multiplier=2),
     "gather", 1),
]


@pytest.mark.parametrize("spec,view,f", PAINTER_CASES, ids=lambda v: _id(v) if isinstance(
    v, Spec) else str(v))
def test_the_two_painters_paint_the_same_scene(spec, view, f):
    scene = sc.build(run(spec), view=view, numbers=True, filter=f)
    d = json.loads(json.dumps(player.payload(scene)))  # as the browser reads it
    painter = ScenePainter(scene)
    statics = (len(painter.ax.texts), len(painter.ax.collections))
    player_cells = _player_cells(d)
    mpl_cells, stray = _mpl_cells(painter)
    assert not stray, f"texts at cell positions with no cell: {stray}"
    x, y, fill, text, *_ = scene.cells
    expect = {(int(a), int(b)): (to_hex(c), str(t)) for a, b, c, t in zip(x, y, fill, text)}
    assert len(expect) == len(x)
    assert player_cells == expect
    assert mpl_cells == expect
    for i in sorted({int(scene.frames_at[0]), int(scene.frames_at[len(scene.frames_at) // 2]),
                     int(scene.frames_at[-1])}):
        fr = scene.frame(i)
        p, m = _player_frame(d, i), _mpl_frame(painter, i)
        assert p["boxes"] == m["boxes"], i
        assert p["covers"] == m["covers"] == sorted(tuple(b) for b in fr.covers)
        assert p["tints"] == m["tints"] == sorted(tuple(b) for b in fr.tints)
        assert p["labels"] == m["labels"]
        assert [(pytest.approx(y), t) for y, t in sorted(p["lines"])] == m["lines"]
        assert [t for _, t in p["lines"]] == list(fr.lines)
        assert list(fr.lines[len(fr.lines) - len(fr.arithmetic):]) == list(fr.arithmetic)
        caption = fr.lines[:len(fr.lines) - len(fr.arithmetic)]
        assert " ".join(c.strip() for c in caption) == fr.caption  # wrapped, nothing lost
        assert any(p["boxes"].values())
    # the painter's own frames leave nothing behind either
    painter.frame(int(scene.frames_at[-1]))
    assert (len(painter.ax.texts), len(painter.ax.collections)) == statics


def test_exported_png_is_the_painted_frame():
    spec = PAINTER_CASES[0][0]
    data = export.png_bytes(spec, 3, numbers=True, filter=1)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    frames = dict(export.render_frames(spec, numbers=True, steps=[3], filter=1))
    scene = sc.build(run(spec), numbers=True, filter=1)
    painter = ScenePainter(scene)
    np.testing.assert_array_equal(frames[3], painter.frame(3))


def _matplotlib_frame(scene, i: int) -> np.ndarray:
    """Step ``i`` drawn with every number a matplotlib ``Text`` (as the painter drew it
    before :class:`~convviz.viz.painter.Stamps`): values in the background, labels over
    the frame's boxes."""
    ref = ScenePainter(scene)
    x, y, texts, size, color = ref.values()
    for a, b, t in zip(x, y, texts):
        if t:
            ref.ax.text(a, b, t, ha="center", va="center", fontsize=size, color=color)
    ref.canvas.draw()
    renderer = ref.canvas.get_renderer()
    arts = ref.artists(i)
    x, y, texts, size, color = ref.labels(i)
    arts += [ref.ax.text(a, b, t, ha="center", va="center", fontsize=size, color=color,
                         animated=True) for a, b, t in zip(x, y, texts) if t]
    for a in arts:
        a.draw(renderer)
    return np.asarray(ref.canvas.buffer_rgba())[..., :3].copy()


@pytest.mark.parametrize("spec,view,f", PAINTER_CASES, ids=lambda v: _id(v) if isinstance(
    v, Spec) else str(v))
@pytest.mark.parametrize("numbers", [False, True])
def test_stamped_numbers_are_the_pixels_matplotlib_draws(spec, view, f, numbers):
    scene = sc.build(run(spec), view=view, numbers=numbers, filter=f)
    painter = ScenePainter(scene)
    for i in sorted({0, int(scene.frames_at[len(scene.frames_at) // 2]),
                     int(scene.frames_at[-1])}):
        got, want = painter.frame(i).astype(int), _matplotlib_frame(scene, i).astype(int)
        assert got.shape == want.shape
        diff = np.abs(got - want)
        assert diff.max() <= 1, (i, int(diff.max()), int((diff > 1).sum()))  # blend rounding
    assert len(painter.stamps.masks) < 200  # one mask per distinct text, not per cell


# ----------------------------------------------------------------------------- sample data
@pytest.mark.parametrize("spec", [
    _spec("Conv2DTranspose", (3, 3), 1, filters=1, kernel_size=3),  # the transposed page
    _spec("Conv2D", (5, 5), 1, filters=1, kernel_size=3),
    _spec("Conv1D", (7,), 3, filters=1, kernel_size=3),
    _spec("Conv3D", (3, 3, 4), 2, filters=1, kernel_size=2, data_format="channels_first"),
    _spec("DepthwiseConv2D", (6, 6), 2, kernel_size=3),
    _spec("UpSampling2D", (2, 2), 1, size=2),
], ids=_id)
def test_sample_input_has_no_all_zero_line(spec):
    for seed in (0, 1, 7):
        x = sample_input(spec, seed)
        assert x.shape == spec.input_shape and x.dtype == np.float32
        assert np.array_equal(x, np.round(x)) and x.min() >= 1 and x.max() <= 4
        for axis in range(1, x.ndim):
            assert np.any(x != 0, axis=axis).all(), (seed, axis)
    np.testing.assert_array_equal(sample_input(spec), sample_input(spec))


# ----------------------------------------------------------------------------- explain table
@pytest.mark.parametrize("f", [0, 1])
def test_explain_table_of_a_pointwise_step_adds_up(f):
    spec = _spec("SeparableConv2D", (4, 4), 2, filters=2, kernel_size=3, depth_multiplier=2)
    sample = run(spec)
    layer = sample.layer
    scene = sc.build(sample, numbers=True, filter=f)
    n = 4
    x, y = _last(sample, sample.x), _last(sample, sample.y)
    mid = depthwise_ref(x[None], layer.depthwise_kernel, None)[0]
    pw = np.asarray(layer.pointwise_kernel).reshape(4, 2)
    for j in range(n):
        o = np.unravel_index(j, (2, 2))
        rows = scene.explain_rows(n + j)
        point = [r for r in rows if r["stage"] == "pointwise"]
        assert [r["channel"] for r in point] == ["0", "1", "2", "3"]
        assert all(r["output"] == str(f) for r in point)
        for r in point:
            q = int(r["channel"])
            assert float(r["value"]) == mid[(*o, q)] and float(r["weight"]) == pw[q, f]
            assert float(r["product"]) == float(r["value"]) * float(r["weight"])
        bias = [r for r in rows if r["stage"] == "bias"]
        total = [r for r in rows if r["stage"] == "= output"]
        assert len(bias) == 1 and len(total) == 1
        assert float(bias[0]["product"]) == layer.bias[f]
        value = sum(float(r["product"]) for r in point) + float(bias[0]["product"])
        assert float(total[0]["product"]) == value == y[(*o, f)]
        assert total[0]["cell"] == f"out{_coord(o)} filter {f}"


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_explain_table_has_no_inserted_zero_without_strides(padding):
    spec = _spec("Conv2DTranspose", (3, 3), 2, filters=2, kernel_size=3, padding=padding)
    scene = sc.build(run(spec), numbers=True)
    saw_padding = False
    for i in range(scene.steps):
        for r in scene.explain_rows(i):
            assert "inserted" not in r["cell"], (i, r)
            if r["cell"].startswith("padding"):
                saw_padding = True
                assert r["value"] == "0" and r["product"] == "0"
    assert saw_padding
    strided = sc.build(run(_spec("Conv2DTranspose", (3, 3), 1, filters=1, kernel_size=3,
                                 strides=2)), numbers=True)
    cells = [r["cell"] for r in strided.explain_rows(1)]
    assert any(c.startswith("inserted zero") for c in cells)


# ----------------------------------------------------------------------------- properties
@st.composite
def _conv_configs(draw):
    rank = draw(st.sampled_from([1, 2]))
    k = draw(st.integers(1, 3))
    s = draw(st.integers(1, 2))
    d = 1 if s > 1 else draw(st.integers(1, 2))
    padding = draw(st.sampled_from(["valid", "same"] + (["causal"] if rank == 1 else [])))
    groups = draw(st.sampled_from([1, 2]))
    channels = groups * draw(st.integers(1, 2))
    filters = groups * draw(st.integers(1, 2))
    ke = d * (k - 1) + 1
    spatial = tuple(draw(st.integers(ke, ke + 3)) for _ in range(rank))
    fmt = draw(st.sampled_from(["channels_last", "channels_first"]))
    spec = _spec(f"Conv{rank}D", spatial, channels, filters=filters, kernel_size=k, strides=s,
                 dilation_rate=d, padding=padding, groups=groups, data_format=fmt)
    return spec, draw(st.integers(0, filters - 1))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_conv_configs(), st.data())
def test_random_conv_steps_add_up(config, data):
    spec, f = config
    sample = run(spec)
    scene = sc.build(sample, numbers=True, filter=f)
    i = data.draw(st.integers(0, scene.steps - 1))
    _check_gather_step(scene, i)


def test_reference_resize_matches_the_engine():
    """The weights the gather check expects (reference.resize_weights) are the engine's."""
    for interp in ("bilinear", "bicubic", "lanczos3"):
        spec = _spec("UpSampling2D", (3, 4), 2, size=(2, 3), interpolation=interp)
        sample = run(spec)
        np.testing.assert_allclose(_last(sample, sample.y),
                                   resize_ref(_last(sample, sample.x)[None], (2, 3), interp)[0],
                                   atol=1e-5)


def test_scatter_view_shades_the_overlap_and_counts_patches_without_numbers():
    """The checkerboard stays visible with numbers off: the output is shaded by how many
    patches add to each cell, and the cells count the patches written so far."""
    spec = _spec("Conv2DTranspose", (3, 3), 1, filters=1, kernel_size=3, strides=2)
    sample = run(spec)
    scene = sc.build(sample, view="scatter", numbers=False)
    out = scene.panel("out0")
    count = sample.layer.trace(spec.input_shape, view="scatter").overlap_count().reshape(-1)
    # independent: along each axis of kernel 3, stride 2, output o gets 1 or 2 taps
    per_axis = np.array([1, 1, 2, 1, 2, 1, 1])
    assert count.tolist() == np.outer(per_axis, per_axis).reshape(-1).tolist()
    darker = {int(c): f for c, f in zip(count, out.fill)}
    assert len(darker) == len(set(count.tolist())) == 3  # one shade per count
    assert darker[4] < darker[2] < darker[1]  # hex: darker blues are smaller numbers
    last = scene.frame(scene.steps - 1)
    texts = dict(zip(zip(np.asarray(last.texts[0]).tolist(), np.asarray(last.texts[1]).tolist()),
                     last.texts[2]))
    x, y = out.xy(sc.all_cells(out.shape))
    assert [int(texts[(a, b)]) for a, b in zip(x.tolist(), y.tolist())] == count.tolist()
    first = scene.frame(0)
    assert sorted(set(first.texts[2])) == ["0", "1"]  # input (0, 0)'s patch only
    assert ("overlap", sc.LEGEND_TEXT["overlap"]) in scene.legend


@given(st.integers(1, 5000), st.integers(2, 400))
@settings(max_examples=60, deadline=None)
def test_frame_indices(steps, limit):
    idx = sc.frame_indices(steps, limit)
    assert len(idx) == min(steps, limit)
    assert idx[0] == 0 and idx[-1] == steps - 1 and np.all(np.diff(idx) > 0)


def test_hovering_a_blank_output_does_not_give_its_value_away():
    spec = Spec("Conv2D", {"filters": 1, "kernel_size": 3}, (5, 5))
    y = view.build(spec).sample.y[0, 2, 0, 0]
    for reveal in (False, True):
        out = view.build(spec, reveal=reveal).scene.panel("out0")
        text = out.hover[6]  # output (2, 0)
        assert text.startswith("output filter 0 (2, 0)")
        assert (f"= {sc.fmt(y)}" in text) == reveal, text


@pytest.mark.parametrize("spec,view", [(s, "gather") for s in GATHER]
                         + [(s, "scatter") for s in SCATTER], ids=lambda v: v if
                         isinstance(v, str) else _id(v))
def test_the_outlines_alone_are_the_frames_outlines(spec, view):
    """``Scene.boxes`` (what the player's hover links read for every step, without the
    arithmetic) outlines exactly what the frame does, on a scene that has made no frame."""
    sample = run(spec)
    fresh = sc.build(sample, view=view, numbers=True)
    framed = sc.build(sample, view=view, numbers=True)
    for i in range(fresh.steps):
        alone = fresh.boxes(i)
        assert not fresh._cache  # no frame was made for it
        whole = framed.frame(i).boxes
        assert alone.keys() == whole.keys()
        for role in whole:
            np.testing.assert_array_equal(alone[role][0], whole[role][0], err_msg=role)
            np.testing.assert_array_equal(alone[role][1], whole[role][1], err_msg=role)
    with pytest.raises(ValueError, match="out of range"):
        fresh.boxes(fresh.steps)


def _links_from_frames(scene) -> list:
    """The hover links as the frames outline them: each step's ``current`` cells, and its
    ``tap``/``tap_pad``/``patch`` cells, as payload cell indices (the reference)."""
    x, y, *_ = scene.cells
    index = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(x, y))}

    def pick(boxes, roles):
        return sorted({index[(int(a), int(b))] for r in roles
                       for a, b in zip(*boxes.get(r, ((), ()))) if (int(a), int(b)) in index})

    return [[pick(scene.frame(i).boxes, ("current",)),
             pick(scene.frame(i).boxes, ("tap", "tap_pad", "patch"))]
            for i in range(scene.steps)]


@pytest.mark.parametrize("spec,view", [(s, "gather") for s in GATHER]
                         + [(s, "scatter") for s in SCATTER], ids=lambda v: v if
                         isinstance(v, str) else _id(v))
def test_the_hover_links_are_what_each_frame_outlines(spec, view):
    """The player's links come from the trace's arrays at once (``Scene.reads``); every
    step's frame outlines the same cells."""
    sample = run(spec)
    for f in _filters(spec):
        for numbers in (True, False):
            scene = sc.build(sample, view=view, numbers=numbers, filter=f)
            assert player.links(scene) == _links_from_frames(scene)


@given(shape=st.lists(st.integers(1, 7), min_size=1, max_size=3), data=st.data())
@settings(max_examples=200, deadline=None)
def test_one_cell_of_a_box_lands_where_plane_puts_it(shape, data):
    from convviz.viz.scene import _plane_cell, plane

    c = [data.draw(st.integers(0, n - 1)) for n in shape]
    x, y = plane(np.array([c]), tuple(shape))
    assert _plane_cell(c, tuple(shape)) == (int(x[0]), int(y[0]))


@pytest.mark.parametrize("shape", [(5,), (3, 4), (4, 3, 2)])
def test_order_boxes_cover_exactly_the_cells_before_and_after(shape):
    """Every cell before ``o`` (row-major) is in exactly one 'before' box, every cell after
    it in exactly one 'after' box, and ``o`` itself in none."""
    from convviz.viz.scene import _order_boxes, all_cells, plane

    cells = all_cells(shape)
    xs, ys = plane(cells, shape)
    for i, o in enumerate(cells.tolist()):
        for after in (False, True):
            hits = np.zeros(len(cells), dtype=int)
            for x0, y0, x1, y1 in _order_boxes(o, shape, after):
                hits += (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
            want = (np.arange(len(cells)) > i) if after else (np.arange(len(cells)) < i)
            assert hits.tolist() == want.astype(int).tolist(), (o, after)
