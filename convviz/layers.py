"""Keras-named layers: one base class per family, the rank is a class attribute.

``Conv2D`` is only ``BaseConv`` with ``rank = 2``; every formula is per axis in
:mod:`convviz.geometry` and every numeric kernel is N-d in :mod:`convviz.engine`.

>>> import numpy as np, convviz
>>> convviz.Conv2D(32, 3, activation="relu")(np.zeros((4, 10, 10, 128))).shape
(4, 8, 8, 32)
"""

from __future__ import annotations

import inspect
import re

import numpy as np

from . import activations, engine, formulas, geometry, initializers, layout, regularizers
from . import trace as _trace
from .geometry import prod
from .layout import DATA_FORMATS

_name_counts: dict[str, int] = {}
_UNSET = object()


# ----------------------------------------------------------------------------- validation
def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def standardize_tuple(value, n: int, name: str, allow_zero: bool = False) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints, each ``> 0`` (``>= 0`` with ``allow_zero``)."""
    msg = (
        f"The `{name}` argument must be an int or a tuple of {n} integers. "
        f"Received: {name}={value!r}"
    )
    if _is_int(value):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(msg) from None
        if len(values) != n or not all(_is_int(v) for v in values):
            raise ValueError(msg)
        values = tuple(int(v) for v in values)
    bad = [v for v in values if (v < 0 if allow_zero else v <= 0)]
    if bad:
        req = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{msg}, including values {bad} that do not satisfy `value {req}`.")
    return values


def standardize_padding(value, allow_causal: bool = False) -> str:
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        hint = "" if allow_causal or padding != "causal" else " ('causal' is only for Conv1D)"
        raise ValueError(
            f"The `padding` argument must be one of {allowed}{hint}. Received: padding={value!r}"
        )
    return padding


def standardize_data_format(value) -> str:
    if value is None:
        return "channels_last"
    fmt = value.lower() if isinstance(value, str) else value
    if fmt not in DATA_FORMATS:
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={value!r}"
        )
    return fmt


def _positive_int(value, name: str) -> int:
    if not _is_int(value) or value <= 0:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a strictly positive int. "
            f"Received {name}={value!r}."
        )
    return int(value)


def standardize_pairs(value, rank: int, name: str) -> tuple[tuple[int, int], ...]:
    """Cropping/padding forms: an int, ``rank`` ints (symmetric), or ``rank`` ``(lo, hi)`` pairs.

    For ``rank == 1`` a pair of ints is ``(lo, hi)``.
    """
    forms = (
        f"an int, a tuple of {rank} ints, or a tuple of {rank} tuples of 2 ints"
        if rank > 1
        else "an int or a tuple of 2 ints (start, end)"
    )
    msg = f"`{name}` should be {forms}, each >= 0. Received: {name}={value!r}."
    if _is_int(value):
        pairs = ((int(value), int(value)),) * rank
    else:
        try:
            items = tuple(value)
        except TypeError:
            raise ValueError(msg) from None
        if rank == 1:
            items = (items,)
        if len(items) != rank:
            raise ValueError(msg)
        pairs = []
        for item in items:
            if _is_int(item):
                pairs.append((int(item), int(item)))
                continue
            try:
                pair = tuple(item)
            except TypeError:
                raise ValueError(msg) from None
            if len(pair) != 2 or not all(_is_int(v) for v in pair):
                raise ValueError(msg)
            pairs.append((int(pair[0]), int(pair[1])))
        pairs = tuple(pairs)
    if any(v < 0 for p in pairs for v in p):
        raise ValueError(msg)
    return pairs


def snake_name(name: str) -> str:
    """The name Keras gives the first layer of class ``name``: ``"conv2d_transpose"``."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def argument_names(cls) -> list[str]:
    """The keyword arguments layer class ``cls`` takes, in its signature's order (without
    ``**kwargs``): what a page, the CLI or a caller may pass it."""
    params = inspect.signature(cls).parameters.values()
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def next_name(cls_name: str, counts: dict[str, int]) -> str:
    """The name Keras gives the next layer of class ``cls_name``, counting in ``counts``:
    ``conv2d``, then ``conv2d_1``, ... (pass a fresh dict for a fresh model's names)."""
    base = snake_name(cls_name)
    count = counts.get(base, 0)
    counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _auto_name(cls_name: str) -> str:
    return next_name(cls_name, _name_counts)


# ----------------------------------------------------------------------------- formula parts
_C_IN, _C_OUT = formulas.sub("C", "in"), formulas.sub("C", "out")
_TIMES = formulas.TIMES
_PROD_K = formulas.sym("\\prod k", "prod k")


def _kernel_terms(kernel_size) -> formulas.Formula:
    """``3 * 3`` of a kernel size, as factors."""
    parts = []
    for i, k in enumerate(kernel_size):
        parts += [_TIMES, k] if i else [k]
    return formulas.term(*parts)


