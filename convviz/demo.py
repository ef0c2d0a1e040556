"""Small teaching configurations: a hashable layer spec, integer sample data and size caps.

Pages, exports and the command line all describe what they show with a :class:`Spec`
(layer name, arguments, spatial input size, channels, data_format). It is small and
hashable, so Streamlit caches on it, and it rebuilds the same layer, the same integer
input and the same integer weights every time (numbers mode).

>>> spec = Spec("Conv2D", {"filters": 1, "kernel_size": 3}, spatial=(5, 5))
>>> spec.input_shape, spec.build().compute_output_shape(spec.input_shape)
((1, 5, 5, 1), (1, 3, 3, 1))
>>> x = sample_input(spec); x.shape, x.dtype.name
((1, 5, 5, 1), 'float32')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import convviz

from . import layout
from .geometry import prod

#: Largest spatial length per axis an animation accepts, by rank.
MAX_ANIMATION_SIZE = {1: 64, 2: 32, 3: 12}
#: Largest number of window positions (output cells) an animation accepts.
MAX_ANIMATION_STEPS = 8192
#: Largest channel count drawn in numbers mode (the explain table lists every channel).
MAX_CHANNELS = 16


def _freeze(value):
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, np.integer):
        return int(value)
    return value


@dataclass(frozen=True)
class Spec:
    """A layer configuration small enough to draw.

    Parameters
    ----------
    name : str
        A convviz (Keras) class name, e.g. ``"Conv2DTranspose"``.
    kwargs : mapping
        Constructor arguments (lists become tuples so the spec stays hashable).
    spatial : tuple of int
        Input length per spatial axis (its length is the rank).
    channels : int
        Input channels.
    """

    name: str
    kwargs: Any = ()
    spatial: tuple = (5, 5)
    channels: int = 1

    def __post_init__(self):
        kwargs = self.kwargs.items() if isinstance(self.kwargs, Mapping) else self.kwargs
        object.__setattr__(self, "kwargs", tuple((str(k), _freeze(v)) for k, v in kwargs))
        object.__setattr__(self, "spatial", tuple(int(n) for n in self.spatial))
        object.__setattr__(self, "channels", int(self.channels))

    @property
    def arguments(self) -> dict:
        """The constructor arguments as a dict."""
        return dict(self.kwargs)

    @property
    def rank(self) -> int:
        return len(self.spatial)

    @property
    def data_format(self) -> str:
        return self.arguments.get("data_format") or "channels_last"

    @property
    def input_shape(self) -> tuple:
        """Full input shape with a batch of 1, in the spec's data_format."""
        return layout.join(1, self.spatial, self.channels, self.data_format)

    def layer_class(self):
        cls = convviz.LAYERS.get(self.name)
        if cls is None:
            raise ValueError(
                f"Unknown layer {self.name!r}. Expected one of: {', '.join(sorted(convviz.LAYERS))}"
            )
        return cls

    def build(self):
        """A new built layer with integer weights (ValueError for an invalid configuration)."""
        layer = self.layer_class()(**self.arguments)
        layer.build(self.input_shape)
        if layer.weights:
            layer.set_weights(sample_weights(layer))
        return layer


def sample_input(spec: Spec, seed: int = 0) -> np.ndarray:
    """Small integers (1..4) in the spec's input shape, float32, deterministic.

    Never 0, so a real input cell can always be told from a padding cell or an inserted
    zero, and no row or column of the input is all zeros.
    """
    rng = np.random.default_rng(seed)
    return rng.integers(1, 5, size=spec.input_shape).astype(np.float32)


def sample_weights(layer, seed: int = 1) -> list:
    """Integer weights for ``layer``: kernels in {-1, 0, 1, 2}, biases in {-1, 1, 2}.

    Small enough to add by eye; the bias is never 0, so its term in the arithmetic shows.
    """
    rng = np.random.default_rng(seed)
    out = []
    for w in layer.get_weights():
        if w.ndim == 1:
            out.append(rng.choice(np.array([-1, 1, 2]), size=w.shape).astype(w.dtype))
        else:
            out.append(rng.integers(-1, 3, size=w.shape).astype(w.dtype))
    return out


def check_animation_size(spec: Spec) -> None:
    """Refuse configurations too large to animate on a shared server (ValueError says why)."""
    cap = MAX_ANIMATION_SIZE.get(spec.rank)
    if cap is None:
        raise ValueError(f"Animations take rank 1, 2 or 3 inputs. Received rank {spec.rank}.")
    big = [n for n in spec.spatial if n > cap]
    if big:
        raise ValueError(
            f"Input size {spec.spatial} is too large to animate: at most {cap} cells per axis "
            f"for a {spec.rank}D layer. Use the shape calculator or the Python API for "
            "larger inputs."
        )
    if spec.channels > MAX_CHANNELS:
        raise ValueError(
            f"{spec.channels} channels is too many to draw: at most {MAX_CHANNELS}."
        )


def check_steps(trace) -> None:
    """Refuse traces with more window positions than :data:`MAX_ANIMATION_STEPS`."""
    steps = prod(trace.out_shape)
    if steps > MAX_ANIMATION_STEPS:
        raise ValueError(
            f"The output has {steps} cells (shape {tuple(trace.out_shape)}): at most "
            f"{MAX_ANIMATION_STEPS} can be animated. Reduce the input size or the upsampling size."
        )


@dataclass(frozen=True)
class Sample:
    """A built layer with its integer input and output (batch 1), and its trace."""

    spec: Spec
    layer: Any
    x: np.ndarray
    y: np.ndarray
    trace: Any

    def channel_plane(self, array: np.ndarray, channel: int = 0) -> np.ndarray:
        """The spatial array of one channel of batch item 0 of ``array``."""
        return layout.to_last(array, self.spec.data_format)[0, ..., channel]


def run(spec: Spec, seed: int = 0) -> Sample:
    """Build the spec's layer, run it on its sample input and trace it (ValueError if invalid)."""
    check_animation_size(spec)
    layer = spec.build()
    x = sample_input(spec, seed)
    y = layer(x)
    trace = layer.trace(spec.input_shape)
    check_steps(trace)
    return Sample(spec, layer, x, y, trace)
