"""What comes in: the shipped inputs and the loaders that validate an upload before decoding it.

* limits: :data:`MAX_UPLOAD_BYTES`, :data:`MAX_UPLOAD_PIXELS`, :data:`IMAGE_FORMATS`;
* the shipped inputs: :data:`ASSETS`, :class:`Asset`, :data:`REGISTRY`, :data:`KINDS`,
  :func:`load_asset`;
* loaders: :func:`load_image` (PNG, JPEG, GIF, BMP, WEBP), :func:`load_signal` (PCM WAV),
  :func:`load_volume` (``.npy``), and :func:`fit` to shrink an image for a page.

Every problem with an input is a ValueError that says what was received and what is
allowed. Arrays come out in the natural layout of their kind, float32: an image ``(H, W)``
or ``(H, W, 3)`` in [0, 1], a signal ``(steps,)`` in [-1, 1], a volume ``(D, H, W)``.
"""

from __future__ import annotations

import io
import math
import os
import struct
import wave
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# ----------------------------------------------------------------------------- limits
#: Largest upload (file, bytes or file-like) the loaders read: 10 MiB.
MAX_UPLOAD_BYTES = 10 * 2**20
#: Largest image (width x height, from its header) decoded: 4096 x 4096 = 16.8 Mpx, 48 MiB
#: as 8-bit RGB and 192 MiB as the float32 RGB array :func:`load_image` returns. Far below
#: Pillow's own decompression-bomb limits (89 Mpx warns, 179 Mpx refuses), so an image over
#: the cap is refused before any pixel is decoded. Use :func:`fit` to shrink it for a page.
MAX_UPLOAD_PIXELS = 4096 * 4096
#: Image formats Pillow may try (TIFF, PSD, ICO and the rest are never parsed).
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")

# ----------------------------------------------------------------------------- assets
#: The folder of the shipped inputs: ``assets/`` at the top of the repository, beside the
#: ``convviz`` package (the app runs from the repository or an editable install; a plain
#: wheel does not carry it). This file is ``convviz/realdata/inputs.py``, so the repository
#: is its ``parents[2]``.
ASSETS = Path(__file__).resolve().parents[2] / "assets"


@dataclass(frozen=True)
class Asset:
    """One shipped input.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"zone_plate"``.
    path : Path
        The file, under :data:`ASSETS`.
    kind : str
        ``"image"``, ``"signal"`` or ``"volume"``.
    description : str
        One line for a student.
    channels : int
        Channels of the loaded array (3 for the RGB photo, else 1).
    """

    name: str
    path: Path
    kind: str
    description: str
    channels: int = 1


def _asset(name, rel, kind, description, channels=1):
    return name, Asset(name, ASSETS / rel, kind, description, channels)


#: The shipped inputs by name (their origin and licence: ``assets/README.md``).
REGISTRY: Mapping[str, Asset] = MappingProxyType(dict([
    _asset("zone_plate", "images/zone_plate.png", "image",
           "Zone plate cos(k r^2): rings get finer outwards; a stride-2 layer aliases the "
           "outer ones into false rings."),
    _asset("checkerboard", "images/checkerboard.png", "image",
           "Black and white squares of 32 px: straight edges and corners for Sobel and "
           "Laplacian kernels."),
    _asset("text", "images/text.png", "image",
           "Black text on white: thin strokes, curves and corners."),
    _asset("photo", "images/photo.png", "image",
           "Grace Hopper, a U.S. Navy photograph (public domain), 256 x 256 RGB.", 3),
    _asset("chirp", "audio/chirp.wav", "signal",
           "One second of a linear chirp, 100 Hz to 4 kHz, 16 kHz mono: low to high "
           "frequencies for 1-D filters."),
    _asset("sphere", "volumes/sphere.npy", "volume",
           "A 32 x 32 x 32 spherical shell (radii 6 to 12 voxels): a 3-D edge for Conv3D."),
]))
KINDS = ("image", "signal", "volume")


def load_asset(name: str, **kwargs) -> np.ndarray:
    """Load a shipped input by its :data:`REGISTRY` name.

    Images load in ``"rgb"`` mode when the asset has 3 channels, else ``"gray"`` (pass
    ``mode=`` to choose); ``kwargs`` go to the loader of the asset's kind.
    """
    asset = _registry(name)
    if asset.kind == "image":
        kwargs.setdefault("mode", "rgb" if asset.channels == 3 else "gray")
        return load_image(asset.path, **kwargs)
    if asset.kind == "signal":
        return load_signal(asset.path, **kwargs)
    return load_volume(asset.path, **kwargs)


