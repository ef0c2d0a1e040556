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
