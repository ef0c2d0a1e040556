"""The ``convviz`` command line (also ``python -m convviz``).

Subcommands:

``convviz shape LAYER --input SHAPE [layer arguments] [--torch]``
    The Keras call, input and output shapes, the per-axis output-length derivation with
    the numbers filled in, the parameter count and the multiply-accumulates (``--torch``:
    and the same layer in PyTorch, :func:`convviz.to_torch`).
``convviz animate LAYER --input SHAPE [layer arguments] -o FILE``
    The layer's trace as an animated GIF (``.gif``), a video (``.mp4``, needs ffmpeg) or
    one frame (``.png``, ``--step N``); see :mod:`convviz.export`.
``convviz gallery -o DIR``
    The convolution-arithmetic gallery (:data:`convviz.gallery.GALLERY`), one GIF per case.
``convviz apply LAYER --image SOURCE --kernel NAME [layer arguments] -o FILE.png``
    A real picture (``--signal`` a sound, ``--volume`` a volume) through the layer, every
    filter's weights a named kernel; writes the feature maps (:mod:`convviz.realdata`).
``convviz serve [--processes N] [--port P] [--address ADDR] [--app PATH]``
    The app for a class: N ``streamlit run app.py`` processes (default two per core) on
    127.0.0.1:P+1..P+N behind HAProxy on ADDR:P (default 0.0.0.0:8501), each browser kept
    on its process by a cookie; needs ``haproxy`` (:mod:`convviz.serve`).

Layer arguments are the Keras constructor arguments with dashes (``--kernel-size 3``,
``--dilation-rate 2x1``); which ones a layer takes comes from its signature. Exit codes:
0 success, 2 for usage errors and invalid settings (printed as ``error: ValueError:
<message>``, the message Keras would raise), 1 for other failures (e.g. no ffmpeg).

>>> parse_input("5x5", rank=2, channels=3, data_format="channels_last")
(None, 5, 5, 3)
>>> parse_input("(None, 3, 15, 15)", rank=2, channels=None, data_format="channels_first")
(None, 3, 15, 15)
"""

from __future__ import annotations

import argparse
import ast
import difflib
import inspect
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import convviz

from . import formulas, layout
from .catalog import format_shape, keras_call
from .geometry import AXIS_NAMES
from .layers import argument_names

#: Exit code of usage errors and invalid layer settings (as argparse).
EXIT_USAGE = 2

#: Layer arguments with a dedicated option (shown in ``--help``), and how they are read.
LAYER_OPTIONS = {
    "filters": ("N", "number of output channels"),
    "kernel_size": ("K", "kernel size: 3, 3x3 or 3,3"),
    "strides": ("S", "strides: 2, 2x1 or 2,1"),
    "dilation_rate": ("D", "dilation rate: 2, 2x1 or 2,1"),
    "padding": ("P", "convolutions: valid, same (or causal for Conv1D); ZeroPadding: 1, "
                     "1x2 (per axis) or 1:2,0:1 ((lo, hi) per axis)"),
    "output_padding": ("P", "transposed convolutions: 1, 1x0 or 1,0"),
    "groups": ("G", "groups of a Conv"),
    "depth_multiplier": ("M", "depthwise/separable depth multiplier"),
    "cropping": ("C", "Cropping: 1, 1x2 (per axis) or 1:2,0:1 ((lo, hi) per axis)"),
    "size": ("S", "UpSampling factor: 2, 2x3"),
    "interpolation": ("NAME", "UpSampling2D: nearest, bilinear, bicubic, ..."),
    "data_format": ("FMT", "channels_last (default) or channels_first"),
    "activation": ("NAME", "activation name, e.g. relu"),
    "use_bias": ("BOOL", "true or false"),
}
_INT_TUPLES = {"kernel_size", "strides", "dilation_rate", "output_padding", "size"}
_INTS = {"filters", "groups", "depth_multiplier"}
_PAIRS = {"cropping"}
_BOOLS = {"use_bias", "trainable"}

_EPILOG = """examples:
  convviz shape Conv2D --filters 8 --kernel-size 3 --strides 2 --padding same \\
      --input None,15,15,3
  convviz animate Conv2D --input 5x5 --kernel-size 3 --strides 2 --padding same -o conv.gif
  convviz animate Conv2DTranspose --input 3x3 --kernel-size 3 --strides 2 --view scatter \\
      -o scatter.gif
  convviz gallery -o docs/gallery
"""


