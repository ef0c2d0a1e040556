"""The convolution-arithmetic gallery (convviz.gallery): its cases, the GIFs and README it
writes, and the file names of exports."""

from PIL import Image

from convviz import export, gallery
from convviz.demo import Spec


def gif_frame_count(path) -> int:
    with Image.open(path) as im:
        assert im.format == "GIF"
        return im.n_frames


def test_gallery_cases_are_valid_and_small():
    slugs = [case.slug for case in gallery.GALLERY]
    assert len(set(slugs)) == len(slugs) >= 9
    for case in gallery.GALLERY:
        sample = export.padded_sample(case.spec, case.pre_padding)
        trace = (sample.layer.trace(sample.spec.input_shape, view="scatter")
                 if case.view == "scatter" else sample.trace)
        assert 1 <= len(trace) <= export.MAX_FRAMES


def test_gallery_guide_shapes():
    by = {case.slug: case for case in gallery.GALLERY}

    def out(slug):
        case = by[slug]
        return export.padded_sample(case.spec, case.pre_padding).trace.out_shape

    assert out("no_padding_no_strides") == (2, 2)
    assert out("arbitrary_padding_no_strides") == (6, 6)
    assert out("same_padding_no_strides") == (5, 5)
    assert out("full_padding_no_strides") == (7, 7)
    assert out("no_padding_strides") == (2, 2)
    assert out("padding_strides") == (3, 3)
    assert out("no_padding_no_strides_transposed") == (4, 4)
    assert out("no_padding_strides_transposed") == (5, 5)
    assert out("dilation") == (3, 3)


def test_gallery_writes_gifs_and_readme(tmp_path):
    cases = [c for c in gallery.GALLERY
             if c.slug in ("no_padding_no_strides", "no_padding_strides_transposed_scatter")]
    paths = gallery.gallery(tmp_path / "g", cases=cases)
    assert [p.name for p in paths] == ["no_padding_no_strides.gif",
                                       "no_padding_strides_transposed_scatter.gif"]
    assert gif_frame_count(paths[0]) == 4
    assert gif_frame_count(paths[1]) == 9
    readme = (tmp_path / "g" / "README.md").read_text()
    for p in paths:
        assert f"]({p.name})" in readme
    assert "convviz animate Conv2D --input 4x4 --kernel-size 3" in readme


def test_file_names_name_the_whole_configuration():
    base = {"filters": 1, "kernel_size": 3}
    specs = [Spec("Conv2D", base, (5, 5)),
             Spec("Conv2D", {**base, "strides": 2}, (5, 5)),
             Spec("Conv2D", {**base, "padding": "same"}, (5, 5)),
             Spec("Conv2D", {**base, "dilation_rate": 2}, (5, 5)),
             Spec("Conv2D", base, (5, 5), channels=2),
             Spec("Conv2D", {**base, "data_format": "channels_first"}, (5, 5)),
             Spec("Cropping2D", {"cropping": ((1, 0), (2, 2))}, (5, 6)),
             Spec("Cropping2D", {"cropping": ((1, 2), (0, 2))}, (5, 6))]
    stems = [gallery.file_stem(s) for s in specs]
    assert len(set(stems)) == len(stems), stems
    assert stems[1] == "Conv2D_5x5x1_f1_k3_s2" and stems[2] == "Conv2D_5x5x1_f1_k3_same"
    assert stems[6] == "Cropping2D_5x6x1_crop1-0_2-2"
    assert gallery.file_stem(specs[0], view="scatter", filter=2).endswith("_scatter_filter2")
    assert all(ch.isalnum() or ch in "_-x" for ch in "".join(stems))
