"""The convolution-arithmetic gallery, and the names and commands of an export.

:data:`GALLERY` holds the classic cases of Dumoulin & Visin's *guide to convolution
arithmetic for deep learning* (2016) as Keras layers; :func:`gallery` writes one GIF per case
(with :func:`convviz.export.gif_bytes`) and :func:`gallery_markdown` the README that lists
them. :func:`file_stem` names an export's file after its whole configuration, and
:func:`animate_command` is the ``convviz animate`` command line that renders it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .demo import Spec
from .export import gif_bytes


@dataclass(frozen=True)
class GalleryCase:
    """One case of the convolution-arithmetic guide (Dumoulin & Visin, 2016) as a Keras layer.

    Attributes
    ----------
    slug : str
        File stem, after the guide's animation names (``no_padding_no_strides``).
    title : str
    note : str
        One or two sentences: what it shows, and how it maps to Keras.
    spec : convviz.demo.Spec
    view : str
    pre_padding : int or None
        The layer runs after ``ZeroPadding2D(pre_padding)`` (Keras has no arbitrary
        ``padding=p`` argument on convolutions).
    """

    slug: str
    title: str
    note: str
    spec: Spec
    view: str = "gather"
    pre_padding: int | None = None

    @property
    def command(self) -> str | None:
        """The ``convviz animate`` command making this GIF (None when it needs two layers)."""
        if self.pre_padding is not None:
            return None
        return animate_command(self.spec, view=self.view, output=f"{self.slug}.gif")


#: Short names of layer arguments in file names (arguments not listed keep their own name).
_STEM_KEYS = {"filters": "f", "kernel_size": "k", "strides": "s", "padding": "",
              "dilation_rate": "d", "groups": "g", "depth_multiplier": "m",
              "output_padding": "op", "cropping": "crop", "size": "size", "interpolation": ""}


def _stem_value(value) -> str:
    if isinstance(value, tuple):
        return "x".join(_stem_value(v) if isinstance(v, tuple) else str(v) for v in value) \
            if not (value and isinstance(value[0], tuple)) else \
            "_".join("-".join(str(v) for v in pair) for pair in value)
    return str(value)


def file_stem(spec: Spec, *, view: str = "gather", filter: int = 0) -> str:
    """A file name (no suffix) naming the whole configuration, so no two differ only inside.

    >>> file_stem(Spec("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2,
    ...                           "padding": "same"}, (5, 5), channels=3), filter=1)
    'Conv2D_5x5x3_f2_k3_s2_same_filter1'
    """
    parts = [spec.name, "x".join(str(n) for n in (*spec.spatial, spec.channels))]
    for key, value in spec.arguments.items():
        if key == "data_format":
            if value == "channels_first":
                parts.append("cfirst")
            continue
        if value is None:
            continue
        text = _stem_value(value)
        tag = _STEM_KEYS.get(key, key)
        parts.append(f"{tag}{text}" if tag else text)
    if view != "gather":
        parts.append(view)
    if filter:
        parts.append(f"filter{int(filter)}")
    stem = "_".join(parts)
    return "".join(ch if ch.isalnum() or ch in "_-x" else "-" for ch in stem)


def _cli_value(name: str, key: str, value) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return ",".join(f"{lo}:{hi}" for lo, hi in value)  # per-axis (lo, hi) pairs
    if isinstance(value, tuple) and name[:-2] in ("Cropping", "ZeroPadding"):
        return f"{value[0]}:{value[1]}"  # the 1D (lo, hi) pair
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def animate_command(spec: Spec, *, view: str = "gather", numbers: bool = False,
                    reveal: bool = False, filter: int = 0, output: str = "out.gif") -> str:
    """The ``convviz animate`` command that renders ``spec``.

    >>> animate_command(Spec("Cropping2D", {"cropping": ((1, 0), (2, 2))}, (5, 6)))
    'convviz animate Cropping2D --input 5x6 --cropping 1:0,2:2 -o out.gif'
    """
    args = [f"convviz animate {spec.name}", "--input " + "x".join(str(n) for n in spec.spatial)]
    if spec.channels != 1:
        args.append(f"--channels {spec.channels}")
    for key, value in spec.arguments.items():
        if key == "filters" and value == 1:
            continue  # the animate command's default
        args.append(f"--{key.replace('_', '-')} {_cli_value(spec.name, key, value)}")
    if view != "gather":
        args.append(f"--view {view}")
    if numbers:
        args.append("--numbers")
    if reveal:
        args.append("--reveal")
    if filter:
        args.append(f"--filter {int(filter)}")
    args.append(f"-o {output}")
    return " ".join(args)


def _case(slug, title, note, name, spatial, view="gather", pre_padding=None, **kwargs):
    spec = Spec(name, {"filters": 1, **kwargs}, spatial=spatial)
    return GalleryCase(slug, title, note, spec, view, pre_padding)


#: The classic cases of "A guide to convolution arithmetic for deep learning", in order.
GALLERY: tuple[GalleryCase, ...] = (
    _case("no_padding_no_strides", "No padding, no strides",
          "Conv2D, kernel 3, padding='valid' on 4x4: output 2x2 = 4 - 3 + 1.",
          "Conv2D", (4, 4), kernel_size=3),
    _case("arbitrary_padding_no_strides", "Arbitrary padding, no strides",
          "Keras convolutions only take 'valid' or 'same', so padding p=2 is "
          "ZeroPadding2D(2) then Conv2D(kernel 4, 'valid'): 5x5 gives 5 + 2*2 - 4 + 1 = 6.",
          "Conv2D", (5, 5), pre_padding=2, kernel_size=4),
    _case("same_padding_no_strides", "Half ('same') padding, no strides",
          "Conv2D, kernel 3, padding='same' on 5x5: one zero on each side keeps 5x5.",
          "Conv2D", (5, 5), kernel_size=3, padding="same"),
    _case("full_padding_no_strides", "Full padding, no strides",
          "Keras has no padding='full'. Conv2DTranspose(kernel 3, strides 1, 'valid') is "
          "exactly a full-padding convolution (k-1 = 2 zeros per side, kernel flipped): "
          "5x5 gives 7x7.",
          "Conv2DTranspose", (5, 5), kernel_size=3),
    _case("no_padding_strides", "No padding, strides",
          "Conv2D, kernel 3, strides 2, 'valid' on 5x5: floor((5 - 3) / 2) + 1 = 2.",
          "Conv2D", (5, 5), kernel_size=3, strides=2),
    _case("padding_strides", "Padding ('same'), strides",
          "Conv2D, kernel 3, strides 2, 'same' on 5x5: ceil(5 / 2) = 3, one zero per side.",
          "Conv2D", (5, 5), kernel_size=3, strides=2, padding="same"),
    _case("padding_strides_odd", "Padding ('same'), strides, even input",
          "Conv2D, kernel 3, strides 2, 'same' on 6x6: ceil(6 / 2) = 3 needs one zero, "
          "and Keras puts it at the end (pads (0, 1)).",
          "Conv2D", (6, 6), kernel_size=3, strides=2, padding="same"),
    _case("no_padding_no_strides_transposed", "Transposed, no padding, no strides",
          "Conv2DTranspose, kernel 3, strides 1 on 2x2: the gather view is a full-padding "
          "convolution, output 4x4 = 2 + 3 - 1.",
          "Conv2DTranspose", (2, 2), kernel_size=3),
    _case("no_padding_strides_transposed", "Transposed, strides",
          "Conv2DTranspose, kernel 3, strides 2 on 2x2: one zero inserted between input "
          "cells, then full padding; output (2 - 1) * 2 + 3 = 5.",
          "Conv2DTranspose", (2, 2), kernel_size=3, strides=2),
    _case("no_padding_strides_transposed_scatter", "Transposed, strides (scatter view)",
          "Conv2DTranspose, kernel 3, strides 2 on 3x3, as each input cell sees it: it adds "
          "a 3x3 patch to the output. Kernel 3 with stride 2 overlaps unevenly (shade and "
          "numbers: writes per output cell): the checkerboard.",
          "Conv2DTranspose", (3, 3), view="scatter", kernel_size=3, strides=2),
    _case("dilation", "Dilation",
          "Conv2D, kernel 3, dilation_rate 2 on 7x7: the kernel spans 2 * (3 - 1) + 1 = 5 "
          "cells, output 3x3; the red cells are skipped.",
          "Conv2D", (7, 7), kernel_size=3, dilation_rate=2),
)


def gallery(outdir, *, cases: Sequence[GalleryCase] | None = None, fps: float = 2,
            max_frames: int | None = None) -> list[Path]:
    """Write one GIF per gallery case into ``outdir``, plus ``README.md`` listing them.

    Parameters
    ----------
    outdir : path
        Created if missing.
    cases : sequence of GalleryCase, optional
        Defaults to :data:`GALLERY`.

    Returns
    -------
    list of Path
        The GIFs written, in the order of ``cases`` (``README.md`` is written too).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    cases = GALLERY if cases is None else tuple(cases)
    paths = []
    for case in cases:
        path = outdir / f"{case.slug}.gif"
        path.write_bytes(gif_bytes(case.spec, view=case.view, fps=fps, max_frames=max_frames,
                                   pre_padding=case.pre_padding))
        paths.append(path)
    (outdir / "README.md").write_text(gallery_markdown(cases), encoding="utf-8")
    return paths


def gallery_markdown(cases: Sequence[GalleryCase] | None = None, prefix: str = "") -> str:
    """A Markdown list of the gallery (images at ``prefix + slug + ".gif"``)."""
    cases = GALLERY if cases is None else tuple(cases)
    lines = ["# Convolution arithmetic gallery", "",
             "The classic cases of Dumoulin & Visin, *A guide to convolution arithmetic for "
             "deep learning* (2016), as Keras 3 layers, drawn by convviz. Regenerate them all "
             "with `convviz gallery -o docs/gallery`.", ""]
    for case in cases:
        lines += [f"## {case.title}", "", f"![{case.title}]({prefix}{case.slug}.gif)", "",
                  case.note, ""]
        command = case.command or f"convviz gallery -o docs/gallery --only {case.slug}"
        lines += ["```bash", command, "```", ""]
    return "\n".join(lines)