def _registry(name: str) -> Asset:
    asset = REGISTRY.get(name)
    if asset is None:
        raise ValueError(f"Unknown sample input {name!r}. Expected one of: "
                         f"{', '.join(REGISTRY)}.")
    return asset


# ----------------------------------------------------------------------------- reading
def _mib(n: int) -> str:
    return f"{n:,} bytes ({n / 2**20:.1f} MiB)"


def _too_large(label: str, size: str) -> ValueError:
    return ValueError(
        f"{label} is too large: {size}. At most MAX_UPLOAD_BYTES = "
        f"{_mib(MAX_UPLOAD_BYTES)} are read; shrink or crop it first."
    )


def _read(source, kinds: str) -> tuple[bytes, str]:
    """``(data, label)`` of a registry name, a path, bytes or a binary file-like object.

    The byte cap is checked before reading a file (from its size) and while reading a
    file-like object (never more than ``MAX_UPLOAD_BYTES + 1`` bytes).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = f"The upload ({len(data):,} bytes)"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(_registry(source).path if source in REGISTRY else source)
        label = f"The file {str(path)!r}"
        if not path.is_file():
            hint = (" (a shipped input: run `python assets/make_assets.py`)"
                    if path.parent.parent == ASSETS else "")
            raise ValueError(f"{label} does not exist or is not a file{hint}. Expected a "
                             f"path to {kinds} or one of the sample names: "
                             f"{', '.join(REGISTRY)}.")
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise _too_large(label, _mib(size))
        data = path.read_bytes()
    elif hasattr(source, "read"):  # an open binary file, io.BytesIO, Streamlit's UploadedFile
        name = getattr(source, "name", None)
        label = f"The upload {name!r}" if name else "The upload"
        data = source.read(MAX_UPLOAD_BYTES + 1)
        if not isinstance(data, (bytes, bytearray)):
            raise ValueError(f"{label} was opened in text mode ({type(data).__name__} "
                             "read); open it in binary mode ('rb').")
        data = bytes(data)
        if len(data) > MAX_UPLOAD_BYTES:
            raise _too_large(label, f"more than {_mib(MAX_UPLOAD_BYTES)}")
    else:
        raise ValueError(f"Expected a path, bytes or a binary file object holding {kinds}. "
                         f"Received an object of type {type(source).__name__}.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise _too_large(label, _mib(len(data)))
    if not data:
        raise ValueError(f"{label} is empty (0 bytes). Expected {kinds}.")
    return data, label


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"), (b"BM", "BMP"),
)


def _signature(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for sig, fmt in _SIGNATURES if data.startswith(sig)), None)


def _describe(data: bytes) -> str:
    """What the first bytes of an unreadable upload look like (for an error message)."""
    head = data[:32]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return f"it looks like text: {text[:24]!r}"
    return f"it starts with the bytes {head[:12]!r}"


def _png_header_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG's IHDR chunk (the first 24 bytes), or None."""
    if len(data) >= 24 and data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def _too_many_pixels(label, fmt, w, h) -> ValueError:
    return ValueError(
        f"{label} is refused before decoding: its {fmt} header claims {w} x {h} = "
        f"{w * h:,} pixels, more than MAX_UPLOAD_PIXELS = {MAX_UPLOAD_PIXELS:,} "
        f"({math.isqrt(MAX_UPLOAD_PIXELS)} x {math.isqrt(MAX_UPLOAD_PIXELS)}). "
        "Downsize it before uploading."
    )


def _open_image(data: bytes, label: str) -> Image.Image:
    """A decoded, still image; ValueError for anything else (no pixel decoded before the
    size and frame checks)."""
    allowed = (f"Allowed formats: {', '.join(IMAGE_FORMATS)}, still images only (an "
               "animated GIF, PNG or WEBP is refused).")
    sniffed = _signature(data)
    claimed = _png_header_size(data)
    if claimed is not None and claimed[0] * claimed[1] > MAX_UPLOAD_PIXELS:
        raise _too_many_pixels(label, "PNG", *claimed)
    try:
        img = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ValueError(
            f"{label} is refused before decoding: Pillow found its header too large "
            f"({exc}). convviz decodes at most MAX_UPLOAD_PIXELS = {MAX_UPLOAD_PIXELS:,} "
            "pixels."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            struct.error) as exc:
        if sniffed is not None:
            raise ValueError(
                f"{label} starts like a {sniffed} file but could not be read: it is "
                f"truncated or corrupt ({type(exc).__name__}: {exc}). {allowed}"
            ) from None
        raise ValueError(
            f"{label} is not an image convviz can read: {_describe(data)}. {allowed}"
        ) from None
    w, h = img.size
    if w * h > MAX_UPLOAD_PIXELS:
        raise _too_many_pixels(label, img.format, w, h)
    if getattr(img, "is_animated", False):
        raise ValueError(
            f"{label} is an animated {img.format} with {img.n_frames} frames: refused. "
            "convviz runs layers on still images and does not pick a frame for you; save "
            "the frame you want as a PNG and upload that."
        )
    try:
        img.load()
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error, struct.error) as exc:
        raise ValueError(
            f"{label} could not be decoded: its {img.format} data is truncated or corrupt "
            f"({type(exc).__name__}: {exc})."
        ) from None
    try:
        img = ImageOps.exif_transpose(img)  # phone photos: apply the EXIF orientation
    except Exception:  # noqa: BLE001 - a broken EXIF block only loses the rotation
        pass
    return img


