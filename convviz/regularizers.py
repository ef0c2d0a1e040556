"""Keras weight regularizers and constraints, kept for configs and ``layer.losses``.

Regularizers add their penalty to ``layer.losses`` after a call, as in Keras.
Constraints only matter to an optimizer: convviz accepts and serializes them.
"""

from __future__ import annotations

import numpy as np


class Regularizer:
    def __call__(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_factor(name, value):
    if not isinstance(value, (int, float)) or value < 0 or np.isnan(value):
        raise ValueError(
            f"Value for argument `{name}` must be a non-negative float. Received: {name}={value}"
        )
    return float(value)


class L1(Regularizer):
    def __init__(self, l1=0.01):
        self.l1 = _check_factor("l1", l1)

    def __call__(self, x):
        return self.l1 * float(np.sum(np.abs(x)))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    def __init__(self, l2=0.01):
        self.l2 = _check_factor("l2", l2)

    def __call__(self, x):
        return self.l2 * float(np.sum(np.square(x)))

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _check_factor("l1", l1)
        self.l2 = _check_factor("l2", l2)

    def __call__(self, x):
        return self.l1 * float(np.sum(np.abs(x))) + self.l2 * float(np.sum(np.square(x)))

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class Constraint:
    """A named constraint, kept for configuration (applied only by optimizers)."""

    def __init__(self, **config):
        self.config = config

    def get_config(self):
        return dict(self.config)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    pass


class MinMaxNorm(Constraint):
    pass


class NonNeg(Constraint):
    pass


class UnitNorm(Constraint):
    pass


REGULARIZERS = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}
CONSTRAINTS = {
    "max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
    "MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm,
}


def _get(identifier, table, base, kind):
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        if identifier in table:
            return table[identifier]()
        raise ValueError(
            f"Could not interpret {kind} identifier: {identifier!r}. "
            f"Allowed names: {sorted(k for k in table if k.islower())}."
        )
    if isinstance(identifier, dict) and identifier.get("class_name") in table:
        return table[identifier["class_name"]].from_config(identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}")


def get(identifier):
    """Resolve None, a name ("l1", "l2", "l1_l2"), a dict, an instance or a callable."""
    return _get(identifier, REGULARIZERS, Regularizer, "regularizer")


def get_constraint(identifier):
    return _get(identifier, CONSTRAINTS, Constraint, "constraint")


def serialize(obj):
    if obj is None:
        return None
    if isinstance(obj, (Regularizer, Constraint)):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    return obj
