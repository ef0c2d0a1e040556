"""The page's view (convviz/viz/view.py): explain tables equal the output, the shape panel
agrees with the engine, and invalid specs give an error instead of an exception."""

from __future__ import annotations

import numpy as np
import pytest

from convviz.demo import Spec
from convviz.viz import view


def test_view_explain_matches_the_output_and_the_shape_panel_agrees():
    spec = Spec("SeparableConv2D", {"filters": 2, "kernel_size": 3, "padding": "same",
                                    "data_format": "channels_first"}, (4, 4), channels=2)
    v = view.build(spec)
    assert v.error is None and v.shape.agree
    n = len(v.sample.trace)
    assert v.steps == 2 * n  # the depthwise stage, then the pointwise stage
    for step in range(n, 2 * n):
        rows, frame = v.explain(step)
        o = np.unravel_index(step - n, v.sample.trace.out_shape)
        value = float(v.sample.y[(0, 0, *o)])
        assert frame.sums[0].value == pytest.approx(value, abs=1e-5)
        assert rows[-1]["stage"] == "= output" and float(rows[-1]["product"]) == value
        pointwise = [r for r in rows if r["stage"] == "pointwise"]
        bias = [float(r["product"]) for r in rows if r["stage"] == "bias"]
        assert len(pointwise) == 2  # two intermediate maps (2 channels x depth_multiplier 1)
        total = sum(float(r["value"]) * float(r["weight"]) for r in pointwise) + sum(bias)
        assert total == pytest.approx(value)
        assert not any("inserted zero" in r["cell"] for r in rows)
    lay = {d["data_format"]: d for d in v.shape.layouts}
    assert lay["channels_first"]["input"] == (None, 2, 4, 4)
    assert lay["channels_last"]["output"] == (None, 4, 4, 2)
    assert lay["channels_first"]["window axes"] == (2, 3)


@pytest.mark.parametrize(("spec", "needle"), [
    (Spec("Conv2D", {"filters": 1, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
          (9, 9)), "dilation_rate"),
    (Spec("Conv2D", {"filters": 3, "kernel_size": 3, "groups": 2}, (5, 5), 2), "groups"),
    (Spec("Conv2D", {"filters": 1, "kernel_size": 7}, (5, 5)), "negative"),
    (Spec("Conv2D", {"filters": 1, "kernel_size": 3}, (40, 5)), "at most 32"),
    (Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2,
                              "output_padding": 2}, (3, 3)), "output_padding"),
    (Spec("Conv1D", {"filters": 1, "kernel_size": 3}, (5,)), None),
])
def test_invalid_specs_give_an_error_not_an_exception(spec, needle):
    v = view.build(spec)
    if needle is None:
        assert v.error is None
    else:
        assert v.error is not None and needle in v.error, v.error
