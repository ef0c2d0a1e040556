"""The settings of the pages without a family (demystified, shape calculator, shape lab,
stacks, on real data), declared once as :class:`~convviz.viz.fields.Field` s: URL name, label, kind,
default, bounds, help and widget key. The pages draw them with :func:`links.widget` and keep
them in the URL with :func:`links.load` / :func:`links.save`; tests round-trip every one.
"""

from __future__ import annotations

from .. import catalog, geometry, lab, realdata
from . import lab_figures as lf
from .fields import Field, on_page

#: Largest size the shape calculator accepts on any axis (and for channels and batch).
MAX_SIZE = 4096
LAYER_NAMES = tuple(i.name for i in catalog.CATALOG)

DEMYSTIFIED = on_page(
    "demystified", Field("n", "Input size (height = width)", "int", 4, 2, 12),
    Field("k", "kernel_size", "int", 3, 1, 7),
    Field("s", "strides (= UpSampling2D size)", "int", 2, 1, 4),
    Field("layers", "Stacked layers", "int", 1, 1, 3),
    # where each of the two players stands (the link reopens them there)
    Field("gather_step", "Gather view step", "int", 0, 0, 10**6),
    Field("scatter_step", "Scatter view step", "int", 0, 0, 10**6))

SHAPE_CALCULATOR = {f.key: f for f in (
    Field("rank", "Spatial rank", "choice", 2, choices=(1, 2, 3)),
    Field("data_format", "data_format", "choice", catalog.DATA_FORMATS[0],
          choices=tuple(catalog.DATA_FORMATS)),
    *(Field(f"n{a}", "Input {axis}", "int", 8, 1, MAX_SIZE, state=f"size_{a}")
      for a in range(3)),
    Field("channels", "Channels", "int", 3, 1, MAX_SIZE),
    Field("batch_none", "Batch unknown (None)", "bool", True),
    Field("batch", "Batch", "int", 1, 1, MAX_SIZE),
    Field("set_window", "Set the window arguments", "bool", False,
          help="Give every layer that takes them the same kernel_size, strides, padding and "
          "dilation_rate (otherwise each uses its example values)."),
    *(Field(name, name, "int", default, 1, 64)
      for name, default in (("kernel_size", 3), ("strides", 1), ("dilation_rate", 1))),
    Field("padding", "padding", "choice", "valid", choices=("valid", "same", "causal"),
          help="'causal' exists only for Conv1D."))}

SHAPE_LAB = on_page(
    "lab", Field("layer", "Layer", "choice", LAYER_NAMES[0], choices=LAYER_NAMES),
    Field("n", "Input length (every axis)", "int", 12, 1, 64),
    *(Field(f.key, f.label, "int", f.default, f.lo, f.hi) for f in lf.FIELDS),
    Field("padding", "padding", "choice", "valid", choices=("valid", "same", "causal")),
    Field("output_padding", "output_padding", "choice", "None", choices=("None", 0, 1, 2, 3)),
    Field("arg", "Argument to sweep", "choice", None, choices=tuple(lf.SWEEP_BOUNDS)),
    *(Field(f"range.{a}", f"Range of {a}", "span", lf.SWEEP_DEFAULTS[a], *lf.SWEEP_BOUNDS[a])
      for a in lf.SWEEP_BOUNDS),
    Field("difficulty", "Difficulty", "choice", lab.DIFFICULTIES[0],
          choices=tuple(lab.DIFFICULTIES)),
    Field("kind", "Kind", "choice", "any", choices=("any", *lab.KINDS)),
    Field("question", "Question", "int", 0, 0, 10**6, state="lab.counter"))

STACKS = on_page(
    "stacks", *(Field(f"n{a}", f"Input size, axis {a}", "int", 12, 1, lf.MAX_AXIS)
                for a in range(3)),
    *(Field(f"o{a}", f"Output cell, axis {a}", "int", None, 0, 4096) for a in range(3)),
    Field("channels", "Input channels", "int", 3, 1, 16))