class CLIError(Exception):
    """A usage error found after argparse: printed as ``error: <message>``, exit code 2."""


# ----------------------------------------------------------------------------- layers
def layer_classes() -> dict:
    """Every layer class by name, Keras aliases (``Convolution2D``) included."""
    classes = dict(convviz.LAYERS)
    for name in convviz.__all__:
        obj = getattr(convviz, name)
        if isinstance(obj, type) and obj in convviz.LAYERS.values():
            classes.setdefault(name, obj)
    return classes


def resolve_layer(name: str):
    """The layer class called ``name`` (exact, alias or case-insensitive), else CLIError."""
    classes = layer_classes()
    if name in classes:
        return classes[name]
    folded = {k.lower(): v for k, v in classes.items()}
    if name.lower() in folded:
        return folded[name.lower()]
    close = difflib.get_close_matches(name, list(classes), n=3)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise CLIError(f"unknown layer {name!r}.{hint} Valid layers: "
                   f"{', '.join(sorted(convviz.LAYERS))}")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


# ----------------------------------------------------------------------------- values
def _ints(text: str, option: str) -> list[int]:
    body = text.strip().strip("()[]").strip()
    try:
        values = [int(t) for t in re.split(r"\s*[x,]\s*", body) if t != ""]
    except ValueError:
        values = []
    if not values:
        raise CLIError(f"{option} expects an int or ints like 3x3 or 3,3. Received: {text!r}")
    return values


def parse_int_tuple(text: str, option: str = "value"):
    """``"3"`` -> 3; ``"3x3"``, ``"3,3"``, ``"(3, 3)"`` -> ``(3, 3)``."""
    values = _ints(text, option)
    return values[0] if len(values) == 1 else tuple(values)


def parse_pairs(text: str, rank: int, option: str = "value"):
    """Padding/cropping amounts as Keras reads them.

    ``"1"`` -> 1 (every side); ``"1x2"`` or ``"1,2"`` -> ``(1, 2)`` (per axis; for rank 1,
    ``(start, end)``); ``"1:2,0:1"`` -> ``((1, 2), (0, 1))`` ((lo, hi) per axis; for rank 1
    ``"1:2"`` -> ``(1, 2)``); Python literals like ``"((1, 2), (0, 1))"`` also work.
    """
    body = text.strip()
    if body[:1] in "([":
        try:
            return ast.literal_eval(body)
        except (ValueError, SyntaxError):
            raise CLIError(f"{option} could not read {text!r}.") from None
    if ":" not in body:
        return parse_int_tuple(body, option)
    pairs = []
    for item in re.split(r"\s*,\s*", body):
        try:
            if ":" in item:
                lo, hi = item.split(":")
                pairs.append((int(lo), int(hi)))
            else:
                pairs.append(int(item))
        except ValueError:
            raise CLIError(f"{option} expects (lo, hi) pairs like 1:2,0:1. "
                           f"Received: {text!r}") from None
    if rank == 1 and len(pairs) == 1 and isinstance(pairs[0], tuple):
        return pairs[0]
    return tuple(pairs)


def parse_bool(text: str, option: str = "value") -> bool:
    """The app's boolean grammar (:func:`convviz.viz.fields.parse_bool`), as a CLI error."""
    from .viz.fields import parse_bool as parse

    try:
        return parse(text)
    except ValueError as exc:
        raise CLIError(f"{option}: {exc}. Received: {text!r}") from None


def parse_scalar(text: str):
    """Generic value: None, a bool, an int, a float, else the string itself."""
    t = text.strip()
    if t.lower() in ("none", "null"):
        return None
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for kind in (int, float):
        try:
            return kind(t)
        except ValueError:
            pass
    return t


def parse_value(name: str, text: str, cls):
    """The value of layer argument ``name`` for layer class ``cls`` read from ``text``."""
    option = _option(name)
    if name in _INT_TUPLES:
        return parse_int_tuple(text, option)
    if name in _INTS:
        values = _ints(text, option)
        if len(values) != 1:
            raise CLIError(f"{option} expects one int. Received: {text!r}")
        return values[0]
    if name in _PAIRS or (name == "padding" and "kernel_size" not in argument_names(cls)):
        return parse_pairs(text, cls.rank, option)
    if name in _BOOLS:
        return parse_bool(text, option)
    return parse_scalar(text)


