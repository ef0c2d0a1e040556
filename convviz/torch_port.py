"""The same function in PyTorch: source code of a ``torch.nn.Module`` and its ``state_dict``.

:func:`to_torch` turns a convviz (Keras) layer into a :class:`TorchPort`: a short list of
torch ops (:class:`TorchOp`), the Python source that builds them as an ``nn.Sequential``
named ``module``, the layer's current weights in torch's layouts keyed as that module's
``state_dict()`` keys them, whether the numbers are exactly Keras's, and what a porter
must know.  Every number (pads, crops, ``output_padding``) comes from
:mod:`convviz.geometry`.  torch itself is never imported here: the code is text.

The module computes the layer on **channels-first** tensors ``(N, C, *spatial)``, torch's
order, whatever the layer's ``data_format``; a ``channels_last`` layer's input needs
``x.permute(...)`` first (the notes say which).

============================  ==========================================================
Keras                         torch (exact unless said)
============================  ==========================================================
Conv1D/2D/3D                  [``ZeroPadNd`` when Keras pads unevenly: 'same' with an odd
                              total, 'causal'] + ``ConvNd(padding=symmetric, groups=)``
Conv1D/2D/3DTranspose         ``ConvTransposeNd(padding=crop, output_padding=)``
                              [+ ``Crop`` of one end cell that torch cannot express]
DepthwiseConv1D/2D            [``ZeroPadNd``] + ``ConvNd(C, C*M, groups=C)``
SeparableConv1D/2D            [``ZeroPadNd``] + depthwise ``ConvNd`` + 1x1 ``ConvNd``
Cropping1D/2D/3D              ``Crop`` (a 6-line module the code defines)
ZeroPadding1D/2D/3D           ``ZeroPadNd`` (torch's order: last axis first)
UpSampling nearest            ``Upsample(mode='nearest-exact')``
UpSampling2D bilinear         ``Upsample(mode='bilinear', align_corners=False)``
UpSampling2D bicubic/lanczos  ``Upsample(mode='bicubic')``: NOT exact
activation                    the ``nn`` module of the same function (``Exp`` defined)
============================  ==========================================================

>>> import convviz
>>> port = convviz.to_torch(convviz.Conv1D(2, 2, padding="same"), (1, 5, 3))
>>> [op.kind for op in port.ops]            # Keras pads (0, 1): the odd cell at the END
['ZeroPad1d', 'Conv1d']
>>> {k: v.shape for k, v in port.state_dict().items()}
{'1.weight': (2, 3, 2), '1.bias': (2,)}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import activations, geometry, layout
from .layers import (
    BaseConv,
    BaseConvTranspose,
    BaseCropping,
    BaseDepthwiseConv,
    BaseSeparableConv,
    BaseUpSampling,
    BaseZeroPadding,
    Layer,
)

#: Modules the generated code defines itself (torch has no such class), with their source.
CUSTOM_MODULES = {
    "Crop": '''class Crop(nn.Module):
    """Cut (lo, hi) cells off each spatial axis of an (N, C, *spatial) tensor."""

    def __init__(self, cropping):
        super().__init__()
        self.cropping = cropping

    def forward(self, x):
        index = [slice(None), slice(None)]
        for axis, (lo, hi) in enumerate(self.cropping, start=2):
            index.append(slice(lo, x.shape[axis] - hi))
        return x[tuple(index)]
''',
    "Exp": '''class Exp(nn.Module):
    """Keras's 'exponential' activation."""

    def forward(self, x):
        return torch.exp(x)
