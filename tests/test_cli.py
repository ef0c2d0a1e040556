"""The command line: `python -m convviz` through subprocess (exit codes, output), then the
argument parsing in-process (fast)."""

import importlib.util
import shutil
import subprocess
import sys

import pytest
from PIL import Image

import convviz
from convviz import cli, gallery

SHAPE_ARGS = ["shape", "Conv2D", "--filters", "8", "--kernel-size", "3", "--strides", "2",
              "--padding", "same", "--input", "None,15,15,3"]


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "convviz", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


# ----------------------------------------------------------------------------- subprocess
def test_shape_prints_shape_derivation_params_and_macs():
    r = run(*SHAPE_ARGS)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert 'keras.layers.Conv2D(filters=8, kernel_size=3, strides=2, padding="same")' in out
    assert "input shape:  (None, 15, 15, 3)" in out
    assert "output shape: (None, 8, 8, 8)" in out
    assert "axis 0 (height): ceil(15 / 2) = 8" in out
    assert "padding (lo, hi) = (1, 1)" in out
    assert "params: 224" in out
    assert "MACs:   13,824 per sample" in out
    assert r.stderr == ""


def test_invalid_setting_is_a_keras_error_with_exit_code_2():
    r = run("shape", "Conv2D", "--filters", "8", "--kernel-size", "3", "--strides", "2",
            "--dilation-rate", "2", "--input", "15x15")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("error: ValueError: ")
    assert "strides" in r.stderr and "dilation_rate" in r.stderr


def test_unknown_layer_lists_the_valid_ones():
    r = run("shape", "Conv4D", "--input", "5x5")
    assert r.returncode == 2
    assert "unknown layer 'Conv4D'" in r.stderr
    for name in convviz.LAYERS:
        assert name in r.stderr


