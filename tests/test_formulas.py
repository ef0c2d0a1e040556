"""Multiply-accumulate counts against hand-computed values, one or more per family.

Each expected number is worked out by hand from the layer's arithmetic (written in the
comment), not from ``formulas.macs``: out cells × what each one multiplies.
"""

from __future__ import annotations

import pytest

import convviz
from convviz import formulas

MACS = [
    # 6x6 outputs x 4 filters x (3x3 taps x 3 channels)
    (convviz.Conv2D(4, 3), (None, 8, 8, 3), 6 * 6 * 4 * 9 * 3),
    # 6 outputs x 2 filters x 5 taps x 3 channels
    (convviz.Conv1D(2, 5), (None, 10, 3), 6 * 2 * 5 * 3),
    # groups=2: each filter reads 2 of the 4 channels; 3x3 outputs x 4 filters x 9 x 2
    (convviz.Conv2D(4, 3, groups=2), (None, 5, 5, 4), 9 * 4 * 9 * 2),
    # batch 3 counts three times; strides 2 'same': 4x4 outputs
    (convviz.Conv2D(1, 3, strides=2, padding="same"), (3, 7, 7, 1), 3 * 16 * 1 * 9 * 1),
    # 2x2x2 outputs x 2 filters x 2x2x2 taps x 1 channel
    (convviz.Conv3D(2, 2), (None, 3, 3, 3, 1), 8 * 2 * 8 * 1),
    # depthwise, depth_multiplier 2: 3x3 outputs x 4 maps x 9 taps (one channel each)
    (convviz.DepthwiseConv2D(3, depth_multiplier=2), (None, 5, 5, 2), 9 * 4 * 9),
    # separable: depthwise 3x3 x 2 maps x 9, then pointwise 3x3 x 4 filters x 2 maps
    (convviz.SeparableConv2D(4, 3), (None, 5, 5, 2), 9 * 2 * 9 + 9 * 4 * 2),
    # SeparableConv1D(3, 2, depth_multiplier=2) on 6 steps x 1 channel: 5 outputs
    (convviz.SeparableConv1D(3, 2, depth_multiplier=2), (None, 6, 1), 5 * 2 * 2 + 5 * 3 * 2),
    # transposed: every input cell (3x3) times every tap (9) x channels 1 x filters 2
    (convviz.Conv2DTranspose(2, 3, strides=2), (None, 3, 3, 1), 9 * 9 * 1 * 2),
    (convviz.Conv1DTranspose(1, 4, strides=3), (None, 5, 2), 5 * 4 * 2 * 1),
    # bilinear 2x: each of 6x6 outputs x 1 channel blends 2x2 inputs
    (convviz.UpSampling2D(2, interpolation="bilinear"), (None, 3, 3, 1), 36 * 1 * 4),
    # nearest copies, cropping and padding move values: no multiplications
    (convviz.UpSampling2D(2), (None, 3, 3, 1), 0),
    (convviz.Cropping2D(1), (None, 5, 5, 2), 0),
    (convviz.ZeroPadding3D(1), (None, 2, 2, 2, 1), 0),
]


@pytest.mark.parametrize("layer,shape,want", MACS,
                         ids=[f"{type(m[0]).__name__}-{i}" for i, m in enumerate(MACS)])
def test_macs_equal_the_hand_count(layer, shape, want):
    assert formulas.macs(layer, shape) == want