def parse_input(text: str, rank: int, channels: int | None, data_format: str | None):
    """The full Keras input shape from ``--input``.

    ``rank`` sizes (``5x5``, ``15,15``) are the spatial axes: batch None, ``channels``
    (default 1) placed by ``data_format``. ``rank + 2`` values (``None,15,15,3`` or
    ``(None, 15, 15, 3)``) are a full shape.
    """
    body = text.strip().strip("()[]").strip()
    items = [t for t in re.split(r"\s*[x,]\s*", body) if t != ""]
    try:
        values = [None if t.lower() == "none" else int(t) for t in items]
    except ValueError:
        values = []
    if not values or any(v is not None and v < 0 for v in values):
        raise CLIError(f"--input expects sizes like 5x5 or a shape like None,5,5,3. "
                       f"Received: {text!r}")
    if len(values) == rank:
        return layout.join(None, values, 1 if channels is None else channels, data_format)
    if len(values) == rank + 2:
        shape = tuple(values)
        given = layout.channels(shape, data_format)
        if channels is not None and given != channels:
            raise CLIError(f"--channels {channels} contradicts the channels of --input "
                           f"{format_shape(shape)} ({given}).")
        return shape
    raise CLIError(f"a {rank}D layer takes --input with {rank} spatial sizes (e.g. "
                   f"{'x'.join(['5'] * rank)}) or a full shape of {rank + 2} values (e.g. "
                   f"{','.join(['None'] + ['5'] * rank + ['3'])}). Received: {text!r}")


def layer_kwargs(cls, given: dict, extras: Sequence[str], defaults: dict | None = None) -> dict:
    """Constructor kwargs from the dedicated options (``given``) and the remaining tokens.

    ``defaults`` (strings, as typed) fill arguments the layer takes that were not given.
    """
    accepted = argument_names(cls)
    raw = {k: v for k, v in (defaults or {}).items() if k in accepted}
    raw.update(given)
    tokens = list(extras)
    k = 0
    unknown = []
    while k < len(tokens):
        tok = tokens[k]
        if not tok.startswith("--"):
            raise CLIError(f"unexpected argument {tok!r}.")
        key, eq, value = tok[2:].partition("=")
        name = key.replace("-", "_")
        if not eq:
            if k + 1 < len(tokens) and not tokens[k + 1].startswith("--"):
                value = tokens[k + 1]
                k += 1
            elif name in _BOOLS:
                value = "true"
            else:
                raise CLIError(f"{tok} expects a value.")
        raw[name] = value
        k += 1
    unknown = [n for n in raw if n not in accepted]
    if unknown:
        raise CLIError(
            f"{cls.__name__} does not take {', '.join(_option(n) for n in unknown)}. "
            f"{cls.__name__} accepts: {', '.join(_option(n) for n in accepted)}")
    required = [p.name for p in inspect.signature(cls).parameters.values()
                if p.default is p.empty and p.name in accepted]
    missing = [n for n in required if n not in raw]
    if missing:
        raise CLIError(f"{cls.__name__} needs {', '.join(_option(n) for n in missing)}.")
    # In signature order, as Keras documents them.
    return {name: parse_value(name, raw[name], cls) for name in accepted if name in raw}


# ----------------------------------------------------------------------------- shape
def _axis_label(rank: int, axis: int) -> str:
    return f"axis {axis} ({AXIS_NAMES[rank][axis]})"