_IMAGES = tuple(n for n, a in realdata.REGISTRY.items() if a.kind == "image")
#: The layers the real-data page runs on an image (every 2-D layer).
IMAGE_LAYERS = tuple(i.name for i in catalog.layers_of_rank(2))
#: The parts of the real-data page.
REAL_PARTS = ("image", "checkerboard", "signal", "volume", "batch")
REAL_DATA = on_page(
    "real", Field("part", "Show", "choice", "image", choices=REAL_PARTS),
    Field("image", "Image", "choice", "zone_plate", choices=_IMAGES,
          help="A picture shipped with the app (assets/); or upload your own below."),
    Field("size", "Image size (longest side, px)", "int", 128, 16, 256,
          help="The image is shrunk to this before it runs; the batch run uses full size."),
    Field("rgb", "Colour (3 channels)", "bool", False,
          help="Off: one grey channel. On: red, green and blue, so per-channel layers "
          "(depthwise, groups) act per colour."),
    Field("layer", "Layer", "choice", "Conv2D", choices=IMAGE_LAYERS),
    Field("kernel", "Kernel", "choice", "sobel_x", choices=tuple(realdata.KERNELS),
          help="The weights every filter gets (bias 0)."),
    Field("channels", "Across channels", "choice", "diagonal", choices=realdata.CHANNEL_RULES,
          help="diagonal: output channel f filters input channel f mod C. mean: every "
          "filter reads the mean of the channels."),
    Field("filters", "filters", "int", 1, 1, 8,
          help="With 'diagonal', filter f reads input channel f mod C: 3 filters on a "
          "colour picture give one map per colour."),
    Field("kernel_size", "kernel_size", "int", 3, 1, 9),
    Field("strides", "strides", "int", 1, 1, 4),
    Field("dilation_rate", "dilation_rate", "int", 1, 1, 4,
          help="Keras refuses strides > 1 together with dilation_rate > 1 for Conv2D."),
    Field("padding", "padding", "choice", "same", choices=("valid", "same")),
    Field("depth_multiplier", "depth_multiplier", "int", 1, 1, 4),
    Field("groups", "groups", "int", 1, 1, 3,
          help="Conv2D: input channels and filters must both be divisible by groups."),
    Field("amount", "Cells cropped or padded per side", "int", 8, 0, 64),
    Field("up", "size (UpSampling2D)", "int", 2, 1, 4),
    Field("interpolation", "interpolation", "choice", "nearest",
          choices=geometry.INTERPOLATIONS),
    Field("row", "Output pixel: row", "int", 64, 0, 1024),
    Field("col", "Output pixel: column", "int", 64, 0, 1024),
    Field("cb_k", "kernel_size", "int", 3, 1, 7),
    Field("cb_s", "strides (= UpSampling2D size)", "int", 2, 1, 4),
    Field("sig_k", "kernel_size", "int", 2, 1, 4),
    Field("sig_layers", "Layers (dilation 1, 2, 4, ...)", "int", 4, 1, 10),
    Field("sig_padding", "padding", "choice", "causal", choices=("causal", "same", "valid")),
    Field("sig_out", "Output step", "int", 8000, 0, 15999),
    Field("vol_kernel", "Kernel", "choice", "laplacian", choices=tuple(realdata.KERNELS)),
    Field("vol_k", "kernel_size", "int", 3, 1, 5),
    Field("vol_s", "strides", "int", 1, 1, 2),
    Field("depth", "Depth slice of the input", "int", 16, 0, 31),
    Field("batch", "Images in the batch", "int", 16, 1, 16),
    Field("batch_size", "Image size", "int", 256, 32, 256))

#: Every link page's settings, by page key.
PAGES = {"demystified": DEMYSTIFIED, "shape_calculator": SHAPE_CALCULATOR, "lab": SHAPE_LAB,
         "stacks": STACKS, "real": REAL_DATA}
