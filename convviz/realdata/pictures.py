"""Pictures of feature maps: a PNG grid (:func:`to_png`), each map on its own scale
(:func:`scale_label`).

matplotlib is imported inside :func:`to_png` only (its Agg canvas; never pyplot), so
importing :mod:`convviz.realdata` stays light.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence

import numpy as np


def _finite_range(m: np.ndarray) -> tuple[float, float] | None:
    f = m[np.isfinite(m)]
    return (float(f.min()), float(f.max())) if f.size else None


def _num(v: float) -> str:
    return f"{v:.3g}"


def scale_label(feature_map) -> str:
    """The display scale of one map, as :func:`to_png` writes it under the map.

    >>> scale_label(np.array([[-1.5, 0.0], [2.0, 0.25]]))
    'min -1.5  max 2'
    """
    r = _finite_range(np.asarray(feature_map, dtype=np.float64))
    if r is None:
        return "no finite values"
    lo, hi = r
    return f"constant {_num(lo)}" if lo == hi else f"min {_num(lo)}  max {_num(hi)}"


def to_png(feature_maps, *, titles: Sequence[str] | None = None, columns: int | None = None,
           cmap: str = "gray", max_maps: int = 16, dpi: int = 100) -> bytes:
    """A PNG grid of feature maps, each scaled to its own range, the range written under it.

    Parameters
    ----------
    feature_maps : ndarray ``(channels, *spatial)`` or sequence of arrays
        1-D maps are drawn as curves, 2-D maps as images, 3-D maps as their middle depth
        slice (scaled by the whole volume's range, the slice named in the title).
    titles : sequence of str, optional
        One per map (default ``"channel i"``).
    columns : int, optional
        Maps per row (default up to 4).
    cmap : str
        A matplotlib colormap for 2-D and 3-D maps (``"gray"``: black is the map's
        minimum, white its maximum).
    max_maps : int
        Draw at most this many maps (the title says how many were left out).
    dpi : int

    Returns
    -------
    bytes
        PNG data (matplotlib's Agg canvas, no pyplot, no global state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    maps = [np.asarray(m, dtype=np.float64) for m in
            (feature_maps if not isinstance(feature_maps, np.ndarray) else list(feature_maps))]
    if not maps:
        raise ValueError("`feature_maps` is empty: nothing to draw.")
    bad = [m.shape for m in maps if not 1 <= m.ndim <= 3 or min(m.shape) < 1]
    if bad:
        raise ValueError(f"Each feature map must be 1-D, 2-D or 3-D. Received shapes {bad}.")
    if titles is not None and len(titles) != len(maps):
        raise ValueError(f"`titles` has {len(titles)} entries for {len(maps)} maps.")
    if max_maps < 1:
        raise ValueError(f"`max_maps` must be >= 1. Received: {max_maps!r}")
    total = len(maps)
    maps = maps[:max_maps]
    names = list(titles[:max_maps]) if titles is not None else [f"channel {i}"
                                                                 for i in range(len(maps))]
    cols = max(1, min(columns or 4, len(maps)))
    rows = -(-len(maps) // cols)
    extra = 0.35 if any(m.ndim == 3 for m in maps) else 0.0  # the depth slice's title line
    fig = Figure(figsize=(2.6 * cols, (2.9 + extra) * rows + 0.4), dpi=dpi, facecolor="white",
                 layout="constrained")
    FigureCanvasAgg(fig)
    note = "each map scaled to its own range"
    if maps[0].ndim > 1 and cmap == "gray":
        note += ": black = min, white = max"
    if total > len(maps):
        note += f" (showing {len(maps)} of {total})"
    # wrapped to the figure's width (about 13 characters of 9 pt text per inch)
    fig.suptitle(textwrap.fill(note, max(24, int(2.6 * cols * 13))), fontsize=9)
    for i, (m, name) in enumerate(zip(maps, names)):
        ax = fig.add_subplot(rows, cols, i + 1)
        r = _finite_range(m)
        lo, hi = r if r is not None else (0.0, 1.0)
        title = name
        if m.ndim == 3:
            d = m.shape[0] // 2
            title += f"\ndepth slice {d} of {m.shape[0]}"
            m = m[d]
        if m.ndim == 1:
            ax.plot(np.arange(m.size), m, lw=0.8, color="tab:blue")
            ax.set_xlim(0, max(m.size - 1, 1))
            ax.tick_params(labelsize=6)
        else:
            shown = np.full(m.shape, 0.5) if hi == lo else (m - lo) / (hi - lo)
            ax.imshow(np.nan_to_num(shown, nan=0.5), cmap=cmap, vmin=0.0, vmax=1.0,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(title, fontsize=8)
        ax.set_xlabel(scale_label(maps[i]), fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


__all__ = ["scale_label", "to_png"]