# The formula of one axis in its two spellings, written out by hand.
SPELLINGS = [
    (convviz.Conv1D(1, 3, strides=2), (None, 10, 1),
     "floor((10 - 3) / 2) + 1 = 4", "\\left\\lfloor \\frac{10 - 3}{2} \\right\\rfloor + 1 = 4",
     "floor((n - (d(k-1)+1)) / s) + 1", "padding (lo, hi) = (0, 0)"),
    (convviz.Conv1D(1, 3, dilation_rate=2), (None, 10, 1),
     "floor((10 - (2 * (3-1)+1)) / 1) + 1 = 6", None, None, "padding (lo, hi) = (0, 0)"),
    (convviz.Conv1D(1, 3, strides=2, padding="same"), (None, 10, 1),
     "ceil(10 / 2) = 5", "\\left\\lceil \\frac{10}{2} \\right\\rceil = 5", "ceil(n / s)",
     "padding (lo, hi) = (0, 1)"),
    (convviz.Conv1DTranspose(1, 3, strides=2), (None, 10, 1),
     "(10-1) * 2 + 3 + 0 = 21", "(10-1)\\cdot 2 + 3 + 0 = 21",
     "(n-1)s + k_e + max(k_e, s) - k_e", "crop 0 from the start of the scatter result"),
    (convviz.Conv1DTranspose(1, 3, strides=2, padding="same", output_padding=1), (None, 10, 1),
     "(10-1) * 2 + (3 mod 2) + 1 = 20", "(10-1)\\cdot 2 + (3 \\bmod 2) + 1 = 20",
     # same with output_padding: crop = (ke - ke % 2 - op) // 2 = (3 - 1 - 1) // 2 = 0
     "(n-1)s + (k_e mod 2) + p_out", "crop 0 from the start of the scatter result"),
    (convviz.Conv1DTranspose(1, 3, strides=2, padding="same"), (None, 10, 1),
     "10 * 2 = 20", None, "n * s", None),
    (convviz.Cropping1D((1, 2)), (None, 10, 1),
     "10 - 1 - 2 = 7", "10 - 1 - 2 = 7", "n - c_lo - c_hi", "cropped (start, end) = (1, 2)"),
    (convviz.ZeroPadding1D((1, 2)), (None, 10, 1),
     "10 + 1 + 2 = 13", None, "n + p_lo + p_hi", "padding (lo, hi) = (1, 2)"),
    (convviz.UpSampling1D(3), (None, 10, 1),
     "10 * 3 = 30", "10 \\cdot 3 = 30", "n * size", ""),
]


@pytest.mark.parametrize("layer, shape, text, latex, general, note", SPELLINGS)
def test_each_axis_formula_is_spelt_in_text_and_latex(layer, shape, text, latex, general, note):
    row = formulas.derivations(layer, shape)[0]
    assert row["formula"].text() == text
    assert text.endswith(f"= {row['result']}")
    if latex is not None:
        assert row["formula"].latex() == latex
    if general is not None:
        assert row["general"].text() == general
    if note is not None:
        assert row["note"] == note
    for spelling in (row["formula"].text(), row["general"].text()):
        assert "\\" not in spelling and "{" not in spelling, spelling
        assert spelling.count("(") == spelling.count(")"), spelling


@pytest.mark.parametrize("layer, channels, text", [
    # 3x3 kernel x (6/2) channels per group x 4 filters + 4 biases
    (convviz.Conv2D(4, 3, groups=2), 6, "prod k * C_in/g * F + F = 3 * 3 * (6/2) * 4 + 4"),
    (convviz.DepthwiseConv2D(3, depth_multiplier=2), 6,
     "prod k * C_in * M + C_in M = 3 * 3 * 6 * 2 + 12"),
    (convviz.SeparableConv1D(4, 3, depth_multiplier=2), 6,
     "prod k * C_in M + C_in M * F + F = 3 * 6 * 2 + 12 * 4 + 4"),
    (convviz.Conv2DTranspose(4, (3, 2), use_bias=False), 6,
     "prod k * F * C_in + F = 3 * 2 * 4 * 6"),
])
def test_params_formula_adds_up_to_count_params(layer, channels, text):
    f = layer.params_formula(channels)
    assert f.text() == text
    layer.build((None, 8, 8, channels) if layer.rank == 2 else (None, 8, channels))
    terms = f.text().split(" = ")[1]
    assert eval(terms.replace("prod k", "")) == layer.count_params()  # noqa: S307 - our digits


def test_channel_formula_per_family():
    assert convviz.Conv2D(5, 3).channel_formula(3, 5).text() == "C_out = filters = 5"
    assert (convviz.DepthwiseConv1D(3, depth_multiplier=2).channel_formula(3, 6).latex()
            == "C_{out} = C_{in}\\cdot \\text{depth\\_multiplier} = 3\\cdot 2 = 6")
    assert convviz.Cropping2D().channel_formula(3, 3).text() == "C_out = C_in = 3"
    assert convviz.Cropping2D().params_formula(3) is None