def shape_report(layer, kwargs: dict, input_shape) -> str:
    """The text ``convviz shape`` prints for ``layer`` (built from ``kwargs``) on ``input_shape``.

    Raises ValueError (the layer's message) when the layer rejects the input.
    """
    out_shape = layer.compute_output_shape(input_shape)
    rows = formulas.derivations(layer, input_shape)
    lines = [keras_call(type(layer).__name__, kwargs),
             f"input shape:  {format_shape(input_shape)}",
             f"output shape: {format_shape(out_shape)}", ""]
    generals = {r["general"].text() for r in rows}
    lines.append("output length per spatial axis"
                 + (f": {generals.pop()}" if len(generals) == 1 else ""))
    labels = [_axis_label(len(rows), r["axis"]) + ":" for r in rows]
    texts = [f"{label.ljust(max(map(len, labels)))} {r['formula'].text()}"
             for label, r in zip(labels, rows)]
    width = max(len(t) for t in texts)
    for text, r in zip(texts, rows):
        extra = r["note"]
        if len(generals) > 1:
            extra = f"general {r['general'].text()}; " + extra
        lines.append(f"  {text.ljust(width)}   {extra}".rstrip())
    lines.append("")
    _, _, channels = layer.split_shape(input_shape)
    if channels is None:
        lines.append("params: unknown (the channel axis of the input is None)")
    else:
        layer.build(input_shape)
        parts = [f"{name} {format_shape(w.shape)}: {w.size:,}"
                 for name, w in zip(getattr(layer, "_weight_names", []), layer.get_weights())]
        lines.append(f"params: {layer.count_params():,}"
                     + (f"  ({', '.join(parts)})" if parts else ""))
        batch = input_shape[0]
        per = "per sample" if batch is None else f"for the batch of {batch}"
        lines.append(f"MACs:   {formulas.macs(layer, input_shape):,} {per}")
    return "\n".join(lines)


def _derivation_hint(layer, input_shape) -> str:
    """Per-axis derivations, for the error message of a setting whose output is empty."""
    try:
        rows = formulas.derivations(layer, input_shape)
    except Exception:  # a hint only: the layer's ValueError is what matters
        return ""
    return "\n".join(f"  {_axis_label(len(rows), r['axis'])}: {r['formula'].text()}"
                     for r in rows)


