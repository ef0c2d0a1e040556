"""Keras weight initializers in NumPy, reproducible with a seed.

``get("glorot_uniform")`` returns a fresh :class:`GlorotUniform`; an instance is used
as is (``GlorotUniform(seed=0)`` for reproducible figures); a callable
``f(shape, dtype)`` is wrapped.  Unseeded initializers draw from the module
generator, which :func:`convviz.set_random_seed` reseeds.

Fans follow Keras's ``compute_fans``: for a kernel of shape ``(*k, a, b)``,
``fan_in = a * prod(k)`` and ``fan_out = b * prod(k)``.
"""

from __future__ import annotations

import math

import numpy as np

_global_rng = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Reseed the generator used by unseeded initializers (like ``keras.utils.set_random_seed``)."""
    global _global_rng
    _global_rng = np.random.default_rng(seed)


def compute_fans(shape):
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``init(shape, dtype="float32") -> ndarray``."""

    def __init__(self, seed=None):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"`seed` must be an int or None. Received: seed={seed!r}")
        self.seed = seed

    @property
    def rng(self):
        """A seeded initializer gives the same values on every call (as in Keras 3)."""
        return np.random.default_rng(self.seed) if self.seed is not None else _global_rng

    def __call__(self, shape, dtype="float32"):
        return np.asarray(self.sample(tuple(shape)), dtype=dtype)

    def sample(self, shape):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Zeros(Initializer):
    def __init__(self):
        super().__init__()

    def sample(self, shape):
        return np.zeros(shape)

    def get_config(self):
        return {}


class Ones(Zeros):
    def sample(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__()
        self.value = value

    def sample(self, shape):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def sample(self, shape):
        return self.rng.normal(self.mean, self.stddev, size=shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def sample(self, shape):
        return self.rng.uniform(self.minval, self.maxval, size=shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_unit_normal(rng, shape):
    """Unit normal samples redrawn until they lie within two standard deviations."""
    out = rng.normal(0.0, 1.0, size=shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
        bad = np.abs(out) > 2
    return out


class TruncatedNormal(RandomNormal):
    def sample(self, shape):
        return self.mean + self.stddev * _truncated_unit_normal(self.rng, shape)


class VarianceScaling(Initializer):
    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        if mode not in self.MODES:
            raise ValueError(f"Invalid `mode` argument: {mode!r}. Allowed: {self.MODES}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self.DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution` argument: {distribution!r}. Allowed: {self.DISTRIBUTIONS}"
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def sample(self, shape):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return self.rng.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return self.rng.normal(0.0, math.sqrt(var), size=shape)
        # stddev of a unit normal truncated to [-2, 2]
        std = math.sqrt(var) / 0.87962566103423978
        return std * _truncated_unit_normal(self.rng, shape)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}



def _scaling(name, scale, mode, distribution):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config})


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")

ALL = {
    cls.__name__: cls
    for cls in (
        Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
        GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal,
    )
}
NAMES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
}


class _Callable(Initializer):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def __call__(self, shape, dtype="float32"):
        return np.asarray(self.fn(tuple(shape), dtype), dtype=dtype)


def get(identifier) -> Initializer:
    """Resolve a name, a ``{"class_name", "config"}`` dict, an instance or a callable."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = NAMES.get(identifier) or ALL.get(identifier)
        if cls is None:
            raise ValueError(
                f"Could not interpret initializer identifier: {identifier!r}. "
                f"Allowed names: {sorted(NAMES)}."
            )
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = ALL.get(identifier["class_name"]) or NAMES.get(identifier["class_name"])
        if cls is None:
            raise ValueError(f"Unknown initializer class: {identifier['class_name']!r}")
        return cls.from_config(identifier.get("config", {}))
    if callable(identifier):
        return _Callable(identifier)
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")


def serialize(init):
    if isinstance(init, _Callable):
        return init.fn
    return {"class_name": type(init).__name__, "config": init.get_config()}
