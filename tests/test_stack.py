"""Stacks: model-summary rows, receptive fields and path counts composed from traces,
and the transposed-convolution versus upsampling comparison."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convviz
from convviz import catalog, formulas, stack

C2 = {"filters": 2, "kernel_size": 3}

# (entries, input shape): valid stacks of every kind of layer.
STACKS = [
    ([("Conv2D", C2), ("Conv2D", C2)], (None, 8, 7, 2)),
    ([("Conv2D", {**C2, "strides": 2, "padding": "same"}),
      ("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2}),
      ("Cropping2D", {"cropping": ((1, 0), (0, 2))})], (None, 7, 6, 1)),
    ([("ZeroPadding2D", {"padding": 1}), ("DepthwiseConv2D", {"kernel_size": 3,
                                                              "depth_multiplier": 2}),
      ("SeparableConv2D", {"filters": 3, "kernel_size": 2, "dilation_rate": 2}),
      ("UpSampling2D", {"size": (2, 1)})], (None, 5, 6, 2)),
    ([("Conv2D", {"filters": 4, "kernel_size": 2, "groups": 2, "data_format": "channels_first"}),
      ("UpSampling2D", {"size": 2, "interpolation": "bilinear",
                        "data_format": "channels_first"}),
      ("Conv2D", {"filters": 1, "kernel_size": 3, "strides": 3,
                  "data_format": "channels_first"})], (None, 2, 5, 4)),
    ([("Conv1D", {"filters": 2, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}),
      ("Conv1DTranspose", {"filters": 2, "kernel_size": 4, "strides": 3, "padding": "same",
                           "output_padding": 1}),
      ("Cropping1D", {"cropping": (2, 1)}), ("UpSampling1D", {"size": 2})], (None, 6, 1)),
    ([("Conv3D", {"filters": 2, "kernel_size": 2, "strides": (1, 2, 1)}),
      ("Conv3DTranspose", {"filters": 1, "kernel_size": (1, 2, 3), "strides": 2}),
      ("ZeroPadding3D", {"padding": ((0, 1), (1, 0), (0, 0))})], (None, 3, 4, 3, 1)),
    # Mixed data formats: the second layer reads axis 1 as channels.
    ([("Conv2D", {"filters": 3, "kernel_size": 2}),
      ("Conv2D", {"filters": 2, "kernel_size": 2, "data_format": "channels_first"})],
     (None, 5, 6, 2)),
]
IDS = [f"stack{i}-" + "-".join(n for n, _ in s) for i, (s, _) in enumerate(STACKS)]


def _build_one_by_one(entries, input_shape):
    shape, out = tuple(input_shape), []
    for name, kwargs in entries:
        layer = getattr(convviz, name)(**kwargs)
        new = tuple(layer.compute_output_shape(shape))
        layer.build(shape)
        out.append((shape, new, layer.count_params(), formulas.macs(layer, shape)))
        shape = new
    return out


@pytest.mark.parametrize(("entries", "shape"), STACKS, ids=IDS)
def test_summary_matches_building_the_layers_one_by_one(entries, shape):
    rows = stack.summary(entries, shape)
    assert all(r.ok and r.error is None for r in rows)
    expected = _build_one_by_one(entries, shape)
    got = [(r.input_shape, r.output_shape, r.params, r.macs) for r in rows]
    assert got == expected
    assert [r.call for r in rows] == [catalog.keras_call(n, kw) for n, kw in entries]
    totals = stack.totals(rows)
    assert totals["ok"] and totals["output_shape"] == rows[-1].output_shape
    assert totals["params"] == sum(e[2] for e in expected)
    # A real forward pass lands on the same shape.
    x = np.zeros((1, *shape[1:]), dtype=np.float32)
    for name, kwargs in entries:
        x = getattr(convviz, name)(**kwargs)(x)
    assert x.shape[1:] == rows[-1].output_shape[1:]


def test_summary_names_layers_like_keras():
    rows = stack.summary([("Conv2D", C2), ("Conv2D", C2), ("UpSampling2D", {})],
                         (None, 9, 9, 1))
    assert [r.layer_name for r in rows] == ["conv2d", "conv2d_1", "up_sampling2d"]


@pytest.mark.parametrize(("entries", "bad", "words"), [
    ([("Conv2D", C2), ("Conv2D", {"filters": 1, "kernel_size": 5}), ("Conv2D", C2)], 1,
     "zero or negative"),
    ([("Conv2D", C2), ("Conv1D", C2), ("Conv2D", C2)], 1, "expected ndim=3"),
    ([("Conv2D", {"filters": 3, "kernel_size": 1}), ("Conv2D", {"filters": 4, "kernel_size": 1,
                                                                "groups": 2})], 1, "groups"),
    ([("Dense", {"units": 3}), ("Conv2D", C2)], 0, "Unknown layer"),
    ([("Conv2D", {"kernel_size": 3})], 0, "filters"),
    ([("Conv2D", {**C2, "strides": 2, "dilation_rate": 2})], 0, "dilation_rate"),
    ([("Cropping2D", {"cropping": 3}), ("Conv2D", C2)], 0, "cropping"),
    ([("UpSampling2D", {}), ("Conv2DTranspose", {"filters": 1, "kernel_size": 2, "strides": 2,
                                                 "padding": "same", "output_padding": 0}),
      ("Conv2D", {"filters": 1, "kernel_size": 40})], 2, "zero or negative"),
])
def test_first_invalid_layer_is_flagged(entries, bad, words):
    rows = stack.summary(entries, (None, 6, 6, 3))
    assert [r.status for r in rows] == ["ok"] * bad + ["error"] + ["not reached"] * (
        len(entries) - bad - 1)
    assert words in rows[bad].error
    assert rows[bad].input_shape is not None and rows[bad].output_shape is None
    assert all(r.output_shape is None and r.params is None for r in rows[bad:])
    assert not stack.totals(rows)["ok"] and stack.totals(rows)["output_shape"] is None
    with pytest.raises(ValueError, match=f"Layer {bad}"):
        stack.receptive_field(entries, (None, 6, 6, 3), (0, 0))


def test_receptive_field_of_two_3x3_convs_is_5x5():
    entries = [("Conv2D", C2), ("Conv2D", C2)]
    rf = stack.receptive_field(entries, (None, 9, 9, 1), (2, 3))
    assert rf.shape == (9, 9) and rf.sum() == 25
    expected = np.zeros((9, 9), dtype=bool)
    expected[2:7, 3:8] = True
    assert np.array_equal(rf, expected)
    counts = stack.path_counts(entries, (None, 9, 9, 1), (2, 3))
    assert counts[2:7, 3:8].tolist()[2] == [3, 6, 9, 6, 3]
    assert np.array_equal(counts > 0, rf)


def _forward(entries, weights_seed=0):
    rng = np.random.default_rng(weights_seed)
    layers = []
    for name, kwargs in entries:
        layer = getattr(convviz, name)(**kwargs, dtype="float64")
        layers.append(layer)

    def run(v):
        for layer in layers:
            if not layer.built:
                layer.build(v.shape)
                layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
            v = layer(v)
        return v

    return run


def _cell_index(fmt, cell):
    if fmt == "channels_first":
        return (slice(None), slice(None), *cell)
    return (slice(None), *cell, slice(None))


def _fmt(entry):
    return entry[1].get("data_format", "channels_last")


@pytest.mark.parametrize(("entries", "shape"), STACKS, ids=IDS)
def test_receptive_field_equals_brute_force_perturbation(entries, shape):
    x = np.random.default_rng(1).standard_normal((1, *shape[1:]))
    run = _forward(entries)
    y = run(x)
    first, last = _fmt(entries[0]), _fmt(entries[-1])
    in_spatial = shape[1:-1] if first == "channels_last" else shape[2:]
    out_spatial = y.shape[1:-1] if last == "channels_last" else y.shape[2:]
    rng = np.random.default_rng(2)
    for _ in range(4):
        o = tuple(int(rng.integers(n)) for n in out_spatial)
        rf = stack.receptive_field(entries, shape, o)
        assert rf.shape == tuple(in_spatial)
        brute = np.zeros(in_spatial, dtype=bool)
        for cell in np.ndindex(*in_spatial):
            x2 = x.copy()
            x2[_cell_index(first, cell)] += 1.0
            brute[cell] = np.any(run(x2)[_cell_index(last, o)] != y[_cell_index(last, o)])
        assert np.array_equal(rf, brute), o


def _ones_forward(entries, x):
    """Forward pass with every weight 1 and no bias: a one-hot input counts paths."""
    v = x
    for name, kwargs in entries:
        layer = getattr(convviz, name)(**kwargs, dtype="float64")
        layer.build(v.shape)
        layer.set_weights([np.ones_like(w) if w.ndim > 1 else np.zeros_like(w)
                           for w in layer.get_weights()])
        v = layer(v)
    return v


SINGLE_CHANNEL = [
    [("Conv1D", {"filters": 1, "kernel_size": 3})] * 2,
    [("Conv1DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2, "padding": "same"})] * 2,
    [("Conv1DTranspose", {"filters": 1, "kernel_size": 5, "strides": 3}),
     ("Cropping1D", {"cropping": (2, 3)}),
     ("Conv1D", {"filters": 1, "kernel_size": 2, "dilation_rate": 3, "padding": "same"})],
    [("UpSampling1D", {"size": 3}), ("Conv1D", {"filters": 1, "kernel_size": 4,
                                                "padding": "same"}),
     ("ZeroPadding1D", {"padding": (1, 2)}), ("DepthwiseConv1D", {"kernel_size": 2,
                                                                  "strides": 2})],
]


@pytest.mark.parametrize("entries", SINGLE_CHANNEL)
def test_path_counts_equal_a_ones_network_on_one_hot_inputs(entries):
    n = 5
    shape = (None, n, 1)
    overlap = stack.overlap_counts(entries, shape)
    ones = _ones_forward(entries, np.ones((1, n, 1)))[0, :, 0]
    assert np.array_equal(overlap, np.rint(ones).astype(np.int64))
    out_len = overlap.shape[0]
    for o in range(out_len):
        counts = stack.path_counts(entries, shape, (o,))
        for i in range(n):
            x = np.zeros((1, n, 1))
            x[0, i, 0] = 1.0
            assert counts[i] == round(_ones_forward(entries, x)[0, o, 0])
    assert stack.axis_matrices(entries, shape)[0].shape == (out_len, n)


def test_overlap_of_one_transposed_conv_is_the_trace_overlap():
    for k, s, pad in [(3, 2, "same"), (4, 2, "same"), (5, 3, "valid"), (2, 3, "same")]:
        kw = {"filters": 1, "kernel_size": k, "strides": s, "padding": pad}
        shape = (None, 4, 5, 1)
        trace = convviz.Conv2DTranspose(**kw).trace(shape)
        assert np.array_equal(stack.overlap_counts([("Conv2DTranspose", kw)], shape),
                              trace.overlap_count())


def test_checkerboard_k3_s2():
    c = stack.compare_upsampling(6, 3, 2)
    t = c["transposed"]["overlap"]
    assert t.dtype == np.int64 and set(np.unique(t)) == {1, 2, 4}
    assert c["transposed"]["interior_values"] == (1, 2, 4)
    assert c["transposed"]["checkerboard"] and not c["divisible"]
    # The pattern: odd rows x odd columns overlap twice per axis (Keras 'same' crop of 0).
    inner = t[2:-2, 2:-2]
    assert set(np.unique(inner[::2, ::2])) | set(np.unique(inner[1::2, 1::2])) == {1, 4}
    assert (inner[::2, 1::2] == 2).all() and (inner[1::2, ::2] == 2).all()
    assert np.array_equal(t, c["gather"].overlap_count())
    assert np.array_equal(t, c["scatter"].overlap_count())
    assert c["scatter"].in_shape == (6, 6) and c["gather"].out_shape == (12, 12)
    assert "not divisible" in c["explanation"]


def test_k4_s2_is_uniform_in_the_interior():
    c = stack.compare_upsampling(6, 4, 2)
    t = c["transposed"]["overlap"]
    assert c["divisible"] and not c["transposed"]["checkerboard"]
    assert c["transposed"]["interior_values"] == (4,)
    assert (t[3:-3, 3:-3] == 4).all()
    assert "is divisible" in c["explanation"]


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize(("k", "s"), [(3, 2), (4, 2), (5, 2), (3, 3), (2, 2), (5, 3)])
def test_upsampling_then_conv_has_no_checkerboard(k, s, layers):
    c = stack.compare_upsampling(5, k, s, layers=layers)
    u = c["upsample_conv"]
    assert c["same_output_shape"]
    assert c["transposed"]["output_shape"] == u["output_shape"] == (None, 5 * s**layers,
                                                                    5 * s**layers, 1)
    assert u["interior_values"] == ((k * k) ** layers,)
    assert not u["checkerboard"]
    assert u["overlap"].max() == (k * k) ** layers
    assert c["transposed"]["checkerboard"] == (k % s != 0)


def test_two_transposed_layers_compound_the_checkerboard():
    one = stack.compare_upsampling(4, 3, 2, layers=1)["transposed"]
    two = stack.compare_upsampling(4, 3, 2, layers=2)
    values = two["transposed"]["interior_values"]
    assert len(values) > len(one["interior_values"])
    assert values == (1, 2, 3, 4, 6, 9)
    assert two["transposed"]["overlap"].shape == (16, 16)
    entries = [("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2,
                                    "padding": "same"})] * 2
    assert np.array_equal(two["transposed"]["overlap"],
                          stack.overlap_counts(entries, (None, 4, 4, 1)))
    assert "stacking" in two["explanation"]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), k=st.integers(1, 6), s=st.integers(1, 4), layers=st.integers(1, 2),
       filters=st.integers(1, 3))
def test_compare_upsampling_shapes_always_match(n, k, s, layers, filters):
    c = stack.compare_upsampling(n, k, s, filters=filters, layers=layers)
    assert c["same_output_shape"]
    out = n * s**layers
    assert c["transposed"]["output_shape"] == (None, out, out, filters)
    for side in ("transposed", "upsample_conv"):
        assert c[side]["overlap"].shape == (out, out)
        assert c[side]["overlap"].dtype == np.int64
        assert (c[side]["overlap"] >= 0).all()


def test_compare_upsampling_rejects_bad_requests():
    with pytest.raises(ValueError):
        stack.compare_upsampling(4, 3, 2, layers=5)
    with pytest.raises(ValueError):
        stack.compare_upsampling(4, 0, 2)


def test_stack_object_edits_and_queries():
    s = stack.Stack((None, 8, 8, 3))
    assert len(s) == 0 and s.output_shape is None
    s = s.add("Conv2D", C2).add("UpSampling2D", {"size": 2}).add("ZeroPadding2D", {}, index=0)
    assert [n for n, _ in s.entries] == ["ZeroPadding2D", "Conv2D", "UpSampling2D"]
    assert s.output_shape == (None, 16, 16, 2)
    s2 = s.move(2, 0).remove(1).replace(1, "Conv2D", {"filters": 5, "kernel_size": 1})
    assert [n for n, _ in s2.entries] == ["UpSampling2D", "Conv2D"]
    assert s2.output_shape == (None, 16, 16, 5)
    assert s.output_shape == (None, 16, 16, 2)  # unchanged
    assert s.receptive_field((0, 0)).shape == (8, 8)
    assert np.array_equal(s.path_counts((5, 5)) > 0, s.receptive_field((5, 5)))
    assert s.overlap_counts().shape == (16, 16)
    assert "keras.Input(shape=(8, 8, 3))" in s.keras_code()
    assert s.with_input((None, 4, 4, 3)).output_shape == (None, 8, 8, 2)


def test_bad_out_index_and_mixed_formats():
    entries = [("Conv2D", C2)]
    for bad in [(7, 0), (0,), (-1, 0), ("a", 0)]:
        with pytest.raises(ValueError, match="out_index"):
            stack.receptive_field(entries, (None, 8, 8, 1), bad)
    mixed = STACKS[-1]
    with pytest.raises(ValueError, match="mixes"):
        stack.path_counts(*mixed, (0, 0))
    assert stack.receptive_field(*mixed, (0, 0)).shape == (5, 6)
    with pytest.raises(ValueError, match="empty"):
        stack.receptive_field([], (None, 4, 4, 1), (0, 0))


def test_compare_upsampling_states_the_rule_and_refuses_what_the_page_cannot_draw():
    c = stack.compare_upsampling(4, 3, 2)
    assert c["rule"] == "k mod s = 3 mod 2 = 1 ≠ 0: the checkerboard appears."
    assert stack.compare_upsampling(4, 4, 2)["rule"] == "k mod s = 4 mod 2 = 0: no checkerboard."
    # 12 x 2^3 = 96 cells: the largest allowed; 13 x 2^3 = 104 is refused, naming the cap.
    assert stack.compare_upsampling(12, 3, 2, layers=3)["transposed"]["output_shape"][1] == 96
    with pytest.raises(ValueError, match=r"13 x 2\^3 = 104 cells per axis; at most 96"):
        stack.compare_upsampling(13, 3, 2, layers=3)