def _filters_formula(c_out) -> formulas.Formula:
    return formulas.term(_C_OUT, " = ", formulas.word("filters"), f" = {c_out}")


# ----------------------------------------------------------------------------- base
class Layer:
    """Keras-like layer protocol: build, call, weights, config, losses.

    Subclasses set ``rank``, ``family`` (the key of :data:`convviz.catalog.FAMILIES` they
    belong to) and ``has_data_format``; they implement
    ``_build_weights(channels)``, ``_spatial_output(spatial)``, ``_channels_out(c)``
    and ``_call_last(x)`` on channels-last arrays.  A subclass whose kernel reads a
    strided channels-last view and writes a channels_first output itself sets
    ``fuses_first`` and takes ``_call_last(x, out_first=True)``: channels_first inputs
    then skip the two layout copies.
    """

    rank = 0
    family = ""
    has_data_format = True
    fuses_first = False

    def __init__(self, name=None, trainable=True, dtype=None, activity_regularizer=None,
                 data_format=_UNSET, **kwargs):
        kwargs.pop("input_shape", None)
        kwargs.pop("batch_size", None)
        kwargs.pop("input_dim", None)
        if not self.has_data_format and data_format is not _UNSET:
            kwargs["data_format"] = data_format
        data_format = None if data_format is _UNSET else data_format
        if not isinstance(trainable, (bool, np.bool_)):
            raise ValueError(
                f"Expected `trainable` to be a boolean. Received: trainable={trainable}"
            )
        if kwargs:
            raise ValueError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}"
            )
        self.name = name if name is not None else _auto_name(type(self).__name__)
        self.trainable = bool(trainable)
        self.dtype = np.dtype(dtype or "float32").name
        if np.dtype(self.dtype).kind != "f":
            raise ValueError(f"`dtype` must be a floating point type. Received: dtype={dtype!r}")
        self.data_format = standardize_data_format(data_format)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.built = False
        self.input_channels = None
        self._weight_names: list[str] = []
        self._regularizers: dict[str, object] = {}
        self._activity_losses: list[float] = []

    # --- shapes -----------------------------------------------------------------
    def split_shape(self, input_shape):
        """``(batch, spatial, channels)`` of a Keras-style shape, validated."""
        shape = tuple(None if v is None else int(v) for v in input_shape)
        if len(shape) != self.rank + 2:
            order = ("(batch, channels, *spatial)" if layout.is_first(self.data_format)
                     else "(batch, *spatial, channels)")
            raise ValueError(
                f"Input 0 of layer '{self.name}' ({type(self).__name__}) is incompatible with "
                f"the layer: expected ndim={self.rank + 2} {order}, found ndim={len(shape)}. "
                f"Full shape received: {shape}"
            )
        return layout.split(shape, self.data_format)

    def _join(self, batch, spatial, channels):
        return layout.join(batch, spatial, channels, self.data_format)

    def compute_output_shape(self, input_shape):
        """Keras-style output shape; ``None`` (batch or spatial) stays ``None``."""
        batch, spatial, channels = self.split_shape(input_shape)
        return self._join(batch, self._spatial_output(spatial), self._channels_out(channels))

    def _channels_out(self, channels):
        return channels

    def _spatial_output(self, spatial):  # pragma: no cover - abstract
        raise NotImplementedError

    # --- weights ----------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for ``input_shape`` (validates it first)."""
        _, _, channels = self.split_shape(input_shape)
        if channels is None:
            raise ValueError(
                f"The channel dimension of the inputs to {type(self).__name__} should be "
                f"defined. Received input_shape={tuple(input_shape)}"
            )
        self.compute_output_shape(input_shape)
        self._weight_names, self._regularizers = [], {}  # building again makes fresh weights
        self._build_weights(channels)
        self.input_channels = channels
        self.built = True

    def _build_weights(self, channels):
        pass

    def add_weight(self, name, shape, initializer, regularizer=None):
        value = initializers.get(initializer)(shape, dtype=self.dtype)
        setattr(self, name, value)
        self._weight_names.append(name)
        if regularizer is not None:
            self._regularizers[name] = regularizer
        return value

    @property
    def weights(self):
        return [getattr(self, n) for n in self._weight_names]

    def get_weights(self):
        """Copies of the weights, in Keras's order and shapes."""
        return [np.array(w) for w in self.weights]

    def set_weights(self, weights):
        weights = list(weights)
        if len(weights) != len(self._weight_names):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list "
                f"of length {len(weights)}, but the layer was expecting "
                f"{len(self._weight_names)} weights ({self._weight_names})."
            )
        new = []
        for name, value in zip(self._weight_names, weights):
            value = np.asarray(value)
            expected = getattr(self, name).shape
            if value.shape != expected:
                raise ValueError(
                    f"Layer '{self.name}' weight '{name}' has shape {expected}, which is not "
                    f"compatible with the provided weight shape {value.shape}."
                )
            new.append(value.astype(self.dtype))
        for name, value in zip(self._weight_names, new):
            setattr(self, name, value)

    def channel_formula(self, c_in: int, c_out: int) -> formulas.Formula:
        """How the output's channel count follows from the input's (filled in)."""
        return formulas.term(_C_OUT, " = ", _C_IN, f" = {c_out}")

    def params_formula(self, channels: int) -> formulas.Formula | None:
        """``general = terms`` of the parameter count on ``channels`` input channels
        (None: the layer has no weights)."""
        return None

    def count_params(self):
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer "
                "isn't built. You can build it manually via: `layer.build(input_shape)`."
            )
        return int(sum(w.size for w in self.weights))

    @property
    def losses(self):
        """Weight-regularizer penalties plus activity penalties of the last call."""
        out = [float(reg(getattr(self, n))) for n, reg in self._regularizers.items()]
        return out + list(self._activity_losses)

    # --- call -------------------------------------------------------------------
    def __call__(self, inputs):
        x = np.asarray(inputs)
        # Float inputs keep their dtype; a float64 layer computes (and returns) float64.
        out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(self.dtype)
        if self.dtype == "float64":
            out_dtype = np.dtype("float64")
        compute = np.float64 if out_dtype == np.float64 else np.float32
        x = x.astype(compute, copy=False)
        if not self.built:
            self.build(x.shape)
        _, _, channels = self.split_shape(x.shape)
        if self._weight_names and channels != self.input_channels:
            axis = layout.channel_axis(self.data_format)
            raise ValueError(
                f"Input 0 of layer '{self.name}' is incompatible with the layer: expected axis "
                f"{axis} of input shape to have value {self.input_channels}, but received "
                f"input with shape {x.shape}"
            )
        self.compute_output_shape(x.shape)  # validates spatial sizes with Keras's messages
        first = layout.is_first(self.data_format)
        if first and self.fuses_first:
            y = self._call_last(layout.to_last(x, self.data_format), out_first=True)
        else:
            last = np.ascontiguousarray(layout.to_last(x, self.data_format)) if first else x
            y = self._call_last(last)
            if first:
                y = np.ascontiguousarray(layout.from_last(y, self.data_format))
        activation = getattr(self, "activation", activations.linear)
        if activation is not activations.linear:
            y = np.asarray(activation(y))
        # Keras divides the activity penalty by the batch size.
        self._activity_losses = (
            [float(self.activity_regularizer(y)) / max(y.shape[0], 1)]
            if self.activity_regularizer else []
        )
        return y.astype(out_dtype, copy=False)

    def _call_last(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    # --- trace ------------------------------------------------------------------
    def trace(self, input_shape, view="gather"):
        """Geometry of this layer on ``input_shape`` (batch may be None): a :class:`Trace`.

        ``view="scatter"`` (transposed convolutions only) gives one step per input cell.
        """
        _, spatial, _ = self.split_shape(input_shape)
        if any(n is None for n in spatial):
            raise ValueError(
                f"A trace needs concrete spatial sizes. Received: input_shape={input_shape}"
            )
        self._spatial_output(spatial)
        if view != "gather":
            raise ValueError(
                f"{type(self).__name__} has only the 'gather' view. Received: view={view!r}"
            )
        return _trace.Trace(self.trace_kind, self._axis_traces(spatial), self._channel_rule())

    def _channel_rule(self):
        return {}

    def explain(self, x, out_index):
        """Every tap behind ``self(x)[out_index]``: an :class:`~convviz.trace.Explanation`."""
        return _trace.explain(self, x, out_index)

    def explain_rows(self, step, xb, f):
        """Rows of one output cell for reshaping layers: the source cell(s) of channel f."""
        return _trace.taps_table(step, xb, [f], lambda t, c: step.weight[t])

    # --- config -----------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.has_data_format:
            config["data_format"] = self.data_format
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _invalid_output(layer, spatial, out, rule, **received):
    if any(o is not None and o <= 0 for o in out):
        details = ", ".join(f"{k}={v}" for k, v in received.items())
        raise ValueError(
            f"Computed output size would be zero or negative: {tuple(out)} for layer "
            f"'{layer.name}' ({type(layer).__name__}). Received: input spatial shape="
            f"{tuple(spatial)}, {details}. {rule}"
        )


# ----------------------------------------------------------------------------- convolution
class _WindowedConv(Layer):
    """Shared arguments of the forward windowed convolutions (Conv, Depthwise, Separable)."""

    allow_causal = False
    forbid_strided_dilation = True

    def __init__(self, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, bias_initializer="zeros",
                 bias_regularizer=None, bias_constraint=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        r = self.rank
        self.kernel_size = standardize_tuple(kernel_size, r, "kernel_size")
        self.strides = standardize_tuple(strides, r, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, r, "dilation_rate")
        self.padding = standardize_padding(padding, allow_causal=self.allow_causal)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.bias_constraint = regularizers.get_constraint(bias_constraint)
        if (
            self.forbid_strided_dilation
            and max(self.strides) > 1
            and max(self.dilation_rate) > 1
        ):
            raise ValueError(
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}"
            )

    def axis_formula(self, axis: int, n: int) -> formulas.AxisFormula:
        """The output length of spatial axis ``axis`` (``n`` cells) and how it is worked out."""
        return formulas.conv_axis(n, self.kernel_size[axis], self.strides[axis],
                                  self.dilation_rate[axis], self.padding)

    def pads(self, spatial):
        """``((lo, hi), ...)`` the window slides over, per spatial axis."""
        return tuple(
            geometry.conv_pads(n, k, s, d, self.padding)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )

    def _spatial_output(self, spatial):
        out = tuple(
            None if n is None else geometry.conv_output_length(n, k, s, d, self.padding)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )
        _invalid_output(self, spatial, out,
                        "The dilated window d*(k-1)+1 must fit inside the input with 'valid' "
                        "padding: n >= d*(k-1)+1 along every axis.",
                        kernel_size=self.kernel_size, strides=self.strides,
                        dilation_rate=self.dilation_rate, padding=repr(self.padding))
        return out

    def _axis_traces(self, spatial):
        return _trace.conv_axes(spatial, self.kernel_size, self.strides, self.dilation_rate,
                                self.padding)

    def _bias(self):
        """The bias for the engine (added per chunk, while the output is in cache), or None.

        The activation runs later, in ``__call__``, on the data_format layout (as Keras).
        """
        return self.bias if self.use_bias else None

    def get_config(self):
        config = super().get_config()
        config.update(
            kernel_size=self.kernel_size, strides=self.strides, padding=self.padding,
            dilation_rate=self.dilation_rate,
            activation=activations.serialize(self.activation), use_bias=self.use_bias,
            bias_initializer=initializers.serialize(self.bias_initializer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            activity_regularizer=regularizers.serialize(self.activity_regularizer),
            bias_constraint=regularizers.serialize(self.bias_constraint),
        )
        return config


class BaseConv(_WindowedConv):
    """N-d convolution (cross-correlation) with groups; ``Conv2D`` is ``rank = 2``.

    Weights: ``kernel`` of shape ``kernel_size + (Cin // groups, filters)``,
    ``bias`` of shape ``(filters,)``.
    """

    family = "convolution"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        self.allow_causal = self.rank == 1
        super().__init__(
            kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
            bias_initializer, bias_regularizer, bias_constraint,
            activity_regularizer=activity_regularizer, **kwargs,
        )
        self.filters = _positive_int(filters, "filters")
        self.groups = _positive_int(groups, "groups")
        if self.filters % self.groups:
            raise ValueError(
                "The number of filters must be evenly divisible by the number of groups. "
                f"Received: groups={self.groups}, filters={self.filters}."
            )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = regularizers.get_constraint(kernel_constraint)

    def _channels_out(self, channels):
        return self.filters

    def _build_weights(self, channels):
        if channels % self.groups:
            raise ValueError(
                "The number of input channels must be evenly divisible by the number of "
                f"groups. Received groups={self.groups}, but the input has {channels} channels."
            )
        self.add_weight("kernel", self.kernel_size + (channels // self.groups, self.filters),
                        self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer,
                            self.bias_regularizer)

    fuses_first = True

    def _call_last(self, x, out_first=False):
        pads = self.pads(x.shape[1:-1])
        return engine.conv(x, self.kernel, self.strides, pads, self.dilation_rate, self.groups,
                           bias=self._bias(), out_first=out_first)

    trace_kind = "conv"

    def channel_formula(self, c_in, c_out):
        return _filters_formula(c_out)

    def params_formula(self, channels):
        g, f = self.groups, self.filters
        c = f"({channels}/{g})" if g > 1 else channels
        general = formulas.term(_PROD_K, _TIMES, _C_IN, "/g", _TIMES, "F + F")
        return formulas.term(general, " = ", _kernel_terms(self.kernel_size), _TIMES, c,
                             _TIMES, f, f" + {f}" if self.use_bias else "")

    def macs_per_sample(self, spatial, out_spatial, channels) -> int:
        return prod(out_spatial) * self.filters * prod(self.kernel_size) * (
            channels // self.groups)

    def _channel_rule(self):
        return {"groups": self.groups, "filters": self.filters}

    def explain_rows(self, step, xb, f):
        cg = self.kernel.shape[-2]
        g = f // (self.filters // self.groups)
        kernel = self.kernel
        return _trace.taps_table(
            step, xb, np.arange(g * cg, (g + 1) * cg),
            lambda t, c: kernel[(*step.kernel_index[t].T, c - g * cg, f)],
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, groups=self.groups,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            kernel_constraint=regularizers.serialize(self.kernel_constraint),
        )
        return config


class BaseDepthwiseConv(_WindowedConv):
    """N-d depthwise convolution: channel ``c`` convolved with ``depth_multiplier`` kernels.

    Weights: ``kernel`` of shape ``kernel_size + (Cin, M)``, ``bias`` of shape ``(Cin*M,)``;
    output channel ``c*M + m``.
    """

    family = "depthwise/separable"

    forbid_strided_dilation = False

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(
            kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
            bias_initializer, bias_regularizer, bias_constraint,
            activity_regularizer=activity_regularizer, **kwargs,
        )
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier")
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.depthwise_constraint = regularizers.get_constraint(depthwise_constraint)

    def _channels_out(self, channels):
        return None if channels is None else channels * self.depth_multiplier

    def _build_weights(self, channels):
        self.add_weight("kernel", self.kernel_size + (channels, self.depth_multiplier),
                        self.depthwise_initializer, self.depthwise_regularizer)
        if self.use_bias:
            self.add_weight("bias", (channels * self.depth_multiplier,), self.bias_initializer,
                            self.bias_regularizer)

    fuses_first = True

    def _call_last(self, x, out_first=False):
        pads = self.pads(x.shape[1:-1])
        if out_first:  # x is the channels-last view of the channels_first input
            x = np.moveaxis(x, -1, 1)
        return engine.depthwise_conv(x, self.kernel, self.strides, pads, self.dilation_rate,
                                     bias=self._bias(), first=out_first)

    trace_kind = "depthwise"

    def channel_formula(self, c_in, c_out):
        m = self.depth_multiplier
        return formulas.term(_C_OUT, " = ", _C_IN, _TIMES, formulas.word("depth_multiplier"),
                             f" = {c_in}", _TIMES, f"{m} = {c_out}")

    def params_formula(self, channels):
        m = self.depth_multiplier
        general = formulas.term(_PROD_K, _TIMES, _C_IN, _TIMES, "M + ", _C_IN, " M")
        return formulas.term(general, " = ", _kernel_terms(self.kernel_size), _TIMES,
                             channels, _TIMES, m, f" + {channels * m}" if self.use_bias else "")

    def macs_per_sample(self, spatial, out_spatial, channels) -> int:
        return prod(out_spatial) * channels * self.depth_multiplier * prod(self.kernel_size)

    def _channel_rule(self):
        return {"depth_multiplier": self.depth_multiplier}

    def explain_rows(self, step, xb, f):
        m = self.depth_multiplier
        kernel = self.kernel
        return _trace.taps_table(
            step, xb, [f // m], lambda t, c: kernel[(*step.kernel_index[t].T, c, f % m)]
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            depth_multiplier=self.depth_multiplier,
            depthwise_initializer=initializers.serialize(self.depthwise_initializer),
            depthwise_regularizer=regularizers.serialize(self.depthwise_regularizer),
            depthwise_constraint=regularizers.serialize(self.depthwise_constraint),
        )
        return config


class BaseSeparableConv(_WindowedConv):
    """Depthwise conv (strides, padding, dilation) then a 1x1 conv to ``filters``, bias, activation.

    Weights: ``depthwise_kernel`` ``kernel_size + (Cin, M)``, ``pointwise_kernel``
    ``(1,)*rank + (Cin*M, filters)``, ``bias`` ``(filters,)``.
    """

    family = "depthwise/separable"

    forbid_strided_dilation = False

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(
            kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
            bias_initializer, bias_regularizer, bias_constraint,
            activity_regularizer=activity_regularizer, **kwargs,
        )
        self.filters = _positive_int(filters, "filters")
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier")
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.depthwise_constraint = regularizers.get_constraint(depthwise_constraint)
        self.pointwise_constraint = regularizers.get_constraint(pointwise_constraint)

    def _channels_out(self, channels):
        return self.filters

    def _build_weights(self, channels):
        m = self.depth_multiplier
        self.add_weight("depthwise_kernel", self.kernel_size + (channels, m),
                        self.depthwise_initializer, self.depthwise_regularizer)
        self.add_weight("pointwise_kernel", (1,) * self.rank + (channels * m, self.filters),
                        self.pointwise_initializer, self.pointwise_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer,
                            self.bias_regularizer)

    fuses_first = True

    def _call_last(self, x, out_first=False):
        pads = self.pads(x.shape[1:-1])
        if out_first:  # x is the channels-last view of the channels_first input
            x = np.moveaxis(x, -1, 1)
        mid = engine.depthwise_conv(x, self.depthwise_kernel, self.strides, pads,
                                    self.dilation_rate, first=out_first)
        if out_first:
            mid = np.moveaxis(mid, 1, -1)
        ones = (1,) * self.rank
        zero = ((0, 0),) * self.rank
        return engine.conv(mid, self.pointwise_kernel, ones, zero, ones, bias=self._bias(),
                           out_first=out_first)

    trace_kind = "separable"

    def channel_formula(self, c_in, c_out):
        return _filters_formula(c_out)

    def params_formula(self, channels):
        m, f = self.depth_multiplier, self.filters
        general = formulas.term(_PROD_K, _TIMES, _C_IN, " M + ", _C_IN, " M", _TIMES, "F + F")
        return formulas.term(general, " = ", _kernel_terms(self.kernel_size), _TIMES,
                             channels, _TIMES, f"{m} + {channels * m}", _TIMES, f,
                             f" + {f}" if self.use_bias else "")

    def macs_per_sample(self, spatial, out_spatial, channels) -> int:
        mid = channels * self.depth_multiplier  # depthwise taps, then the pointwise mix
        return prod(out_spatial) * mid * (prod(self.kernel_size) + self.filters)

    def _channel_rule(self):
        return {"mix": True, "filters": self.filters}

    def explain_rows(self, step, xb, f):
        m = self.depth_multiplier
        dw, pw = self.depthwise_kernel, self.pointwise_kernel.reshape(-1, self.filters)
        stages = []
        for q in range(pw.shape[0]):
            stages.append(_trace.taps_table(
                step, xb, [q // m], lambda t, c, q=q: dw[(*step.kernel_index[t].T, c, q % m)],
                stage="depthwise",
            ))
        mids = np.array([t["product"].sum() for t in stages])
        point = {
            "stage": np.full(mids.size, "pointwise", dtype=object),
            "in_coord": np.broadcast_to(step.coords[:1], (mids.size, self.rank)),
            "source": np.full((mids.size, self.rank), -1),
            "padding": np.zeros(mids.size, dtype=bool),
            "inserted": np.zeros(mids.size, dtype=bool),
            "channel": np.arange(mids.size),
            "value": mids,
            "kernel_index": np.full((mids.size, self.rank), 0),
            "weight": pw[:, f].astype(np.float64),
            "product": mids * pw[:, f],
        }
        return _trace.concat_tables([*stages, point])

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, depth_multiplier=self.depth_multiplier,
            depthwise_initializer=initializers.serialize(self.depthwise_initializer),
            pointwise_initializer=initializers.serialize(self.pointwise_initializer),
            depthwise_regularizer=regularizers.serialize(self.depthwise_regularizer),
            pointwise_regularizer=regularizers.serialize(self.pointwise_regularizer),
            depthwise_constraint=regularizers.serialize(self.depthwise_constraint),
            pointwise_constraint=regularizers.serialize(self.pointwise_constraint),
        )
        return config


class BaseConvTranspose(_WindowedConv):
    """N-d transposed convolution, the scatter ``full[i*s + j*d] += x[i] * W[j]`` then a crop.

    Weights: ``kernel`` of shape ``kernel_size + (filters, Cin)``, ``bias`` ``(filters,)``.
    """

    family = "transposed"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(
            kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
            bias_initializer, bias_regularizer, bias_constraint,
            activity_regularizer=activity_regularizer, **kwargs,
        )
        self.filters = _positive_int(filters, "filters")
        if output_padding is None:
            self.output_padding = None
        else:
            self.output_padding = standardize_tuple(
                output_padding, self.rank, "output_padding", allow_zero=True
            )
            if any(op >= s for op, s in zip(self.output_padding, self.strides)):
                raise ValueError(
                    "`output_padding` must be < `strides` along every axis. "
                    f"Received: output_padding={self.output_padding}, strides={self.strides}"
                )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = regularizers.get_constraint(kernel_constraint)

    def _ops(self):
        return self.output_padding or (None,) * self.rank

    def _per_axis(self):
        return zip(self.kernel_size, self.strides, self.dilation_rate, self._ops())

    def crops(self):
        """Cells cut from the start of the scatter result, per axis."""
        return tuple(geometry.transpose_crop(k, s, d, self.padding, op)
                     for k, s, d, op in self._per_axis())

    def _spatial_output(self, spatial):
        out = tuple(
            None if n is None else geometry.transpose_output_length(n, k, s, d, self.padding, op)
            for n, (k, s, d, op) in zip(spatial, self._per_axis())
        )
        _invalid_output(self, spatial, out,
                        "With padding='same' and output_padding, the output length is "
                        "(n-1)*s + ke%2 + output_padding, which must be at least 1 "
                        "(Keras would return an empty tensor).",
                        kernel_size=self.kernel_size, strides=self.strides,
                        dilation_rate=self.dilation_rate, padding=repr(self.padding),
                        output_padding=self.output_padding)
        return out

    def _channels_out(self, channels):
        return self.filters

    def _build_weights(self, channels):
        self.add_weight("kernel", self.kernel_size + (self.filters, channels),
                        self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer,
                            self.bias_regularizer)

    fuses_first = True

    def _call_last(self, x, out_first=False):
        out = self._spatial_output(x.shape[1:-1])
        if out_first:  # x is the channels-last view of the channels_first input
            x = np.moveaxis(x, -1, 1)
        return engine.conv_transpose(x, self.kernel, self.strides, self.dilation_rate,
                                     self.crops(), out, bias=self._bias(), first=out_first)

    trace_kind = "transpose"

    def axis_formula(self, axis: int, n: int):
        op = self.output_padding[axis] if self.output_padding else None
        return formulas.transpose_axis(n, self.kernel_size[axis], self.strides[axis],
                                       self.dilation_rate[axis], self.padding, op)

    def channel_formula(self, c_in, c_out):
        return _filters_formula(c_out)

    def params_formula(self, channels):
        f = self.filters
        general = formulas.term(_PROD_K, _TIMES, "F", _TIMES, _C_IN, " + F")
        return formulas.term(general, " = ", _kernel_terms(self.kernel_size), _TIMES, f,
                             _TIMES, channels, f" + {f}" if self.use_bias else "")

    def macs_per_sample(self, spatial, out_spatial, channels) -> int:
        # every input cell times every tap; no multiplications by inserted zeros
        return prod(spatial) * prod(self.kernel_size) * channels * self.filters

    def _channel_rule(self):
        return {"mix": True, "filters": self.filters}

    def _axis_traces(self, spatial):
        return _trace.transpose_axes(spatial, self.kernel_size, self.strides,
                                     self.dilation_rate, self.padding, self.output_padding)

    def trace(self, input_shape, view="gather"):
        """Gather view (default; one step per output cell) or ``view="scatter"``."""
        if view not in ("gather", "scatter"):
            raise ValueError(
                f"`view` must be 'gather' or 'scatter'. Received: view={view!r}"
            )
        gather = super().trace(input_shape)
        if view == "gather":
            return gather
        return _trace.ScatterTrace(gather, self.kernel_size, self.strides, self.dilation_rate,
                                   self.crops())

    def explain_rows(self, step, xb, f):
        kernel = self.kernel
        return _trace.taps_table(
            step, xb, np.arange(xb.shape[-1]),
            lambda t, c: kernel[(*step.kernel_index[t].T, f, c)],
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, output_padding=self.output_padding,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            kernel_constraint=regularizers.serialize(self.kernel_constraint),
        )
        return config


# ----------------------------------------------------------------------------- reshaping
class BaseCropping(Layer):
    """Crop ``(lo, hi)`` cells off each spatial axis."""

    family = "cropping"

    def __init__(self, cropping, **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_pairs(cropping, self.rank, "cropping")

    def _spatial_output(self, spatial):
        for n, (lo, hi) in zip(spatial, self.cropping):
            if n is not None and lo + hi >= n:
                raise ValueError(
                    "Values in `cropping` argument should be smaller than the corresponding "
                    f"spatial dimension of the input (the total crop lo+hi must leave at least "
                    f"one cell). Received: input spatial shape={tuple(spatial)}, "
                    f"cropping={self.cropping}"
                )
        return tuple(None if n is None else n - lo - hi
                     for n, (lo, hi) in zip(spatial, self.cropping))

    trace_kind = "crop"

    def axis_formula(self, axis: int, n: int):
        return formulas.crop_axis(n, *self.cropping[axis])

    def macs_per_sample(self, spatial, out_spatial, channels) -> int:
        return 0

    def _axis_traces(self, spatial):
        return _trace.crop_axes(spatial, self.cropping)

    def _call_last(self, x):
        # cropping is negative padding
        return engine.pad(x, tuple((-lo, -hi) for lo, hi in self.cropping)).copy()

    def get_config(self):
        config = super().get_config()
        config["cropping"] = self.cropping
        return config


class BaseZeroPadding(Layer):
    """Add ``(lo, hi)`` zero cells to each spatial axis."""

    family = "zero padding"

    def __init__(self, padding, **kwargs):
        super().__init__(**kwargs)
        self.padding = standardize_pairs(padding, self.rank, "padding")

    def _spatial_output(self, spatial):
        return tuple(None if n is None else n + lo + hi
                     for n, (lo, hi) in zip(spatial, self.padding))

    trace_kind = "pad"

    def axis_formula(self, axis: int, n: int):
        return formulas.pad_axis(n, *self.padding[axis])

    def macs_per_sample(self, spatial, out_spatial, channels) -> int:
        return 0

    def _axis_traces(self, spatial):
        return _trace.pad_axes(spatial, self.padding)

    def _call_last(self, x):
        return engine.pad(x, self.padding)

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.padding
        return config


class BaseUpSampling(Layer):
    """Repeat every cell ``size`` times per axis (``interpolation`` only in UpSampling2D)."""

    family = "upsampling"

    interpolations = ("nearest",)

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, self.rank, "size")
        self.interpolation = "nearest"

    def _spatial_output(self, spatial):
        return tuple(None if n is None else n * s for n, s in zip(spatial, self.size))

    trace_kind = "upsample"

    def axis_formula(self, axis: int, n: int):
        return formulas.upsample_axis(n, self.size[axis])

    def macs_per_sample(self, spatial, out_spatial, channels) -> int:
        if self.interpolation == "nearest":
            return 0  # copies
        taps = prod(a.weight.shape[1] for a in self._axis_traces(tuple(spatial)))
        return prod(out_spatial) * channels * taps

    def _axis_traces(self, spatial):
        return _trace.upsample_axes(spatial, self.size, self.interpolation)

    def _call_last(self, x):
        if self.interpolation == "nearest":
            return engine.repeat(x, self.size)
        # The same per-axis source cells and weights the trace shows.
        for axis, a in enumerate(self._axis_traces(x.shape[1:-1]), start=1):
            x = engine.resize_axis(x, axis, a.coords, a.weight)
        return x

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size
        if len(self.interpolations) > 1:
            config["interpolation"] = self.interpolation
        return config


# ----------------------------------------------------------------------------- public classes
class Conv1D(BaseConv):
    """1D convolution (temporal); ``padding`` may also be ``"causal"``."""

    rank = 1


class Conv2D(BaseConv):
    rank = 2


class Conv3D(BaseConv):
    rank = 3


class Conv1DTranspose(BaseConvTranspose):
    rank = 1


class Conv2DTranspose(BaseConvTranspose):
    rank = 2


class Conv3DTranspose(BaseConvTranspose):
    rank = 3


class DepthwiseConv1D(BaseDepthwiseConv):
    rank = 1


class DepthwiseConv2D(BaseDepthwiseConv):
    rank = 2


class SeparableConv1D(BaseSeparableConv):
    rank = 1


class SeparableConv2D(BaseSeparableConv):
    rank = 2


class Cropping1D(BaseCropping):
    """Crop ``cropping=(start, end)`` steps; input ``(batch, steps, features)`` only."""

    rank = 1
    has_data_format = False

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping=cropping, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["cropping"] = self.cropping[0]
        return config


class Cropping2D(BaseCropping):
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping=cropping, data_format=data_format, **kwargs)


class Cropping3D(BaseCropping):
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping=cropping, data_format=data_format, **kwargs)


class ZeroPadding1D(BaseZeroPadding):
    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding=padding, data_format=data_format, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.padding[0]
        return config


class ZeroPadding2D(BaseZeroPadding):
    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding=padding, data_format=data_format, **kwargs)


class ZeroPadding3D(BaseZeroPadding):
    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding=padding, data_format=data_format, **kwargs)


class UpSampling1D(BaseUpSampling):
    """Repeat each step ``size`` times (an int); input ``(batch, steps, features)`` only."""

    rank = 1
    has_data_format = False

    def __init__(self, size=2, **kwargs):
        if not _is_int(size):
            raise ValueError(f"`size` must be an int for UpSampling1D. Received: size={size!r}")
        super().__init__(size=size, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size[0]
        return config


class UpSampling2D(BaseUpSampling):
    rank = 2
    interpolations = geometry.INTERPOLATIONS

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size=size, data_format=data_format, **kwargs)
        interp = interpolation.lower() if isinstance(interpolation, str) else interpolation
        if interp not in self.interpolations:
            raise ValueError(
                f"Invalid value for argument `interpolation`. Expected one of "
                f"{self.interpolations}. Received: interpolation={interpolation!r}"
            )
        self.interpolation = interp


class UpSampling3D(BaseUpSampling):
    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size=size, data_format=data_format, **kwargs)


# Keras aliases
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = (
    Conv1DTranspose, Conv2DTranspose, Conv3DTranspose,
)
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D

LAYERS = {
    cls.__name__: cls
    for cls in (
        Conv1D, Conv2D, Conv3D, Conv1DTranspose, Conv2DTranspose, Conv3DTranspose,
        DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
        Cropping1D, Cropping2D, Cropping3D, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D,
        UpSampling1D, UpSampling2D, UpSampling3D,
    )
}