# ----------------------------------------------------------------------------- parser
def _add_layer_options(parser: argparse.ArgumentParser, sizes: bool = True) -> None:
    parser.add_argument("layer", metavar="LAYER",
                        help="layer class name, e.g. Conv2D, Conv2DTranspose, ZeroPadding2D")
    if sizes:
        parser.add_argument("--input", "-i", required=True, metavar="SHAPE",
                            help="spatial sizes (5x5, 15,15; channels from --channels, batch "
                                 "None) or a full shape (None,15,15,3 or '(None, 15, 15, 3)')")
        parser.add_argument("--channels", "-c", type=int, metavar="C",
                            help="input channels when --input gives spatial sizes (default 1)")
    group = parser.add_argument_group(
        "layer arguments", "Keras constructor arguments; a layer takes only those in its "
        "signature, and other ones in its signature work too (--kernel-initializer ...)")
    for name, (metavar, help_text) in LAYER_OPTIONS.items():
        group.add_argument(_option(name), dest=f"layer.{name}", metavar=metavar,
                           help=help_text, default=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convviz", description="Keras-exact convolution arithmetic: shapes, "
        "derivations and animations of every convolution-family layer.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"convviz {convviz.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    shape = sub.add_parser(
        "shape", allow_abbrev=False, help="output shape, derivation, params and MACs",
        description="Print the Keras call, the output shape, the per-axis derivation with "
        "numbers, the parameter count and the multiply-accumulates of a layer.",
        epilog="example: convviz shape Conv2D --filters 8 --kernel-size 3 --strides 2 "
        "--padding same --input None,15,15,3")
    _add_layer_options(shape)
    shape.add_argument("--torch", action="store_true",
                       help="also print the same layer in PyTorch: the module's code, the "
                            "weights' torch layout and what a porter must know")

    animate = sub.add_parser(
        "animate", allow_abbrev=False, help="write a GIF, MP4 or PNG of a layer's trace",
        description="Render the layer's trace (one frame per output cell; per input cell "
        "with --view scatter) to FILE: .gif, .mp4 (needs ffmpeg), .png (one --step) or "
        ".html (an offline player: keyboard stepping, hover linking). "
        "--filters defaults to 1 here; --filter picks the filter whose kernel and arithmetic "
        "are drawn.",
        epilog="example: convviz animate Conv2D --input 5x5 --kernel-size 3 --strides 2 "
        "--padding same -o conv.gif")
    _add_layer_options(animate)
    out = animate.add_argument_group("output")
    out.add_argument("-o", "--output", required=True, metavar="FILE",
                     help="file to write; the suffix (.gif, .mp4, .png, .html) picks the format")
    out.add_argument("--view", choices=("gather", "scatter"), default="gather",
                     help="scatter: one frame per input cell (transposed convolutions)")
    out.add_argument("--numbers", action="store_true",
                     help="write the integer sample values, weights and each step's arithmetic")
    out.add_argument("--reveal", action="store_true",
                     help="show every output value from the first frame (default: cells fill "
                          "in as they are written)")
    out.add_argument("--filter", type=int, default=0, metavar="F",
                     help="the filter (output channel) whose kernel and arithmetic are drawn "
                          "(default 0)")
    out.add_argument("--fps", type=float, default=2.0, help="frames per second (default 2)")
    out.add_argument("--max-frames", type=int, default=None, metavar="N",
                     help="most frames; longer traces are subsampled evenly, keeping the "
                          "first and last step (default 300, 120 for 3D: the app's cap)")
    out.add_argument("--step", type=int, default=0, metavar="N",
                     help="the step drawn into a .png, or where an .html starts (0-based, "
                          "default 0)")
    out.add_argument("--cell-px", type=int, default=None, metavar="PX",
                     help="size of a cell in pixels (default 44; large inputs shrink it)")

    gallery = sub.add_parser(
        "gallery", allow_abbrev=False, help="write the convolution-arithmetic gallery",
        description="Write one GIF per classic case of the convolution-arithmetic guide "
        "(Dumoulin & Visin) as a Keras layer, and a README.md listing them.")
    gallery.add_argument("-o", "--output", required=True, metavar="DIR",
                         help="directory (created if missing)")
    gallery.add_argument("--only", action="append", metavar="NAME",
                         help="write only this case (repeatable); names: "
                              + ", ".join(_gallery_slugs()))
    gallery.add_argument("--fps", type=float, default=2.0, help="frames per second (default 2)")

    from . import realdata

    apply = sub.add_parser(
        "apply", allow_abbrev=False, help="run a real picture, sound or volume through a layer",
        description="Run a picture (2-D layers), a sound (1-D) or a volume (3-D) through the "
        "layer with every filter's weights set to a named kernel (bias 0), print the shapes "
        "and the engine's time, and write the feature maps as one PNG. SOURCE is a file or "
        "a sample: " + ", ".join(realdata.REGISTRY) + ".",
        epilog="example: convviz apply Conv2D --image zone_plate --kernel sobel_x --filters 1 "
        "--strides 2 -o edges.png")
    _add_layer_options(apply, sizes=False)
    source = apply.add_argument_group("input").add_mutually_exclusive_group(required=True)
    source.add_argument("--image", metavar="SOURCE", help="a PNG/JPEG file or a sample picture")
    source.add_argument("--signal", metavar="SOURCE", help="a WAV file or the sample chirp")
    source.add_argument("--volume", metavar="SOURCE", help="a .npy file or the sample sphere")
    weights = apply.add_argument_group("weights and output")
    weights.add_argument("--kernel", default="sobel_x", choices=tuple(realdata.KERNELS),
                         help="the named kernel every filter gets (default sobel_x)")
    weights.add_argument("--channel-rule", default="diagonal", choices=realdata.CHANNEL_RULES,
                         help="diagonal: filter f reads input channel f mod C; mean: every "
                              "filter reads the mean of the channels (default diagonal)")
    weights.add_argument("--rgb", action="store_true", help="read a picture as 3 channels")
    weights.add_argument("--fit", type=int, default=None, metavar="PX",
                         help="shrink a picture to this longest side first")
    weights.add_argument("--seed", type=int, default=0, help="seed of --kernel random")
    weights.add_argument("-o", "--output", required=True, metavar="FILE.png",
                         help="PNG of the feature maps")

    from . import serve as serving

    serve = sub.add_parser(
        "serve", allow_abbrev=False, help="serve the app to a class: N Streamlit processes "
        "behind HAProxy",
        description="Start N `streamlit run app.py` processes on 127.0.0.1, ports P+1 .. P+N, "
        "and HAProxy on ADDRESS:P in front of them, which keeps each browser on one process "
        "with a cookie (a session's websocket, uploads and media live in one process). Runs "
        "in the foreground until Ctrl-C or SIGTERM; if a process dies, everything stops "
        "(exit code 1). Needs haproxy (apt-get install haproxy).",
        epilog="example: convviz serve --processes 4 --port 8501")
    serve.add_argument("--processes", type=int, default=None, metavar="N",
                       help=f"Streamlit processes, 1 to {serving.MAX_PROCESSES} (default: "
                            f"{serving.PROCESSES_PER_CORE} per CPU core, "
                            f"{serving.default_processes()} here)")
    serve.add_argument("--port", type=int, default=serving.DEFAULT_PORT, metavar="P",
                       help=f"HAProxy's port; the processes use P+1 .. P+N "
                            f"(default {serving.DEFAULT_PORT})")
    serve.add_argument("--address", default=serving.DEFAULT_ADDRESS, metavar="ADDRESS",
                       help=f"where HAProxy listens (default {serving.DEFAULT_ADDRESS}: every "
                            "interface; 127.0.0.1: this machine only)")
    serve.add_argument("--app", default=None, metavar="PATH",
                       help="the Streamlit script, run from its folder (default: ./app.py)")
    serve.add_argument("--start-timeout", type=float, default=serving.START_TIMEOUT,
                       metavar="SECONDS",
                       help=f"how long each process may take to start (default "
                            f"{serving.START_TIMEOUT:g})")
    serve.add_argument("--print-config", action="store_true",
                       help="print the HAProxy configuration and exit (to copy and edit, "
                            "e.g. for processes on several machines)")
    return parser


def _gallery_slugs() -> list[str]:
    from .gallery import GALLERY

    return [case.slug for case in GALLERY]


# ----------------------------------------------------------------------------- commands
def _layer_from_args(args, extras, defaults=None):
    cls = resolve_layer(args.layer)
    given = {k.split(".", 1)[1]: v for k, v in vars(args).items() if k.startswith("layer.")}
    kwargs = layer_kwargs(cls, given, extras, defaults)
    layer = cls(**kwargs)  # ValueError: invalid setting
    shape = parse_input(args.input, cls.rank, args.channels, layer.data_format)
    return cls, kwargs, layer, shape


def cmd_shape(args, extras) -> int:
    _, kwargs, layer, shape = _layer_from_args(args, extras)
    try:
        report = shape_report(layer, kwargs, shape)
    except ValueError:
        hint = _derivation_hint(layer, shape)
        if hint:
            print(f"derivation:\n{hint}", file=sys.stderr)
        raise
    print(report)
    if args.torch:
        from .torch_port import to_torch

        print()
        print(to_torch(layer, shape).summary())
    return 0


def animation_spec(args, extras):
    """The :class:`convviz.demo.Spec` an ``animate`` command line describes.

    ``--filters`` defaults to 1 (animations draw output channel 0); the batch is ignored.
    """
    from .demo import Spec

    cls, kwargs, layer, shape = _layer_from_args(args, extras, defaults={"filters": "1"})
    _, spatial, channels = layer.split_shape(shape)
    if any(n is None for n in spatial) or channels is None:
        raise CLIError(f"an animation needs concrete spatial sizes and channels. "
                       f"Received: --input {format_shape(shape)}")
    return Spec(cls.__name__, kwargs, spatial=spatial, channels=channels)


def cmd_animate(args, extras) -> int:
    from . import export

    spec = animation_spec(args, extras)
    path = Path(args.output)
    options = {"view": args.view, "numbers": args.numbers, "fps": args.fps,
               "max_frames": args.max_frames, "step": args.step,
               "cell_px": args.cell_px or export.CELL_PX, "reveal": args.reveal,
               "filter": args.filter}
    if path.suffix.lower() not in export.FORMATS:
        raise CLIError(f"cannot tell the format of {str(path)!r}: use one of "
                       f"{', '.join(export.FORMATS)}.")
    if path.suffix.lower() == ".mp4" and not export.ffmpeg_available():
        raise RuntimeError("MP4 export needs ffmpeg, which is not on PATH. Install it or "
                           "write a .gif instead.")
    export.save(spec, path, **options)
    print(f"{keras_call(spec.name, spec.arguments)} on "
          f"{format_shape((None, *spec.input_shape[1:]))}")
    print(f"wrote {path}: {_describe_file(path)}")
    return 0


def _describe_file(path: Path) -> str:
    size = path.stat().st_size
    kb = f"{size / 1024:.1f} KB"
    if path.suffix.lower() == ".mp4":
        return kb
    if path.suffix.lower() == ".html":
        return f"an offline player (open it in a browser), {kb}"
    from PIL import Image

    with Image.open(path) as im:
        frames = getattr(im, "n_frames", 1)
        return f"{frames} frame{'s' * (frames != 1)}, {im.width}x{im.height} px, {kb}"


def cmd_gallery(args, extras) -> int:
    if extras:
        raise CLIError(f"gallery takes no {' '.join(extras)}")
    from . import gallery

    cases = gallery.GALLERY
    if args.only:
        unknown = sorted(set(args.only) - {c.slug for c in cases})
        if unknown:
            raise CLIError(f"unknown gallery case {', '.join(unknown)}. Cases: "
                           f"{', '.join(c.slug for c in cases)}")
        cases = tuple(c for c in cases if c.slug in args.only)
    paths = gallery.gallery(args.output, cases=cases, fps=args.fps)
    for p in paths:
        print(f"wrote {p}: {_describe_file(p)}")
    print(f"wrote {Path(args.output) / 'README.md'}")
    return 0


def cmd_apply(args, extras) -> int:
    from . import realdata

    cls = resolve_layer(args.layer)
    kind, source = next((k, v) for k, v in (("image", args.image), ("signal", args.signal),
                                             ("volume", args.volume)) if v is not None)
    rank = {"signal": 1, "image": 2, "volume": 3}[kind]
    if cls.rank != rank:
        raise CLIError(f"--{kind} is {rank}-D data; {cls.__name__} is a {cls.rank}D layer. "
                       f"Use a {rank}D layer (e.g. {['Conv1D', 'Conv2D', 'Conv3D'][rank - 1]}).")
    given = {k.split(".", 1)[1]: v for k, v in vars(args).items() if k.startswith("layer.")}
    # one filter per input channel and a 3-wide kernel, unless given
    kwargs = layer_kwargs(cls, given, extras,
                          defaults={"filters": "3" if args.rgb else "1", "kernel_size": "3"})
    if not args.output.lower().endswith(".png"):
        raise CLIError(f"-o must name a .png file. Received: {args.output!r}")
    if args.fit is not None and args.fit < 1:
        raise CLIError(f"--fit must be a whole number of pixels >= 1. Received: {args.fit}")
    if kind == "image":
        x = realdata.load_image(source, mode="rgb" if args.rgb else "gray")
        if args.fit is not None:
            x = realdata.fit(x, args.fit)
    elif kind == "signal":
        x = realdata.load_signal(source)
    else:
        x = realdata.load_volume(source)
    result = realdata.apply(cls.__name__, x, kernel=args.kernel, channels=args.channel_rule,
                            seed=args.seed, **kwargs)
    Path(args.output).write_bytes(result.to_png())
    maps = result.feature_maps
    print(result.call)
    print(f"input shape:  {format_shape(result.input_shape)}")
    print(f"output shape: {format_shape(result.output_shape)}")
    print(f"kernel:       {result.kernel or '(no weights)'}")
    print(f"engine time:  {result.seconds * 1000:.1f} ms, {result.macs:,} MACs")
    print(f"wrote {args.output}: {len(maps)} feature map{'s' * (len(maps) != 1)}")
    return 0


def cmd_serve(args, extras) -> int:
    if extras:
        raise CLIError(f"serve takes no {' '.join(extras)}")
    from . import serve

    return serve.run(processes=args.processes, port=args.port, address=args.address,
                     app=args.app, start_timeout=args.start_timeout,
                     print_config=args.print_config)


COMMANDS = {"shape": cmd_shape, "animate": cmd_animate, "gallery": cmd_gallery,
            "apply": cmd_apply, "serve": cmd_serve}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    try:
        return COMMANDS[args.command](args, extras)
    except CLIError as exc:
        print(f"convviz {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"error: ValueError: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (RuntimeError, OSError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
