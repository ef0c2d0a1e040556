"""Generate the sample inputs that convviz ships in ``assets/`` (deterministic, rerunnable).

Run from the repository root::

    python assets/make_assets.py              # (re)writes assets/images, audio, volumes
    python assets/make_assets.py --out /tmp/a # writes the same files under /tmp/a instead

Every file is computed from a formula here, except ``images/photo.png``, which is
matplotlib's own sample photograph (``matplotlib.cbook.get_sample_data('grace_hopper.jpg')``,
a U.S. Navy photograph in the public domain) cropped and resized with Pillow. Running the
script twice with the same NumPy, Pillow and matplotlib gives byte-identical files: no
random numbers, no timestamps, and the PNGs are written by Pillow without metadata (the
text image is drawn with matplotlib's Agg canvas, never saved through ``savefig``).
Different library versions may change the two rendered images (text, photo) by a few grey
levels; the formula-made files (zone plate, checkerboard, chirp, sphere) do not change.

Outputs (about 0.4 MB in all; see ``assets/README.md`` for origin and licence):

===========================  ==================================================================
``images/zone_plate.png``    256x256 grey ``0.5 + 0.5 cos(k r^2)``, alias-free up to the corners
``images/checkerboard.png``  256x256 grey, 8x8 squares of 32 px
``images/text.png``          256x256 grey, black text on white (DejaVu Sans, matplotlib Agg)
``images/photo.png``         256x256 RGB, Grace Hopper, top square of the sample photo
``audio/chirp.wav``          1 s, 16 kHz, mono, 16-bit PCM: linear chirp 100 Hz -> 4 kHz
``volumes/sphere.npy``       (32, 32, 32) float32: a spherical shell, radii 6 to 12 voxels
===========================  ==================================================================
"""

from __future__ import annotations

import argparse
import io
import math
import wave
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent

#: Side of the square images, in pixels.
SIZE = 256
#: The chirp's sample rate (Hz), length (s) and start / end frequencies (Hz).
RATE, SECONDS, F0, F1 = 16_000, 1.0, 100.0, 4_000.0
#: The volume's side (voxels) and the shell's inner and outer radii (voxels).
VOLUME, INNER, OUTER = 32, 6.0, 12.0


def _to_u8(a: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> uint8, rounded half up (the same on every platform)."""
    return np.floor(np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def zone_plate(n: int = SIZE) -> np.ndarray:
    """``(n, n)`` float64 in [0, 1]: ``0.5 + 0.5 cos(k r^2)``, ``r`` from the image centre.

    The local frequency of ``cos(k r^2)`` is ``k r / pi`` cycles per pixel. ``k`` puts the
    Nyquist limit (0.5) exactly at the corners, so the file itself has no aliasing, while a
    stride-2 layer (Nyquist 0.25 of the input's frequency) aliases every ring farther than
    half the corner distance from the centre: the rings fold back into false rings.
    """
    c = (n - 1) / 2
    yy, xx = np.mgrid[0:n, 0:n]
    r2 = (yy - c) ** 2 + (xx - c) ** 2
    k = 0.5 * math.pi / math.sqrt(2 * c * c)
    return 0.5 + 0.5 * np.cos(k * r2)


def checkerboard(n: int = SIZE, square: int = 32) -> np.ndarray:
    """``(n, n)`` float64, 0 and 1 in squares of ``square`` pixels (top-left square black)."""
    yy, xx = np.mgrid[0:n, 0:n]
    return (((yy // square) + (xx // square)) % 2).astype(np.float64)


def text_image(n: int = SIZE) -> np.ndarray:
    """``(n, n)`` float64 in [0, 1]: black text on white, drawn by matplotlib's Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(n / dpi, n / dpi), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    lines = [("Conv2D", 34, "bold"), ("stride = 2", 24, "normal"),
             ("edges | corners", 18, "normal"), ("abcdefghijklm", 16, "normal"),
             ("nopqrstuvwxyz", 16, "normal"), ("0123456789", 20, "normal")]
    y = 0.90
    for text, size, weight in lines:
        fig.text(0.5, y, text, ha="center", va="center", fontsize=size, weight=weight,
                 family="DejaVu Sans", color="black")
        y -= 0.16
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())[:, :, :3].astype(np.float64)
    return rgba.mean(axis=-1) / 255.0


