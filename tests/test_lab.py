"""Shape lab: sweeps against the engine, generated questions, lenient answer checking."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convviz
from convviz import catalog, formulas, lab

# (name, kwargs, spatial, channels, data_format, arg, values, axis)
SWEEPS = [
    ("Conv1D", {"filters": 2, "kernel_size": 3}, (9,), 2, None, "input", range(1, 14), 0),
    ("Conv1D", {"filters": 2, "kernel_size": 3, "padding": "same"}, (9,), 1, None, "strides",
     range(1, 7), 0),
    ("Conv1D", {"filters": 1, "kernel_size": 2, "padding": "causal"}, (7,), 1, None,
     "dilation_rate", range(1, 6), 0),
    ("Conv2D", {"filters": 3, "kernel_size": 3, "strides": 2}, (11, 8), 2, "channels_first",
     "input", range(1, 12), 1),
    ("Conv2D", {"filters": 2, "kernel_size": (3, 2), "padding": "same"}, (9, 9), 1, None,
     "kernel_size", range(1, 12), 0),
    ("Conv2D", {"filters": 2, "kernel_size": 3}, (12, 12), 1, None, "dilation_rate",
     range(1, 8), 1),
    ("Conv3D", {"filters": 2, "kernel_size": 2, "strides": (1, 2, 3)}, (5, 6, 7), 1, None,
     "input", range(1, 9), 2),
    ("Conv3D", {"filters": 1, "kernel_size": 3, "padding": "same"}, (4, 5, 6), 1,
     "channels_first", "strides", range(1, 5), 1),
    ("DepthwiseConv1D", {"kernel_size": 3, "depth_multiplier": 2}, (10,), 2, None, "strides",
     range(1, 6), 0),
    ("DepthwiseConv2D", {"kernel_size": 3, "strides": 2, "padding": "same"}, (7, 7), 2, None,
     "dilation_rate", range(1, 4), 0),
    ("SeparableConv2D", {"filters": 2, "kernel_size": 3}, (8, 6), 2, None, "input",
     range(1, 10), 0),
    ("SeparableConv1D", {"filters": 2, "kernel_size": 2, "padding": "same"}, (6,), 1, None,
     "kernel_size", range(1, 9), 0),
    ("Conv1DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2}, (4,), 1, None,
     "input", range(1, 9), 0),
    ("Conv1DTranspose", {"filters": 1, "kernel_size": 4, "strides": 3, "padding": "same"},
     (5,), 1, None, "output_padding", range(0, 5), 0),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
     (4, 3), 1, None, "strides", range(1, 6), 0),
    ("Conv2DTranspose", {"filters": 1, "kernel_size": 2, "strides": 3, "output_padding": 1},
     (3, 3), 1, "channels_first", "output_padding", range(0, 4), 1),
    ("Conv2DTranspose", {"filters": 1, "kernel_size": 2, "strides": 2, "padding": "same",
                         "output_padding": 0}, (1, 3), 1, None, "kernel_size", range(1, 6), 0),
    ("Conv2DTranspose", {"filters": 1, "kernel_size": 3}, (4, 4), 1, None, "dilation_rate",
     range(1, 5), 1),
    ("Conv3DTranspose", {"filters": 1, "kernel_size": 2, "strides": 2}, (2, 3, 2), 1, None,
     "input", range(1, 6), 0),
    ("Conv3DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2, "padding": "same"},
     (2, 2, 2), 1, None, "output_padding", range(0, 3), 2),
    ("Cropping1D", {"cropping": (1, 2)}, (6,), 2, "channels_first", "cropping", range(0, 5), 0),
    ("Cropping2D", {"cropping": ((1, 0), (0, 2))}, (5, 6), 1, None, "input", range(1, 8), 1),
    ("Cropping3D", {"cropping": 1}, (5, 5, 5), 1, "channels_first", "cropping", range(0, 4), 2),
    ("ZeroPadding1D", {"padding": 1}, (4,), 1, None, "padding", range(0, 5), 0),
    ("ZeroPadding2D", {"padding": ((1, 2), (0, 1))}, (3, 4), 2, "channels_first", "input",
     range(1, 6), 0),
    ("ZeroPadding3D", {}, (2, 2, 2), 1, None, "padding", range(0, 3), 1),
    ("UpSampling1D", {"size": 2}, (5,), 1, None, "size", range(0, 5), 0),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear"}, (3, 4), 1, None, "size",
     range(1, 5), 1),
    ("UpSampling2D", {}, (3, 4), 1, "channels_first", "input", range(1, 6), 1),
    ("UpSampling3D", {"size": 2}, (2, 3, 2), 1, None, "size", range(1, 4), 0),
]
IDS = [f"{s[0]}-{s[5]}-{i}" for i, s in enumerate(SWEEPS)]


@pytest.mark.parametrize("case", SWEEPS, ids=IDS)
def test_sweep_points_agree_with_the_engine(case):
    name, kwargs, spatial, channels, fmt, arg, values, axis = case
    s = lab.sweep(name, kwargs, spatial, channels, fmt, arg, values, axis)
    assert len(s) == len(values) and s.arg == arg and s.axis == axis
    assert s.all_agree, [r for r in s.rows() if not r["agree"]]
    assert s.valid.any()
    assert s.general
    for i in range(len(values)):
        if not s.valid[i]:
            assert s.errors[i] and math.isnan(s.actual[i]) and s.output_shapes[i] is None
            continue
        assert s.errors[i] == "" and s.stages[i] == "ok" and s.forward[i]
        # Independently: build the point's layer from its call and run it.
        assert s.calls[i] == catalog.keras_call(name, s.point_kwargs[i])
        layer = convviz.LAYERS[name](**s.point_kwargs[i])
        shape = catalog.input_shape(s.input_shapes[i][1:-1] if s.data_format == "channels_last"
                                    else s.input_shapes[i][2:], channels, 2, s.data_format)
        y = layer(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
        out = y.shape[1:-1] if s.data_format == "channels_last" else y.shape[2:]
        assert s.actual[i] == s.predicted[i] == out[axis]
        assert s.output_shapes[i][1:] == y.shape[1:]
        assert formulas.derivations(layer, shape)[axis]["formula"] == s.derivations[i]


def test_sweep_input_staircase_is_the_floor_formula():
    s = lab.sweep("Conv1D", {"filters": 1, "kernel_size": 3, "strides": 2}, (5,), 1, None,
                  "input", range(1, 20))
    n = np.arange(1, 20)
    expected = (n - 3) // 2 + 1
    assert s.predicted.tolist() == expected.astype(float).tolist()
    assert np.array_equal(s.valid, expected > 0)
    assert s.actual[s.valid].tolist() == expected[expected > 0].astype(float).tolist()
    assert all(st == "shape" for st, ok in zip(s.stages, s.valid) if not ok)
    assert s.general.text() == "floor((n - (d(k-1)+1)) / s) + 1"


def test_invalid_points_are_flagged_not_raised():
    # strides > 1 with dilation > 1: a rule, the formula still has a value.
    s = lab.sweep("Conv2D", {"filters": 1, "kernel_size": 3, "strides": 2}, (9, 9), 1, None,
                  "dilation_rate", [1, 2, 3], 0)
    assert s.valid.tolist() == [True, False, False]
    assert s.stages[1] == "arguments" and "dilation_rate" in s.errors[1]
    assert s.predicted[1] == 3 and s.derivations[1] and s.agree.all()
    assert s.derivations[1].text() == "floor((9 - (2 * (3-1)+1)) / 2) + 1 = 3"
    # output_padding >= strides.
    s = lab.sweep("Conv1DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2}, (4,), 1,
                  None, "output_padding", [0, 1, 2, 3], 0)
    assert s.valid.tolist() == [True, True, False, False]
    assert "output_padding" in s.errors[2] and s.stages[2] == "arguments"
    # Empty output, kernel 0 and negative values, input 0, too much cropping.
    s = lab.sweep("Conv1D", {"filters": 1, "kernel_size": 3}, (4,), 1, None, "kernel_size",
                  [-1, 0, 4, 5, 9], 0)
    assert s.valid.tolist() == [False, False, True, False, False]
    assert s.stages == ("arguments", "arguments", "ok", "shape", "shape")
    assert math.isnan(s.predicted[0]) and s.predicted[3] == 0 and s.predicted[4] == -4
    s = lab.sweep("Conv1D", {"filters": 1, "kernel_size": 1}, (4,), 1, None, "input",
                  [-3, 0, 1], 0)
    assert s.stages[:2] == ("input", "input") and s.valid.tolist() == [False, False, True]
    s = lab.sweep("Cropping2D", {}, (4, 4), 1, None, "cropping", [0, 1, 2, 3], 1)
    assert s.valid.tolist() == [True, True, False, False]
    assert s.predicted.tolist() == [4, 2, 0, -2]
    # Channels not divisible by groups: every point refused at build time.
    s = lab.sweep("Conv2D", {"filters": 4, "kernel_size": 3, "groups": 2}, (6, 6), 3, None,
                  "input", [5, 6], 0)
    assert not s.valid.any() and set(s.stages) == {"channels"} and s.agree.all()
    # 'same' transposed with output_padding can give an empty output.
    s = lab.sweep("Conv1DTranspose", {"filters": 1, "kernel_size": 2, "strides": 2,
                                      "padding": "same", "output_padding": 0}, (1,), 1, None,
                  "input", [1, 2], 0)
    assert s.valid.tolist() == [False, True] and s.stages[0] == "shape" and s.agree.all()


def test_sweep_samples_rows_and_large_points():
    s = lab.sweep("Conv2D", {"filters": 1, "kernel_size": 3}, (6, 6), 1, None, "input",
                  range(1, 30), 0)
    samples = s.samples()
    assert 1 <= len(samples) <= 3
    assert all(d["formula"].text().endswith(f"= {d['result']}") for d in samples)
    assert s.rows()[0]["valid"] is False and s.rows()[-1]["actual"] == 27
    big = lab.sweep("Conv3D", {"filters": 64, "kernel_size": 3}, (8, 8, 8), 64, None, "input",
                    [4, 200], 0)
    assert big.valid.all() and big.forward.tolist() == [True, False] and big.all_agree


@pytest.mark.parametrize("bad", [
    dict(name="Dense"), dict(arg="output_padding"), dict(spatial=(5,)), dict(axis=2),
    dict(values=[1.5]), dict(values=range(1000)), dict(channels=0),
])
def test_malformed_sweep_requests_raise(bad):
    args = dict(name="Conv2D", kwargs={"filters": 1, "kernel_size": 3}, spatial=(5, 5),
                channels=1, data_format=None, arg="input", values=[3, 4], axis=0)
    args.update(bad)
    with pytest.raises(ValueError):
        lab.sweep(**args)


def test_sweepable_covers_every_layer():
    assert set(lab.SWEEPABLE) == set(convviz.LAYERS)
    assert "output_padding" in lab.SWEEPABLE["Conv2DTranspose"]
    assert "output_padding" not in lab.SWEEPABLE["Conv2D"]
    assert lab.SWEEPABLE["Cropping3D"] == ("input", "cropping")
    assert all(args[0] == "input" for args in lab.SWEEPABLE.values())


# ----------------------------------------------------------------------------- questions
def _engine_answer(q: lab.Question, rng):
    """The answer recomputed from real forward passes (random float64 weights and inputs)."""
    layers = [convviz.LAYERS[n](**kw, dtype="float64") for n, kw in q.entries]
    x = rng.standard_normal((2, *q.input_shape[1:]))

    def run(v):
        for layer in layers:
            v = layer(v)
        return v

    y = run(x)
    if q.kind == "output_shape":
        return (None, *y.shape[1:])
    if q.kind == "params":
        return sum(int(w.size) for w in layers[0].get_weights())
    fmt = layers[0].data_format
    spatial = q.input_shape[1:-1] if fmt == "channels_last" else q.input_shape[2:]
    pick = (slice(None), *q.out_index, slice(None)) if fmt == "channels_last" else \
        (slice(None), slice(None), *q.out_index)
    cells = []
    for cell in np.ndindex(*spatial):
        x2 = x.copy()
        where = (slice(None), *cell, slice(None)) if fmt == "channels_last" else \
            (slice(None), slice(None), *cell)
        x2[where] += 1.0
        if np.any(run(x2)[pick] != y[pick]):
            cells.append(cell)
    return tuple(cells)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), difficulty=st.sampled_from([1, 2, 3]),
       kind=st.sampled_from([None, *lab.KINDS]))
def test_generated_questions_are_valid_and_match_the_engine(seed, difficulty, kind):
    q = lab.generate(seed, difficulty, kind)
    assert q == lab.generate(seed, difficulty, kind)
    assert kind is None or q.kind == kind
    assert q.difficulty == difficulty and q.seed == seed
    assert q.text.endswith("?") and q.call.startswith("keras.layers.")
    assert q.derivation and all(isinstance(line, str) and line for line in q.derivation)
    assert q.input_shape[0] is None
    assert _engine_answer(q, np.random.default_rng(seed)) == q.answer
    assert lab.check(q, q.expected).correct
    if q.kind == "output_shape":
        assert q.derivation[-1].endswith(lab.quiz.shape_latex(q.answer))
    if q.kind == "params":
        assert q.derivation[-1].endswith(f"= {q.answer}")


def test_difficulty_levels_use_their_layers():
    names = {d: set() for d in (1, 2, 3)}
    features = set()
    for seed in range(150):
        for d in (1, 2, 3):
            q = lab.generate(seed, d)
            names[d].update(n for n, _ in q.entries)
            for _name, kw in q.entries:
                if d == 1:
                    assert kw.get("strides", 1) in (1, 2)
                    assert kw.get("padding", "valid") in ("valid", "same")
                    assert set(kw) <= {"filters", "kernel_size", "strides", "padding"}
                if d == 3:
                    features.update(k for k in ("output_padding", "groups", "data_format")
                                    if k in kw)
                    if len(q.entries) > 1:
                        features.add("mix")
    assert names[1] == {"Conv1D", "Conv2D"}
    assert {"Conv1DTranspose", "Conv2DTranspose", "DepthwiseConv2D"} <= names[2]
    assert not any("3D" in n for n in names[1] | names[2])
    assert {"Conv3D", "Conv3DTranspose", "UpSampling2D", "Cropping2D"} <= names[3]
    assert features == {"output_padding", "groups", "data_format", "mix"}


def test_generate_rejects_bad_arguments():
    with pytest.raises(ValueError):
        lab.generate(0, 4)
    with pytest.raises(ValueError):
        lab.generate(0, 1, "colour")


def _question(kind, difficulty=1, pred=lambda q: True):
    for seed in range(500):
        q = lab.generate(seed, difficulty, kind)
        if pred(q):
            return q
    raise AssertionError("no such question")


def test_check_output_shape_spellings():
    q = _question("output_shape", 2, lambda q: len(q.answer) == 4 and len(set(q.answer)) == 4)
    _, h, w, c = q.answer
    right = [f"(None, {h}, {w}, {c})", f"None,{h},{w},{c}", f"[?, {h}, {w}, {c}]",
             f"{h}, {w}, {c}", f"{h}x{w}x{c}", f"  (none , {h} ,{w}, {c} )  ",
             f"batch {h} {w} {c}", f"Conv2D gives (None, {h}, {w}, {c})"]
    for text in right:
        assert lab.check(q, text).correct, text
    wrong = {f"(None, {h + 1}, {w}, {c})": "Not quite", f"({h}, {w})": "spatial",
             f"(1, {h}, {w}, {c})": "batch", f"(None, {c}, {h}, {w})": "order",
             "": "Could not read", "dunno": "Could not read", f"{h} {w} {c} 1 1 1": "axes"}
    for text, hint in wrong.items():
        fb = lab.check(q, text)
        assert not fb.correct and hint in fb.message, (text, fb)
        assert fb.expected == catalog.format_shape(q.answer)


def test_check_reads_spellings():
    q = _question("reads", 1, lambda q: q.rank == 2 and len(q.answer) >= 2)
    cells = list(q.answer)
    spellings = [
        " ".join(f"({a},{b})" for a, b in cells),
        "; ".join(f"{a},{b}" for a, b in cells),
        "[" + ", ".join(f"({a}, {b})" for a, b in cells) + "]",
        " ".join(f"{a} {b}" for a, b in reversed(cells)),
        "\n".join(f"[{a}, {b}]" for a, b in cells + cells[:1]),
    ]
    for text in spellings:
        assert lab.check(q, text).correct, text
    fb = lab.check(q, " ".join(f"({a},{b})" for a, b in cells[1:]))
    first = cells[0]
    assert not fb.correct and f"you missed cell ({first[0]}, {first[1]})" in fb.message
    assert "missed 1" not in fb.message  # names the cell, not a count that reads as one
    fb = lab.check(q, " ".join(f"({a},{b})" for a, b in cells + [(99, 99)]))
    assert not fb.correct and "cell (99, 99) is not read" in fb.message
    assert not lab.check(q, "(1, 2, 3)").correct

    q1 = _question("reads", 1, lambda q: q.rank == 1 and len(q.answer) >= 2)
    flat = [c[0] for c in q1.answer]
    for text in (" ".join(map(str, flat)), str(flat), ", ".join(map(str, flat)),
                 " ".join(f"({v})" for v in flat)):
        assert lab.check(q1, text).correct, text
    fb = lab.check(q1, " ".join(map(str, flat[:-1])))  # rank 1: cells are plain numbers
    assert f"you missed cell {flat[-1]}." in fb.message or \
        f"you missed cell {flat[-1]};" in fb.message


def test_check_reads_empty_answer():
    q = _question("reads", 3, lambda q: q.answer == ())
    assert q.expected == "none"
    for text in ("none", "Nothing", "{}", "no cells"):
        assert lab.check(q, text).correct, text
    assert not lab.check(q, "(0, 0)").correct


def test_check_params_spellings():
    q = _question("params", 1, lambda q: q.answer >= 1000)
    n = q.answer
    for text in (str(n), f"{n:,}", f"{n:_}", f"{n} params", f" {n:,} parameters "):
        assert lab.check(q, text).correct, text
    for text in (str(n + 1), f"{n} or {n + 1}", "many", ""):
        assert not lab.check(q, text).correct, text


@settings(max_examples=150, deadline=None)
@given(text=st.one_of(st.text(), st.text(alphabet="0123456789(),;[]{} xX?Nonez-\n_'",
                                         max_size=60),
                      st.from_regex(r"\(?[0-9]{1,40}(,\s?[0-9]{1,5}){0,6}\)?")),
       kind=st.sampled_from(lab.KINDS), difficulty=st.sampled_from([1, 2, 3]))
def test_fuzzed_answers_never_raise(text, kind, difficulty):
    q = lab.generate(11, difficulty, kind)
    fb = lab.check(q, text)
    assert isinstance(fb.correct, bool) and fb.expected == q.expected and fb.message
    lab.parse_shape(text)
    lab.parse_cells(text, 2)
    lab.parse_int(text)


def test_check_accepts_none_and_non_strings():
    q = lab.generate(1, 1, "output_shape")
    assert not lab.check(q, None).correct
    assert lab.check(q, q.answer).correct  # a tuple is read through str()


def test_score_is_a_pure_running_total():
    s0 = lab.Score()
    s = s0.record(True).record(True).record(False).record(True)
    assert s0 == lab.Score() and s0.accuracy == 0.0
    assert (s.asked, s.correct, s.streak, s.best_streak) == (4, 3, 1, 2)
    assert s.accuracy == 0.75


def test_short_call():
    assert lab.short_call("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2}) == \
        "DepthwiseConv2D(3, depth_multiplier=2)"
    assert lab.short_call("UpSampling2D", {"size": (2, 1)}) == "UpSampling2D((2, 1))"
    assert lab.short_call("Conv2D", {"kernel_size": 3}) == "Conv2D(kernel_size=3)"
