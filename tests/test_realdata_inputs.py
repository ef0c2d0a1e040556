"""convviz.realdata.inputs: the shipped inputs and the validation of uploads.

Expected values come from outside the code under test: the formulas of
assets/make_assets.py, Pillow's own decoding, and headers and WAV files written by hand.
"""

from __future__ import annotations

import importlib.util
import io
import struct
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convviz import realdata as rd

ROOT = Path(__file__).resolve().parents[1]


def _make_assets():
    spec = importlib.util.spec_from_file_location("make_assets", ROOT / "assets" /
                                                  "make_assets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- assets
def test_registry_files_exist_and_are_small():
    assert set(rd.REGISTRY) == {"zone_plate", "checkerboard", "text", "photo", "chirp",
                                "sphere"}
    total = 0
    for name, asset in rd.REGISTRY.items():
        assert asset.name == name and asset.kind in rd.KINDS and asset.description
        assert asset.path.is_file() and asset.path.parent.parent == rd.ASSETS
        total += asset.path.stat().st_size
    assert total < 2**20
    assert (rd.ASSETS / "README.md").is_file() and (rd.ASSETS / "make_assets.py").is_file()


def test_assets_load_with_their_shapes():
    for name in ("zone_plate", "checkerboard", "text"):
        a = rd.load_asset(name)
        assert a.shape == (256, 256) and a.dtype == np.float32
        assert 0 <= a.min() and a.max() <= 1
    photo = rd.load_asset("photo")
    assert photo.shape == (256, 256, 3) and photo.dtype == np.float32
    assert photo.std(axis=-1).mean() > 0.02  # really colour, not grey repeated
    assert rd.load_asset("photo", mode="gray").shape == (256, 256)
    sig, rate = rd.load_asset("chirp", with_rate=True)
    assert sig.shape == (16000,) and rate == 16000 and np.abs(sig).max() <= 0.8 + 1e-4
    vol = rd.load_asset("sphere")
    assert vol.shape == (32, 32, 32) and vol.dtype == np.float32
    assert vol[16, 16, 16] == 0 and vol[16, 16, 16 + 9] == 1 and vol[0, 0, 0] == 0
    with pytest.raises(ValueError, match="Unknown sample input 'nope'.*zone_plate"):
        rd.load_asset("nope")


def test_assets_match_their_formulas():
    ma = _make_assets()
    expected = np.floor(np.clip(ma.zone_plate(), 0, 1) * 255 + 0.5) / 255
    np.testing.assert_array_equal(rd.load_asset("zone_plate"), expected.astype(np.float32))
    board = rd.load_asset("checkerboard")
    assert board[0, 0] == 0 and board[0, 32] == 1 and board[32, 32] == 0
    assert board[31, 31] == 0 and board[31, 32] == 1
    np.testing.assert_array_equal(rd.load_asset("chirp"), ma.chirp() / np.float32(32768))
    np.testing.assert_array_equal(rd.load_asset("sphere"), ma.shell())


def test_make_assets_is_deterministic(tmp_path):
    _make_assets().make_all(tmp_path)
    for rel in ("images/zone_plate.png", "images/checkerboard.png", "audio/chirp.wav",
                "volumes/sphere.npy"):
        assert (tmp_path / rel).read_bytes() == (rd.ASSETS / rel).read_bytes(), rel
    # rendered files: library versions may move a few grey levels
    for rel in ("images/text.png", "images/photo.png"):
        new = rd.load_image(tmp_path / rel, mode="rgb")
        old = rd.load_image(rd.ASSETS / rel, mode="rgb")
        assert new.shape == old.shape and np.abs(new - old).mean() < 2 / 255, rel


# ----------------------------------------------------------------------------- uploads
def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_header(width: int, height: int, end: bool) -> bytes:
    """A PNG signature and a valid IHDR chunk (8-bit grey), no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + (_chunk(b"IEND", b"") if end else b""))


def _gif_header(width: int, height: int) -> bytes:
    """A GIF screen and image descriptor claiming width x height, no pixel data."""
    return (b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00," +
            struct.pack("<HHHH", 0, 0, width, height) + b"\x00\x08\x00;")


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_upload_round_trip_bytes_path_and_file_object(tmp_path):
    data = (rd.ASSETS / "images" / "photo.png").read_bytes()
    from_path = rd.load_image(rd.ASSETS / "images" / "photo.png", mode="rgb")
    np.testing.assert_array_equal(rd.load_image(data, mode="rgb"), from_path)
    f = io.BytesIO(data)
    f.name = "hopper.png"
    np.testing.assert_array_equal(rd.load_image(f, mode="rgb"), from_path)
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float32) / 255
    np.testing.assert_array_equal(rd.load_image(data), expected)


def test_text_file_is_not_an_image(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello, these are my lecture notes\n")
    with pytest.raises(ValueError) as exc:
        rd.load_image(notes)
    msg = str(exc.value)
    assert "notes.txt" in msg and "is not an image" in msg and "looks like text" in msg
    assert "'hello, these are my lect" in msg and "PNG, JPEG, GIF, BMP, WEBP" in msg
    with pytest.raises(ValueError, match=r"The upload \(9 bytes\) is not an image"):
        rd.load_image(b"\x00\x01\x02binary")


def test_truncated_and_corrupt_png():
    data = (rd.ASSETS / "images" / "photo.png").read_bytes()
    with pytest.raises(ValueError) as exc:
        rd.load_image(data[: len(data) // 2])
    assert "could not be decoded" in str(exc.value) and "truncated or corrupt" in str(exc.value)
    assert "PNG" in str(exc.value)
    with pytest.raises(ValueError, match="starts like a PNG file but could not be read: it is "
                                         "truncated or corrupt"):
        rd.load_image(data[:40])
    with pytest.raises(ValueError, match="starts like a PNG"):
        rd.load_image(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)


@pytest.mark.parametrize("end", [True, False])
def test_png_header_claiming_20000_squared_is_refused_before_decoding(end):
    data = _png_header(20000, 20000, end)
    assert len(data) < 60  # nothing to decode: the header alone must be refused
    with pytest.raises(ValueError) as exc:
        rd.load_image(data)
    msg = str(exc.value)
    assert "refused before decoding" in msg and "20000 x 20000 = 400,000,000 pixels" in msg
    assert "MAX_UPLOAD_PIXELS = 16,777,216 (4096 x 4096)" in msg


def test_other_headers_over_the_pixel_cap():
    # over convviz's cap but under Pillow's limits: the size read by Pillow from the header
    with pytest.raises(ValueError, match="its GIF header claims 5000 x 5000 = 25,000,000"):
        rd.load_image(_gif_header(5000, 5000))
    # over Pillow's own limit: its DecompressionBombError becomes a ValueError
    with pytest.raises(ValueError, match="refused before decoding: Pillow found its header too "
                                         "large.*400000000 pixels.*MAX_UPLOAD_PIXELS"):
        rd.load_image(_gif_header(20000, 20000))
    # under the cap: opened, then refused for its missing pixel data
    with pytest.raises(ValueError, match="truncated or corrupt"):
        rd.load_image(_gif_header(8, 8))


def test_animated_gif_is_refused_with_the_frame_count():
    frames = [Image.new("L", (8, 8), v) for v in (0, 128, 255)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100,
                   loop=0)
    with pytest.raises(ValueError) as exc:
        rd.load_image(buf.getvalue())
    msg = str(exc.value)
    assert "animated GIF with 3 frames: refused" in msg and "does not pick a frame" in msg
    still = io.BytesIO()
    frames[1].save(still, format="GIF")
    np.testing.assert_allclose(rd.load_image(still.getvalue()), 128 / 255, atol=1e-6)


def test_byte_cap_empty_and_arguments(tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as f:
        f.truncate(rd.MAX_UPLOAD_BYTES + 1)  # sparse: refused from its size, not read
    with pytest.raises(ValueError, match=r"too large: 10,485,761 bytes \(10.0 MiB\). At most "
                                         "MAX_UPLOAD_BYTES = 10,485,760"):
        rd.load_image(big)
    with pytest.raises(ValueError, match="too large: more than 10,485,760"):
        rd.load_image(io.BytesIO(b"\x00" * (rd.MAX_UPLOAD_BYTES + 5)))
    with pytest.raises(ValueError, match="too large"):
        rd.load_image(b"\x00" * (rd.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(ValueError, match=r"The upload \(0 bytes\) is empty"):
        rd.load_image(b"")
    with pytest.raises(ValueError, match="does not exist or is not a file"):
        rd.load_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="type int"):
        rd.load_image(42)
    with pytest.raises(ValueError, match="text mode"):
        rd.load_image(io.StringIO("abc"))
    with pytest.raises(ValueError, match="`mode` must be 'gray' or 'rgb'"):
        rd.load_image(rd.ASSETS / "images" / "text.png", mode="RGB")


def test_transparency_16_bit_and_exif_orientation():
    rgba = Image.new("RGBA", (4, 3), (0, 0, 0, 0))
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    a = rd.load_image(_png_bytes(rgba), mode="rgb")
    assert a.shape == (3, 4, 3)
    np.testing.assert_array_equal(a[0, 0], [1, 0, 0])
    np.testing.assert_array_equal(a[1:], 1.0)  # transparent -> white
    deep = Image.fromarray(np.array([[0, 65535], [32768, 1000]], dtype=np.uint16))
    g = rd.load_image(_png_bytes(deep))
    np.testing.assert_allclose(g, np.array([[0, 65535], [32768, 1000]]) / 65535, rtol=1e-6)
    jpeg = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.new("RGB", (40, 20), (200, 10, 10)).save(jpeg, "JPEG", exif=exif)
    assert rd.load_image(jpeg.getvalue()).shape == (40, 20)


def test_fit_downsizes_keeps_aspect_and_range():
    photo = rd.load_asset("photo")
    small = rd.fit(photo, 64)
    assert small.shape == (64, 64, 3) and small.dtype == np.float32
    assert photo.min() <= small.min() and small.max() <= photo.max()
    # antialiased: the mean brightness survives
    assert abs(small.mean() - photo.mean()) < 0.01
    wide = np.tile(np.linspace(0, 1, 300, dtype=np.float32), (100, 1))
    out = rd.fit(wide, 150)
    assert out.shape == (50, 150)
    np.testing.assert_allclose(out[25], np.linspace(0, 1, 150), atol=0.01)
    assert rd.fit(wide, 400) is not None and rd.fit(wide, 400).shape == (100, 300)
    with pytest.raises(ValueError, match="max_side"):
        rd.fit(wide, 0)
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, C\)"):
        rd.fit(np.zeros(5), 3)


# ----------------------------------------------------------------------------- signals
def _wav(samples: np.ndarray, width: int, channels: int, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


def test_load_signal_widths_and_channels():
    v = np.array([-32768, -16384, 0, 16384, 32767], dtype="<i2")
    np.testing.assert_array_equal(rd.load_signal(_wav(v, 2, 1)), v / np.float32(32768))
    u8 = np.array([0, 64, 128, 255], dtype=np.uint8)
    np.testing.assert_array_equal(rd.load_signal(_wav(u8, 1, 1)), (u8 - 128.0) / 128)
    ints = np.array([-(2**23), -1, 0, 2**22, 2**23 - 1])
    raw = b"".join(int(i).to_bytes(3, "little", signed=True) for i in ints)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(3)
        w.setframerate(8000)
        w.writeframes(raw)
    np.testing.assert_array_equal(rd.load_signal(buf.getvalue()), ints / 2.0**23)
    stereo = np.array([[1000, 3000], [-2000, 0]], dtype="<i2")
    sig, rate = rd.load_signal(_wav(stereo, 2, 2, 22050), with_rate=True)
    assert rate == 22050
    np.testing.assert_array_equal(sig, np.array([2000, -1000]) / np.float32(32768))


def test_load_signal_refuses_what_it_cannot_read():
    data = np.zeros(10, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32)  # format 3: IEEE float
    float_wav = (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " +
                 struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)
    with pytest.raises(ValueError, match="not a WAV file convviz can read.*integer PCM"):
        rd.load_signal(float_wav)
    with pytest.raises(ValueError, match="looks like text"):
        rd.load_signal(b"this is not audio at all")
    with pytest.raises(ValueError, match="no samples"):
        rd.load_signal(_wav(np.zeros(0, "<i2"), 2, 1))


def test_load_volume():
    buf = io.BytesIO()
    np.save(buf, np.arange(24, dtype=np.int16).reshape(2, 3, 4))
    v = rd.load_volume(buf.getvalue())
    assert v.dtype == np.float32 and v.shape == (2, 3, 4) and v[1, 2, 3] == 23
    flat = io.BytesIO()
    np.save(flat, np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"shape \(4, 4\); expected a real 3-D array"):
        rd.load_volume(flat.getvalue())
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle=False"):
        rd.load_volume(pickled.getvalue())
    nan = io.BytesIO()
    np.save(nan, np.full((2, 2, 2), np.nan))
    with pytest.raises(ValueError, match="NaN"):
        rd.load_volume(nan.getvalue())


def test_sample_batch_gives_distinct_rgb_pictures_and_refuses_more_than_it_has():
    batch = rd.sample_batch(32, 64)
    assert batch.shape == (32, 64, 64, 3) and batch.dtype == np.float32
    assert len({b.tobytes() for b in batch}) == 32  # symmetric samples shifted apart too
    # picture 0 is the first sample, unturned and unshifted
    first = rd.fit(rd.load_asset("zone_plate", mode="rgb"), 64)
    assert np.array_equal(batch[0], first)
    with pytest.raises(ValueError, match="from 1 to 32"):
        rd.sample_batch(33, 64)