def _image_array(img: Image.Image, mode: str) -> np.ndarray:
    """float32 ``(H, W)`` or ``(H, W, 3)`` in [0, 1] from a decoded Pillow image."""
    if img.mode.startswith("I") or img.mode == "F":  # 16/32-bit integer or float grey
        scale = 1.0 if img.mode == "F" else 65535.0
        a = np.clip(np.asarray(img, dtype=np.float64) / scale, 0.0, 1.0).astype(np.float32)
        return a if mode == "gray" else np.repeat(a[..., None], 3, axis=-1)
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)  # transparent cells become white
    img = img.convert("L" if mode == "gray" else "RGB")
    return np.asarray(img, dtype=np.float32) / np.float32(255.0)


def load_image(source, *, mode: str = "gray") -> np.ndarray:
    """Read an image file, upload or sample name into a float32 array in [0, 1].

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file-like
        A :data:`REGISTRY` name, a path, the bytes of an upload, or an open binary file
        (e.g. Streamlit's ``UploadedFile``).
    mode : {"gray", "rgb"}
        ``"gray"``: luma ``0.299 R + 0.587 G + 0.114 B`` (Pillow's ``"L"``); ``"rgb"``:
        three channels (a grey image is repeated).

    Returns
    -------
    ndarray of float32
        ``(H, W)`` for ``"gray"``, ``(H, W, 3)`` for ``"rgb"``; 8-bit values are divided
        by 255, 16-bit ones by 65535. Transparent pixels are composited onto white; the
        EXIF orientation of a photo is applied.

    Raises
    ------
    ValueError
        Saying what was received and what is allowed, for: a missing file; more than
        :data:`MAX_UPLOAD_BYTES`; empty data; something that is not a PNG, JPEG, GIF, BMP or
        WEBP image (e.g. a text file); a header claiming more than
        :data:`MAX_UPLOAD_PIXELS` (refused before any pixel is decoded; Pillow's
        ``DecompressionBombError`` becomes this ValueError too); an animated GIF, PNG or
        WEBP (refused: no frame is chosen for you); truncated or corrupt pixel data.
    """
    if mode not in ("gray", "rgb"):
        raise ValueError(f"`mode` must be 'gray' or 'rgb'. Received: mode={mode!r}")
    data, label = _read(source, "an image")
    return _image_array(_open_image(data, label), mode)


def fit(image, max_side: int) -> np.ndarray:
    """Shrink an image so that its longer side is at most ``max_side`` (never enlarges).

    Parameters
    ----------
    image : array_like, ``(H, W)`` or ``(H, W, C)``
    max_side : int
        Longest side of the result, >= 1.

    Returns
    -------
    ndarray of float32
        ``(h, w)`` or ``(h, w, C)`` with ``max(h, w) <= max_side`` and the aspect ratio
        kept (rounded, each side >= 1). Resampled by Pillow's Lanczos filter per channel in
        float precision (antialiased: the page's downsizing adds no aliasing of its own),
        then clipped to the input's range (Lanczos overshoots at sharp edges). An image
        already small enough is returned unchanged (as float32).
    """
    a = np.asarray(image, dtype=np.float32)
    if a.ndim not in (2, 3) or min(a.shape[:2], default=0) < 1:
        raise ValueError(f"`image` must be (H, W) or (H, W, C). Received shape {a.shape}.")
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 1:
        raise ValueError(f"`max_side` must be an int >= 1. Received: max_side={max_side!r}")
    h, w = a.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return a
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    planes = a[..., None] if a.ndim == 2 else a
    out = np.stack([
        np.asarray(Image.fromarray(np.ascontiguousarray(planes[..., c]), mode="F")
                   .resize(size, Image.Resampling.LANCZOS))
        for c in range(planes.shape[-1])
    ], axis=-1)
    out = np.clip(out, a.min(), a.max()).astype(np.float32)
    return out[..., 0] if a.ndim == 2 else out