''',
}

#: Keras activation name -> (torch class, keyword arguments): the same function.
#: softmax / log_softmax also get ``dim`` (see :func:`_activation_ops`).
ACTIVATIONS = {
    "relu": ("ReLU", ()),
    "relu6": ("ReLU6", ()),
    "leaky_relu": ("LeakyReLU", (("negative_slope", 0.2),)),  # Keras's default, not torch's
    "sigmoid": ("Sigmoid", ()),
    "hard_sigmoid": ("Hardsigmoid", ()),  # Keras 3: relu6(x + 3) / 6
    "hard_silu": ("Hardswish", ()),
    "tanh": ("Tanh", ()),
    "softplus": ("Softplus", ()),
    "softsign": ("Softsign", ()),
    "silu": ("SiLU", ()),
    "elu": ("ELU", (("alpha", 1.0),)),
    "selu": ("SELU", ()),
    "gelu": ("GELU", ()),  # erf form: Keras approximate=False, torch approximate='none'
    "exponential": ("Exp", ()),
    "mish": ("Mish", ()),
    "log_sigmoid": ("LogSigmoid", ()),
    "softmax": ("Softmax", ()),
    "log_softmax": ("LogSoftmax", ()),
}

LOAD_HINT = "module.load_state_dict({k: torch.from_numpy(v) for k, v in port.state_dict().items()})"


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class TorchOp:
    """One entry of the generated ``nn.Sequential``.

    ``kind`` is the torch class (``"Conv2d"``, ``"ZeroPad1d"``, ``"Upsample"``) or a
    class the code defines (:data:`CUSTOM_MODULES`); ``args`` are its arguments in order,
    ``(name, value)`` with ``name`` None for a positional one; ``params`` names the
    ``state_dict`` entries it owns (``"weight"``, ``"bias"``).
    """

    kind: str
    args: tuple = ()
    params: tuple[str, ...] = ()
    comment: str = ""

    def render(self) -> str:
        """The constructor call, e.g. ``nn.ReLU()``."""
        prefix = "" if self.kind in CUSTOM_MODULES else "nn."
        args = ", ".join(repr(v) if k is None else f"{k}={v!r}" for k, v in self.args)
        return f"{prefix}{self.kind}({args})"


def render_code(ops) -> str:
    """The Python source binding ``module`` to ``nn.Sequential(*ops)``, imports included."""
    lines = ["import torch", "import torch.nn as nn", ""]
    for kind in dict.fromkeys(op.kind for op in ops):
        if kind in CUSTOM_MODULES:
            lines += ["", CUSTOM_MODULES[kind]]
    if lines[-1] != "":
        lines.append("")
    lines.append("module = nn.Sequential(")
    for op in ops:
        comment = f"  # {op.comment}" if op.comment else ""
        lines.append(f"    {op.render()},{comment}")
    lines.append(")")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TorchPort:
    """A layer's PyTorch equivalent (see :func:`to_torch`).

    Attributes
    ----------
    layer : str
        The Keras class name.
    code : str
        Python source that, run, binds ``module`` (an ``nn.Sequential`` of ``ops``); it
        imports torch itself.
    ops : tuple of TorchOp
        What ``code`` builds, in order; ``code == render_code(ops)``.
    exact : bool
        True when ``module`` computes Keras's numbers up to float rounding.
    notes : tuple of str
        What differs (when not exact) and what a porter must know.
    weights : tuple of (str, ndarray)
        The ``state_dict`` entries in torch's layouts (read-only copies).
    """

    layer: str
    code: str
    ops: tuple[TorchOp, ...]
    exact: bool
    notes: tuple[str, ...]
    weights: tuple = field(default=(), repr=False, compare=False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Fresh copies of the weights, keyed as ``module.state_dict()`` keys them."""
        return {k: np.array(v) for k, v in self.weights}

    def summary(self) -> str:
        """The code, the weights' keys and shapes, and the notes, as text for a terminal."""
        verdict = "exact" if self.exact else "NOT exact (see notes)"
        lines = [f"PyTorch port of {self.layer}: {verdict}", "", self.code.rstrip(), ""]
        if self.weights:
            lines.append("state_dict (torch layout):")
            lines += [f"  {k}: {tuple(v.shape)}" for k, v in self.weights]
            lines += [f"load it with: {LOAD_HINT}", ""]
        lines.append("notes:")
        lines += [f"  - {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- helpers
def _torch_pad(pads) -> tuple[int, ...]:
    """Keras ``((lo, hi), ...)`` per axis, first axis first -> torch's flat pad tuple,
    last axis first: ``(w_lo, w_hi, h_lo, h_hi, ...)``."""
    return tuple(v for lo_hi in reversed(pads) for v in lo_hi)


def _torch_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras ``(*k, a, b)`` -> torch ``(b, a, *k)``: the one transpose every kernel needs
    (Conv ``a=Cin/groups, b=filters``; ConvTranspose ``a=filters, b=Cin``)."""
    r = kernel.ndim - 2
    return np.ascontiguousarray(np.transpose(kernel, (r + 1, r, *range(r))))


def _perm_text(kernel_ndim: int) -> str:
    r = kernel_ndim - 2
    return f"np.transpose(kernel, {(r + 1, r, *range(r))})"


def _names(rank: int) -> str:
    return ", ".join(geometry.AXIS_NAMES[rank])


def _layout_note(layer) -> str:
    r = layer.rank
    if layout.is_first(layer.data_format):
        return ("This layer is channels_first, torch's own order (N, C, "
                f"{_names(r)}): no permute needed.")
    into = (0, r + 1, *range(1, r + 1))
    back = (0, *range(2, r + 2), 1)
    return (f"The module takes channels-first tensors (N, C, {_names(r)}); this layer is "
            f"channels_last, so feed it x.permute{into} and turn its output back with "
            f"y.permute{back}.")


def _spatial(layer, input_shape):
    """Validated spatial lengths (None where unknown) and the channel count (or None)."""
    if input_shape is None:
        return (None,) * layer.rank, None
    layer.compute_output_shape(input_shape)  # Keras's errors for a bad shape
    _, spatial, channels = layer.split_shape(input_shape)
    return tuple(spatial), channels


def _built(layer, input_shape, channels):
    """Make sure the weighted ``layer`` is built on ``channels`` input channels."""
    if not layer.built:
        if channels is None:
            raise ValueError(
                f"to_torch needs the weights of {type(layer).__name__} '{layer.name}', which "
                "is not built: call it, build it (layer.build(input_shape)) or pass "
                f"input_shape with the channel count. Received: input_shape={input_shape!r}"
            )
        layer.build(input_shape)
    elif channels is not None and channels != layer.input_channels:
        raise ValueError(
            f"Layer '{layer.name}' was built for {layer.input_channels} input channels, but "
            f"input_shape has {channels}. Received: input_shape={tuple(input_shape)}"
        )
    return layer.input_channels


def _forward_pads(layer, spatial):
    """Keras's ``(lo, hi)`` per axis (:func:`geometry.conv_pads`).  Only ``'same'`` with a
    stride > 1 depends on the input length; elsewhere any length gives the same split, so
    an unknown one is taken as the effective kernel."""
    pads = []
    for n, k, s, d in zip(spatial, layer.kernel_size, layer.strides, layer.dilation_rate):
        if n is None:
            if layer.padding == "same" and s > 1:
                raise ValueError(
                    f"{type(layer).__name__} with padding='same' and strides="
                    f"{layer.strides} pads according to the input length (p depends on "
                    "n mod s): pass input_shape. Received: input_shape=None"
                )
            n = geometry.effective_kernel(k, d)
        pads.append(geometry.conv_pads(n, k, s, d, layer.padding))
    return tuple(pads)


def _pad_ops(layer, pads, notes) -> tuple[list[TorchOp], tuple[int, ...]]:
    """The explicit pad (when Keras's pads are uneven) and the conv's symmetric padding."""
    r = layer.rank
    even = all(lo == hi for lo, hi in pads)
    if layer.padding == "causal":
        notes.append(
            f"Keras 'causal' pads d*(k-1) = {pads[0][0]} zeros at the start only: "
            f"nn.ZeroPad1d({_torch_pad(pads)}) then a conv with padding=0."
        )
    elif layer.padding == "same":
        where = "after, i.e. bottom/right" if r > 1 else "after"
        if even:
            notes.append(
                "Keras 'same' puts an odd padding cell at the END (" + where + "); here "
                f"every axis pads evenly {pads}, so torch's symmetric "
                f"padding={tuple(lo for lo, _ in pads)} is exact."
            )
        else:
            notes.append(
                f"Keras 'same' puts the odd padding cell at the END ({where}): (lo, hi) = "
                f"{pads} per axis. torch's padding= is symmetric, so an explicit "
                f"nn.ZeroPad{r}d({_torch_pad(pads)}) (torch's order: last axis first) "
                "comes first and the conv has padding=0. (torch's own padding='same' "
                "also puts the odd cell at the end, but takes strides 1 only.)"
            )
        if max(layer.strides) > 1:
            notes.append(
                "With strides > 1 the 'same' pads depend on the input length: these are for "
                "the input_shape given; run to_torch again for another input size."
            )
    if even:
        return [], tuple(lo for lo, _ in pads)
    comment = ("Keras 'causal': zeros at the start only" if layer.padding == "causal"
               else "Keras 'same': the odd cell at the end")
    return [TorchOp(f"ZeroPad{r}d", ((None, _torch_pad(pads)),), comment=comment)], (0,) * r


def _conv_op(rank, c_in, c_out, kernel_size, strides, padding, dilation, groups, bias,
             comment=""):
    return TorchOp(
        f"Conv{rank}d",
        ((None, c_in), (None, c_out), ("kernel_size", tuple(kernel_size)),
         ("stride", tuple(strides)), ("padding", tuple(padding)),
         ("dilation", tuple(dilation)), ("groups", groups), ("bias", bias)),
        params=("weight", "bias") if bias else ("weight",),
        comment=comment,
    )


def _activation_ops(layer, notes) -> tuple[list[TorchOp], bool]:
    fn = getattr(layer, "activation", activations.linear)
    name = activations.serialize(fn)
    if name == "linear":
        return [], True
    if not isinstance(name, str) or name not in ACTIVATIONS:
        notes.append(
            f"The activation {fn!r} is not a Keras activation name: the module leaves it "
            "out; apply your own torch version after it."
        )
        return [], False
    kind, args = ACTIVATIONS[name]
    if name in ("softmax", "log_softmax"):
        # Keras applies it on the last axis of the layer's own layout.
        first = layout.is_first(layer.data_format)
        dim = -1 if first else 1
        args = (("dim", dim),)
        notes.append(
            f"Keras's {name} runs on the last axis of the layer's own layout: "
            + ("the last spatial axis (torch dim=-1)" if first
               else "the channels (torch dim=1 of the channels-first tensor)")
            + "."
        )
    if name == "leaky_relu":
        notes.append("Keras's leaky_relu slope is 0.2 (torch's default is 0.01).")
    return [TorchOp(kind, args)], True


# ----------------------------------------------------------------------------- families
def _port_conv(layer, spatial, c_in, notes):
    r = layer.rank
    pads = _forward_pads(layer, spatial)
    ops, padding = _pad_ops(layer, pads, notes)
    ops.append(_conv_op(r, c_in, layer.filters, layer.kernel_size, layer.strides, padding,
                        layer.dilation_rate, layer.groups, layer.use_bias))
    weights = {"weight": _torch_kernel(layer.kernel)}
    notes.append(
        f"Kernel layout: Keras {layer.kernel.shape} = (*kernel_size, Cin/groups, filters) -> "
        f"torch weight {weights['weight'].shape} = (filters, Cin/groups, *kernel_size), i.e. "
        f"{_perm_text(layer.kernel.ndim)}; the bias is the same. Both are cross-correlations "
        "(no kernel flip), and groups split the channels the same way."
    )
    return ops, [weights | ({"bias": layer.bias} if layer.use_bias else {})]


def _transpose_axis(n, k, s, d, padding, op):
    """torch ``(padding, output_padding, cells to cut off the end)`` of one axis.

    Keras keeps ``full[crop : crop + out]`` of the scatter result; torch's
    ``padding=p, output_padding=q`` keeps ``full[p : len(full) - p + q]``.  In the gather
    view (:func:`geometry.transpose_gather_pads`) torch pads ``(ke-1-p, ke-1-p+q)``, so
    ``p = crop`` and ``q = hi - lo``, which is independent of ``n``; a negative ``q`` (it
    can only be -1) has no torch argument and becomes a crop of the end.
    """
    n = 1 if n is None else n
    crop = geometry.transpose_crop(k, s, d, padding, op)
    lo, hi = geometry.transpose_gather_pads(n, k, s, d, padding, op)
    q = hi - lo
    return crop, max(q, 0), max(-q, 0)


def _port_transpose(layer, spatial, c_in, notes):
    r = layer.rank
    ops_in = layer.output_padding or (None,) * r
    axes = [_transpose_axis(n, k, s, d, layer.padding, op) for n, k, s, d, op in
            zip(spatial, layer.kernel_size, layer.strides, layer.dilation_rate, ops_in)]
    padding = tuple(a[0] for a in axes)
    output_padding = tuple(a[1] for a in axes)
    ends = tuple(a[2] for a in axes)
    ops = [TorchOp(
        f"ConvTranspose{r}d",
        ((None, c_in), (None, layer.filters), ("kernel_size", layer.kernel_size),
         ("stride", layer.strides), ("padding", padding), ("output_padding", output_padding),
         ("dilation", layer.dilation_rate), ("bias", layer.use_bias)),
        params=("weight", "bias") if layer.use_bias else ("weight",),
    )]
    notes.append(
        f"Keras crops {layer.crops()} cell(s) from the start of the scatter result "
        "full[i*s + j*d] += x[i]*W[j] and keeps its output length; torch's padding=p cuts p "
        "from both ends and output_padding=q adds q back at the end: here "
        f"padding={padding}, output_padding={output_padding}."
    )
    if any(ends):
        ops.append(TorchOp("Crop", ((None, tuple((0, e) for e in ends)),),
                           comment="one cell past Keras's length: cut it off the end"))
        notes.append(
            f"Keras keeps {ends} cell(s) fewer at the end than any torch padding/"
            "output_padding can (output_padding cannot be negative): a Crop module cuts "
            "them off after the ConvTranspose."
        )
    if layer.padding == "same":
        notes.append(
            "Keras 'same' for a transposed conv: the output length is n*s "
            "(output_padding=None) or (n-1)*s + ke%2 + output_padding, read from the "
            "scatter result after the crop above; what is left over is cut at the END."
        )
    weights = {"weight": _torch_kernel(layer.kernel)}
    notes.append(
        f"Kernel layout: Keras {layer.kernel.shape} = (*kernel_size, filters, Cin) -> torch "
        f"ConvTranspose weight {weights['weight'].shape} = (Cin, filters, *kernel_size), i.e. "
        f"{_perm_text(layer.kernel.ndim)}; neither framework flips the kernel."
    )
    return ops, [weights | ({"bias": layer.bias} if layer.use_bias else {})]


def _depthwise_weight(kernel):
    """Keras ``(*k, C, M)`` -> torch ``(C*M, 1, *k)``: channel ``c*M + m`` as in Keras."""
    k = kernel.shape[:-2]
    return _torch_kernel(kernel.reshape(*k, 1, -1))


def _depthwise_note(kernel, weight):
    return (
        f"Depthwise kernel layout: Keras {kernel.shape} = (*kernel_size, C, M) -> torch "
        f"weight {weight.shape} = (C*M, 1, *kernel_size) with groups=C: "
        f"kernel.reshape(*kernel_size, 1, C*M) then {_perm_text(kernel.ndim)}; output "
        "channel c*M + m in both."
    )


def _port_depthwise(layer, spatial, c_in, notes):
    r, m = layer.rank, layer.depth_multiplier
    ops, padding = _pad_ops(layer, _forward_pads(layer, spatial), notes)
    ops.append(_conv_op(r, c_in, c_in * m, layer.kernel_size, layer.strides, padding,
                        layer.dilation_rate, c_in, layer.use_bias,
                        comment="depthwise: groups = input channels"))
    weights = {"weight": _depthwise_weight(layer.kernel)}
    notes.append(_depthwise_note(layer.kernel, weights["weight"]))
    return ops, [weights | ({"bias": layer.bias} if layer.use_bias else {})]


def _port_separable(layer, spatial, c_in, notes):
    r, m = layer.rank, layer.depth_multiplier
    ops, padding = _pad_ops(layer, _forward_pads(layer, spatial), notes)
    ops.append(_conv_op(r, c_in, c_in * m, layer.kernel_size, layer.strides, padding,
                        layer.dilation_rate, c_in, False, comment="depthwise, no bias"))
    ones = (1,) * r
    ops.append(_conv_op(r, c_in * m, layer.filters, ones, ones, (0,) * r, ones, 1,
                        layer.use_bias, comment="pointwise 1x1"))
    dw = _depthwise_weight(layer.depthwise_kernel)
    pw = _torch_kernel(layer.pointwise_kernel)
    notes.append(_depthwise_note(layer.depthwise_kernel, dw))
    notes.append(
        f"Pointwise kernel layout: Keras {layer.pointwise_kernel.shape} = (1, .., C*M, "
        f"filters) -> torch weight {pw.shape} = (filters, C*M, 1, ..), i.e. "
        f"{_perm_text(layer.pointwise_kernel.ndim)}; the bias belongs to the pointwise conv."
    )
    return ops, [{"weight": dw}, {"weight": pw} | ({"bias": layer.bias} if layer.use_bias
                                                    else {})]


def _port_cropping(layer, notes):
    notes.append(f"Cropping {layer.cropping} (lo, hi) per axis: torch has no crop module, "
                 "so a tiny Crop(nn.Module) slices them off.")
    return [TorchOp("Crop", ((None, layer.cropping),))]


def _port_padding(layer, notes):
    r = layer.rank
    pad = _torch_pad(layer.padding)
    notes.append(
        f"nn.ZeroPad{r}d takes the pads last axis first: Keras {layer.padding} -> {pad}. "
        f"(On an old torch without nn.ZeroPad{r}d: nn.ConstantPad{r}d({pad}, 0.0).)"
    )
    return [TorchOp(f"ZeroPad{r}d", ((None, pad),))]


def _port_upsampling(layer, notes):
    interp = layer.interpolation
    size = layer.size
    if interp == "nearest":
        notes.append(
            "Keras's nearest upsampling repeats every cell size times: nn.Upsample(mode="
            "'nearest-exact') does exactly that for every integer size. (mode='nearest' "
            "picks floor(o * float32(1/size)) and gets some sizes wrong, e.g. 41, 47, 55, 61.)"
        )
        return [TorchOp("Upsample", (("scale_factor", size), ("mode", "nearest-exact")))], True
    if interp == "bilinear":
        notes.append(
            "Keras 3 bilinear (jax.image.resize: half-pixel centres, source (o + 0.5)/size - "
            "0.5, edge weights renormalised, no antialiasing when upsampling) is torch's "
            "mode='bilinear', align_corners=False: the same numbers up to float rounding."
        )
        return [TorchOp("Upsample", (("scale_factor", size), ("mode", "bilinear"),
                                     ("align_corners", False)))], True
    differs = (
        "torch's bicubic uses Keys' cubic with a = -0.75 and repeats the border cells; "
        "Keras's uses a = -0.5 and renormalises the weights of the taps inside the input"
        if interp == "bicubic" else
        f"torch has no Lanczos resize: Keras's {interp} (radius {interp[-1]}, taps inside "
        "the input renormalised) is replaced by torch's bicubic, the nearest it has"
    )
    notes.append(
        f"NOT exact: {differs}. The result has the right shape but other values. For exact "
        "numbers, multiply by a fixed matrix per axis built from convviz.geometry."
        f"resize_taps(n, n*size, {interp!r})."
    )
    return [TorchOp("Upsample", (("scale_factor", size), ("mode", "bicubic"),
                                 ("align_corners", False)),
                    comment=f"approximates Keras {interp}")], False


# ----------------------------------------------------------------------------- entry point
def to_torch(layer: Layer, input_shape=None) -> TorchPort:
    """The PyTorch equivalent of ``layer``: code, ``state_dict`` and notes.

    Parameters
    ----------
    layer : convviz layer (any of the 19)
        A weighted layer must be built, unless ``input_shape`` is given (then it is built
        on it, with fresh weights, as calling it would). The weights exported are the
        layer's current ones.
    input_shape : tuple, optional
        The Keras input shape in the layer's ``data_format`` (batch may be None).  Needed
        only where the torch arguments depend on the input length: ``padding='same'``
        with a stride > 1 (the pad total depends on ``n mod s``); everything else
        (transposed convs included) is the same for every length.

    Returns
    -------
    TorchPort
        ``code`` binds ``module``, an ``nn.Sequential`` computing the layer on
        channels-first tensors ``(N, C, *spatial)``; ``state_dict()`` holds the weights
        keyed ``"<index>.weight"`` / ``"<index>.bias"`` in torch's layouts:

        - Conv ``(*k, Cin/groups, F)`` -> ``(F, Cin/groups, *k)``;
        - ConvTranspose ``(*k, F, Cin)`` -> ``(Cin, F, *k)`` (groups 1, no flip);
        - Depthwise ``(*k, C, M)`` -> ``(C*M, 1, *k)``, channel ``c*M + m``, ``groups=C``;
        - Separable: that depthwise conv (no bias), then pointwise ``(1.., C*M, F)`` ->
          ``(F, C*M, 1..)`` with the bias.

    Raises
    ------
    ValueError
        A bad ``input_shape`` (Keras's message), an unbuilt weighted layer without one,
        or 'same' with strides > 1 and no ``input_shape``.
    """
    spatial, channels = _spatial(layer, input_shape)
    notes = [_layout_note(layer)]
    exact = True
    weights: list[dict] = []
    if isinstance(layer, (BaseConv, BaseConvTranspose, BaseDepthwiseConv, BaseSeparableConv)):
        c_in = _built(layer, input_shape, channels)
        port = {BaseConv: _port_conv, BaseConvTranspose: _port_transpose,
                BaseDepthwiseConv: _port_depthwise, BaseSeparableConv: _port_separable}
        family = next(f for base, f in port.items() if isinstance(layer, base))
        ops, weights = family(layer, spatial, c_in, notes)
        act, exact = _activation_ops(layer, notes)
        ops += act
    elif isinstance(layer, BaseCropping):
        ops = _port_cropping(layer, notes)
    elif isinstance(layer, BaseZeroPadding):
        ops = _port_padding(layer, notes)
    elif isinstance(layer, BaseUpSampling):
        ops, exact = _port_upsampling(layer, notes)
    else:
        raise ValueError(
            f"to_torch knows the 19 convviz layers. Received: {type(layer).__name__}"
        )
    if layer.dtype == "float64":
        notes.append("The layer computes in float64: call module.double() and feed float64.")
    return TorchPort(
        layer=type(layer).__name__, code=render_code(ops), ops=tuple(ops), exact=exact,
        notes=tuple(notes), weights=_state_entries(ops, weights, layer.dtype),
    )


def _state_entries(ops, weights, dtype) -> tuple:
    """``(key, array)`` pairs: the i-th weighted op of the Sequential at position ``index``
    owns ``"{index}.{param}"``, its params in its own order."""
    owners = [index for index, op in enumerate(ops) if op.params]
    if len(owners) != len(weights):
        raise AssertionError(f"{len(owners)} weighted ops but {len(weights)} weight sets")
    entries = []
    for index, params in zip(owners, weights):
        if tuple(params) != ops[index].params:
            raise AssertionError(f"op {index} owns {ops[index].params}, got {tuple(params)}")
        for name, value in params.items():
            array = np.array(value, dtype=dtype)
            array.setflags(write=False)
            entries.append((f"{index}.{name}", array))
    return tuple(entries)