def photo(n: int = SIZE) -> Image.Image:
    """matplotlib's Grace Hopper sample photo (512x600): its top square (the face and cap,
    centred horizontally), resized to ``n`` x ``n`` with Lanczos filtering."""
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        img = Image.open(io.BytesIO(f.read()))
        img.load()
    img = img.convert("RGB")
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, 0
    img = img.crop((left, top, left + side, top + side))
    return img.resize((n, n), Image.Resampling.LANCZOS)


def chirp(rate: int = RATE, seconds: float = SECONDS, f0: float = F0,
          f1: float = F1) -> np.ndarray:
    """``(rate * seconds,)`` int16: a linear chirp, amplitude 0.8, 10 ms raised-cosine fades.

    Phase ``2 pi (f0 t + (f1 - f0) t^2 / (2 T))``: the frequency rises linearly from ``f0``
    to ``f1``, so a spectrogram shows one straight rising line.
    """
    steps = int(round(rate * seconds))
    t = np.arange(steps) / rate
    phase = 2 * math.pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds))
    y = 0.8 * np.sin(phase)
    fade = int(0.01 * rate)
    ramp = 0.5 - 0.5 * np.cos(math.pi * np.arange(fade) / fade)
    y[:fade] *= ramp
    y[steps - fade:] *= ramp[::-1]
    return np.round(y * 32767).astype("<i2")


def shell(n: int = VOLUME, inner: float = INNER, outer: float = OUTER) -> np.ndarray:
    """``(n, n, n)`` float32 in [0, 1]: 1 between radii ``inner`` and ``outer`` (voxels),
    with a one-voxel linear ramp on both surfaces (so its edges are smooth, not stairs)."""
    c = (n - 1) / 2
    zz, yy, xx = np.mgrid[0:n, 0:n, 0:n]
    r = np.sqrt((zz - c) ** 2 + (yy - c) ** 2 + (xx - c) ** 2)
    value = np.clip(outer + 0.5 - r, 0, 1) * np.clip(r - (inner - 0.5), 0, 1)
    return value.astype(np.float32)


def _save_png(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG", optimize=True)


def write_wav(samples: np.ndarray, rate: int, path: Path) -> None:
    """Mono 16-bit PCM WAV with the stdlib ``wave`` module."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def make_all(out: Path = HERE) -> list[Path]:
    """Write every asset under ``out``; returns the paths written."""
    out = Path(out)
    written = []

    def png(name, img):
        path = out / "images" / name
        _save_png(img, path)
        written.append(path)

    png("zone_plate.png", Image.fromarray(_to_u8(zone_plate()), mode="L"))
    png("checkerboard.png", Image.fromarray(_to_u8(checkerboard()), mode="L"))
    png("text.png", Image.fromarray(_to_u8(text_image()), mode="L"))
    png("photo.png", photo())

    wav = out / "audio" / "chirp.wav"
    write_wav(chirp(), RATE, wav)
    written.append(wav)

    npy = out / "volumes" / "sphere.npy"
    npy.parent.mkdir(parents=True, exist_ok=True)
    np.save(npy, shell(), allow_pickle=False)
    written.append(npy)
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=HERE,
                    help="folder to write into (default: the assets/ folder of this script)")
    args = ap.parse_args(argv)
    paths = make_all(args.out)
    total = 0
    for p in paths:
        size = p.stat().st_size
        total += size
        print(f"{size:>9,d} B  {p}")
    print(f"{total:>9,d} B  total")


if __name__ == "__main__":
    main()