def test_usage_errors_exit_2(capsys):
    r = run("shape", "Conv2D", "--filters", "2")  # no --input
    assert r.returncode == 2 and "--input" in r.stderr
    for argv in (["frobnicate"], ["animate", "Conv2D", "--input", "5x5", "-o", "x.gif",
                                  "--view", "sideways"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_help(capsys):
    r = run("--help")
    assert r.returncode == 0
    for word in ("shape", "animate", "gallery", "examples:"):
        assert word in r.stdout
    with pytest.raises(SystemExit) as exc:
        cli.main(["shape", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "--kernel-size" in out and "--input" in out


def test_animate_writes_a_gif_with_one_frame_per_step(tmp_path):
    r = run("animate", "Conv2D", "--input", "5x5", "--kernel-size", "3", "--strides", "2",
            "--padding", "same", "-o", "conv.gif", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "wrote conv.gif: 9 frames" in r.stdout
    with Image.open(tmp_path / "conv.gif") as im:
        assert im.n_frames == 9


def test_animate_png_step_and_scatter(tmp_path):
    r = run("animate", "Conv2DTranspose", "--input", "2x3", "--kernel-size", "3",
            "--strides", "2", "--view", "scatter", "--numbers", "--max-frames", "4",
            "-o", str(tmp_path / "s.gif"))
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "s.gif") as im:
        assert im.n_frames == 4  # 6 input cells, subsampled
    r = run("animate", "Conv1D", "--input", "7", "--kernel-size", "3", "--step", "4",
            "-o", str(tmp_path / "s.png"))
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "s.png") as im:
        assert im.format == "PNG" and im.mode == "RGB"
    r = run("animate", "Conv1D", "--input", "7", "--kernel-size", "3", "--step", "5",
            "-o", str(tmp_path / "t.png"))
    assert r.returncode == 2 and "out of range" in r.stderr
    assert not (tmp_path / "t.png").exists()


def test_animate_too_large_is_refused(tmp_path):
    r = run("animate", "Conv2D", "--input", "40x40", "--kernel-size", "3",
            "-o", str(tmp_path / "big.gif"))
    assert r.returncode == 2
    assert "error: ValueError:" in r.stderr and "too large" in r.stderr


def test_gallery_command(tmp_path):
    r = run("gallery", "-o", str(tmp_path / "g"), "--only", "no_padding_strides")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == [
        "README.md", "no_padding_strides.gif"]
    assert run("gallery", "-o", str(tmp_path), "--only", "nope").returncode == 2


@pytest.mark.skipif(shutil.which("convviz") is None, reason="console script not on PATH")
def test_console_script_matches_python_m():
    script = subprocess.run(["convviz", *SHAPE_ARGS], capture_output=True, text=True,
                            timeout=120)
    assert script.returncode == 0, script.stderr
    assert script.stdout == run(*SHAPE_ARGS).stdout


# ----------------------------------------------------------------------------- in-process
def main(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args, expected", [
    (["Conv1D", "--filters", "4", "--kernel-size", "3", "--padding", "causal",
      "--dilation-rate", "2", "--input", "10", "--channels", "2"], "(None, 10, 4)"),
    (["Conv2D", "--filters", "4", "--kernel-size", "3x2", "--data-format", "channels_first",
      "--input", "(None, 3, 15, 15)"], "(None, 4, 13, 14)"),
    (["Conv3D", "--filters", "2", "--kernel-size", "3", "--strides", "1,2,2", "--input",
      "5x9x9"], "(None, 3, 4, 4, 2)"),
    (["Conv2DTranspose", "--filters", "2", "--kernel-size", "3", "--strides", "2",
      "--padding", "same", "--output-padding", "1", "--input", "7x7"], "(None, 14, 14, 2)"),
    (["DepthwiseConv2D", "--kernel-size", "3", "--depth-multiplier", "2", "--input",
      "4,8,8,3"], "(4, 6, 6, 6)"),
    (["SeparableConv1D", "--filters", "5", "--kernel-size", "3", "--depthwise-initializer",
      "he_normal", "--input", "9"], "(None, 7, 5)"),
    (["ZeroPadding2D", "--padding", "1:2,0:1", "--input", "5x5"], "(None, 8, 6, 1)"),
    (["ZeroPadding1D", "--padding", "2", "--input", "5"], "(None, 9, 1)"),
    (["Cropping2D", "--cropping", "1x2", "--input", "6x6"], "(None, 4, 2, 1)"),
    (["Cropping1D", "--cropping", "1:2", "--input", "6"], "(None, 3, 1)"),
    (["UpSampling2D", "--size", "2x3", "--interpolation", "bilinear", "--input", "4x4"],
     "(None, 8, 12, 1)"),
    (["UpSampling1D", "--size", "3", "--input", "4"], "(None, 12, 1)"),
    (["convolution2d", "--filters", "1", "--kernel-size", "3", "--use-bias", "false",
      "--input", "5x5"], "(None, 3, 3, 1)"),
])
def test_shape_in_process(capsys, args, expected):
    code, out, err = main(capsys, "shape", *args)
    assert code == 0, err
    assert f"output shape: {expected}" in out
    assert "\\" not in out and "{" not in out  # no LaTeX left


def test_unknown_argument_lists_the_accepted_ones(capsys):
    code, _, err = main(capsys, "shape", "Cropping1D", "--cropping", "1", "--strides", "2",
                        "--input", "6")
    assert code == 2
    assert "Cropping1D does not take --strides" in err
    assert "Cropping1D accepts: --cropping" in err


def test_missing_required_argument(capsys):
    code, _, err = main(capsys, "shape", "Conv2D", "--kernel-size", "3", "--input", "5x5")
    assert code == 2 and "needs --filters" in err


def test_bad_values(capsys):
    assert main(capsys, "shape", "Conv2D", "--filters", "2", "--kernel-size", "three",
                "--input", "5x5")[0] == 2
    code, _, err = main(capsys, "shape", "Conv2D", "--filters", "2", "--kernel-size", "3",
                        "--input", "5x5x5")
    assert code == 2 and "2 spatial sizes" in err
    code, _, err = main(capsys, "shape", "Conv2D", "--filters", "2", "--kernel-size", "3",
                        "--input", "None,5,5,3", "--channels", "4")
    assert code == 2 and "contradicts" in err


def test_empty_output_shows_the_derivation(capsys):
    code, out, err = main(capsys, "shape", "Conv2D", "--filters", "2", "--kernel-size", "3",
                          "--input", "1x1")
    assert code == 2 and out == ""
    assert "floor((1 - 3) / 1) + 1 = -1" in err
    assert "error: ValueError: Computed output size would be zero or negative" in err


def test_unknown_channels_still_give_the_shape(capsys):
    code, out, _ = main(capsys, "shape", "Conv2D", "--filters", "2", "--kernel-size", "3",
                        "--input", "None,5,5,None")
    assert code == 0
    assert "output shape: (None, 3, 3, 2)" in out and "params: unknown" in out


def test_parse_helpers():
    assert cli.parse_int_tuple("3") == 3
    assert cli.parse_int_tuple("3x2") == cli.parse_int_tuple("(3, 2)") == (3, 2)
    assert cli.parse_pairs("1", 2) == 1
    assert cli.parse_pairs("1x2", 2) == (1, 2)
    assert cli.parse_pairs("1:2,0:1", 2) == ((1, 2), (0, 1))
    assert cli.parse_pairs("1:2", 1) == (1, 2)
    assert cli.parse_pairs("((1, 2), (0, 1))", 2) == ((1, 2), (0, 1))
    assert cli.parse_input("5x5", 2, None, "channels_last") == (None, 5, 5, 1)
    assert cli.parse_input("5,5", 2, 3, "channels_first") == (None, 3, 5, 5)
    assert cli.parse_input("(None, 15, 15, 3)", 2, None, None) == (None, 15, 15, 3)
    with pytest.raises(cli.CLIError):
        cli.parse_input("5xa", 2, None, None)
    with pytest.raises(cli.CLIError):
        cli.parse_bool("maybe")


def test_gallery_commands_rebuild_the_gallery_specs():
    """Every gallery case's printed command describes exactly its Spec."""
    parser = cli.build_parser()
    checked = 0
    for case in gallery.GALLERY:
        if case.command is None:
            continue
        argv = case.command.split()[1:]
        assert argv[0] == "animate"
        args, extras = parser.parse_known_args(argv)
        assert cli.animation_spec(args, extras) == case.spec
        assert (args.view or "gather") == case.view
        checked += 1
    assert checked >= 8


def test_main_module_and_version(capsys):
    assert importlib.util.find_spec("convviz.__main__") is not None
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"convviz {convviz.__version__}"


def test_animate_writes_an_offline_html_player(tmp_path, capsys):
    out = tmp_path / "lesson.html"
    code = cli.main(["animate", "Conv2D", "--input", "5x5", "--kernel-size", "3", "--numbers",
                     "--filters", "2", "--filter", "1", "--step", "2", "-o", str(out)])
    assert code == 0
    assert "an offline player" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert '"start":2' in text and "filter 1, ch 0" in text


# ----------------------------------------------------------------------------- apply
def test_apply_writes_the_feature_maps_of_a_sample_picture(tmp_path):
    out = tmp_path / "edges.png"
    r = run("apply", "Conv2D", "--image", "zone_plate", "--kernel", "sobel_x", "--strides",
            "2", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert 'keras.layers.Conv2D(filters=1, kernel_size=3, strides=2)' in r.stdout
    # 256 px, kernel 3, valid, stride 2: floor((256 - 3) / 2) + 1 = 127
    assert "input shape:  (1, 256, 256, 1)" in r.stdout
    assert "output shape: (1, 127, 127, 1)" in r.stdout
    assert "wrote" in r.stdout and "1 feature map" in r.stdout
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 100


def test_apply_with_colour_gives_one_map_per_channel_and_reads_a_signal_and_a_volume(
        tmp_path):
    r = run("apply", "DepthwiseConv2D", "--image", "photo", "--rgb", "--fit", "32",
            "--kernel", "gaussian", "--padding", "same", "-o", str(tmp_path / "a.png"))
    assert r.returncode == 0, r.stderr
    assert "output shape: (1, 32, 32, 3)" in r.stdout and "3 feature maps" in r.stdout
    r = run("apply", "Conv1D", "--signal", "chirp", "--kernel", "box_blur", "--kernel-size",
            "5", "-o", str(tmp_path / "s.png"))
    assert r.returncode == 0, r.stderr
    assert "input shape:  (1, 16000, 1)" in r.stdout and "(1, 15996, 1)" in r.stdout
    r = run("apply", "Conv3D", "--volume", "sphere", "--kernel", "laplacian", "--padding",
            "same", "-o", str(tmp_path / "v.png"))
    assert r.returncode == 0, r.stderr
    assert "output shape: (1, 32, 32, 32, 1)" in r.stdout


@pytest.mark.parametrize("args, needle", [
    (["Conv2D", "--signal", "chirp"], "--signal is 1-D data; Conv2D is a 2D layer"),
    (["Conv2D", "--image", "zone_plate", "-o", "x.gif"], "-o must name a .png file"),
    (["Conv2D", "--image", "zone_plate", "--strides", "2", "--dilation-rate", "2"],
     "`strides > 1` not supported in conjunction with `dilation_rate > 1`"),
    (["Conv2D", "--image", "no_such_picture"], "no_such_picture"),
])
def test_apply_refuses_with_exit_code_2_and_a_reason(tmp_path, args, needle):
    if "-o" not in args:
        args = [*args, "-o", str(tmp_path / "x.png")]
    r = run("apply", *args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr and "Traceback" not in r.stderr


def test_apply_refuses_a_text_file_posing_as_a_picture(tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("hello, not a picture\n")
    r = run("apply", "Conv2D", "--image", str(fake), "-o", str(tmp_path / "x.png"))
    assert r.returncode == 2 and "not an image" in r.stderr and "Traceback" not in r.stderr


def test_shape_with_torch_prints_the_pytorch_module_and_its_notes():
    r = run("shape", "Conv2D", "--filters", "8", "--kernel-size", "3", "--strides", "2",
            "--padding", "same", "--input", "None,16,16,3", "--torch")
    assert r.returncode == 0, r.stderr
    # 'same', stride 2 on 16: total pad (8-1)*2 + 3 - 16 = 1, the odd cell at the end
    assert "nn.ZeroPad2d((0, 1, 0, 1))" in r.stdout
    assert "nn.Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(0, 0)" in r.stdout
    assert "1.weight: (8, 3, 3, 3)" in r.stdout and "x.permute(0, 3, 1, 2)" in r.stdout