def sample_batch(count: int, size: int) -> np.ndarray:
    """A batch of ``count`` different RGB pictures of ``size`` x ``size``, from the shipped
    ones: each sample picture (grey ones on all three channels) turned by 0, 90, 180 and
    270 degrees, then the same mirrored, each shifted (wrapping round) by a different
    offset, so no two are equal.

    >>> sample_batch(16, 64).shape
    (16, 64, 64, 3)
    """
    pictures = [fit(load_asset(name, mode="rgb"), size) for name, a in REGISTRY.items()
                if a.kind == "image"]
    variants = [np.rot90(np.flip(p, 1) if flip else p, k)
                for flip in (False, True) for k in range(4) for p in pictures]
    # shifted too (wrapping round), so that the symmetric zone plate and checkerboard
    # differ from their own turned copies
    variants = [np.roll(v, (13 * i, 29 * i), axis=(0, 1)) for i, v in enumerate(variants)]
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or \
            not 1 <= count <= len(variants):
        raise ValueError(f"`count` must be an int from 1 to {len(variants)} (the sample "
                         f"pictures, turned and mirrored). Received: count={count!r}")
    shapes = {v.shape for v in variants[:count]}
    if len(shapes) > 1:
        raise ValueError(f"The sample pictures are not square at size {size}: {shapes}.")
    return np.stack(variants[:count]).astype(np.float32)


def load_signal(source, *, with_rate: bool = False):
    """Read a PCM WAV file (stdlib ``wave``) into a float32 signal in [-1, 1].

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file-like
        A :data:`REGISTRY` name (``"chirp"``), a path or an upload.
    with_rate : bool
        Also return the sample rate.

    Returns
    -------
    ndarray of float32, ``(steps,)``
        Integer PCM (8, 16, 24 or 32 bit) scaled to [-1, 1]; several channels are averaged
        to one. With ``with_rate``: ``(signal, rate_hz)``.
    """
    data, label = _read(source, "a WAV file")
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            channels, width, rate, frames = (w.getnchannels(), w.getsampwidth(),
                                             w.getframerate(), w.getnframes())
            raw = w.readframes(frames)
    except (wave.Error, EOFError, struct.error) as exc:
        raise ValueError(
            f"{label} is not a WAV file convviz can read ({exc}; {_describe(data)}). "
            "Allowed: uncompressed integer PCM WAV, 8, 16, 24 or 32 bit, any rate and "
            "channel count."
        ) from None
    count = len(raw) // (width * channels)
    if count == 0:
        raise ValueError(f"{label} holds no samples (header: {frames} frames, {channels} "
                         f"channel(s), {width * 8} bit).")
    raw = raw[: count * width * channels]
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 2**23, v - 2**24, v) / 2.0**23
    else:
        x = np.frombuffer(raw, f"<i{width}").astype(np.float64) / 2.0 ** (8 * width - 1)
    x = x.reshape(count, channels).mean(axis=1).astype(np.float32)
    return (x, rate) if with_rate else x


def load_volume(source) -> np.ndarray:
    """Read a 3-D volume saved with ``np.save`` into float32 ``(D, H, W)``.

    ``source`` is a :data:`REGISTRY` name (``"sphere"``), a path or an upload; pickled
    objects are never loaded. ValueError for anything but a finite, real 3-D array.
    """
    data, label = _read(source, "a .npy volume")
    try:
        v = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{label} is not a .npy array convviz can read ({exc}; "
                         f"{_describe(data)}). Save a 3-D array with np.save.") from None
    if not isinstance(v, np.ndarray):
        raise ValueError(f"{label} holds several arrays (.npz); expected one 3-D array "
                         "saved with np.save.")
    if v.ndim != 3 or v.dtype.kind not in "biuf" or min(v.shape) < 1:
        raise ValueError(f"{label} holds a {v.dtype} array of shape {v.shape}; expected a "
                         "real 3-D array (depth, height, width).")
    v = v.astype(np.float32)
    if not np.isfinite(v).all():
        raise ValueError(f"{label} contains NaN or infinite values.")
    return v


__all__ = [
    "ASSETS", "Asset", "IMAGE_FORMATS", "KINDS", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_PIXELS",
    "REGISTRY", "fit", "load_asset", "load_image", "load_signal", "load_volume",
]
