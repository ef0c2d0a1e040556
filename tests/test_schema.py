"""The family pages' schema and URL state (convviz/viz/schema.py), without Streamlit:
every layer has a page, defaults build, encode/decode round trips, fuzzed query strings never
raise, and each page's shell command reproduces it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convviz
from convviz.demo import run
from convviz.viz import scene, schema, view


def test_every_layer_has_a_family_page():
    covered = {name for fam in schema.FAMILY_PAGES.values() for name in fam.layers}
    assert covered == set(convviz.LAYERS)


@pytest.mark.parametrize("family", list(schema.FAMILY_PAGES))
def test_defaults_build_and_are_small(family):
    fam = schema.FAMILY_PAGES[family]
    for layer in fam.layers:
        values = {**fam.defaults(), "layer": layer}
        spec = schema.spec_from_values(fam, values)
        v = view.build(spec)
        assert v.error is None, (layer, v.error)
        assert all(n <= 8 for n in spec.spatial)


@pytest.mark.parametrize("family", list(schema.FAMILY_PAGES))
def test_encode_decode_round_trip(family):
    fam = schema.FAMILY_PAGES[family]
    rng = np.random.default_rng(0)
    for _ in range(20):
        values = fam.defaults()
        layer = values["layer"] = str(rng.choice(fam.layers))
        for f in fam.fields:  # within what this layer accepts
            if f.key == "layer":
                continue
            if f.kind == "int":
                values[f.key] = int(rng.integers(f.lo, f.hi_for(layer) + 1))
            elif f.kind == "bool":
                values[f.key] = bool(rng.integers(2))
            else:
                values[f.key] = str(rng.choice(f.choices_for(layer)))
        values["step"] = int(rng.integers(0, 9))
        decoded, notices = schema.decode(fam, schema.encode(fam, values))
        assert decoded["layer"] == layer
        assert notices == []
        active = {f.key for f in fam.active(values["layer"])}
        assert {k: decoded[k] for k in active} == {k: values[k] for k in active}
        assert decoded.get("step", 0) == values["step"]


@given(st.dictionaries(st.text(max_size=30), st.one_of(st.text(max_size=80),
                                                       st.lists(st.text(max_size=10)))))
@settings(max_examples=200, deadline=None)
def test_fuzzed_query_strings_never_raise(params):
    for fam in schema.FAMILY_PAGES.values():
        values, notices = schema.decode(fam, params)
        assert values["layer"] in fam.layers
        schema.spec_from_values(fam, values)  # always a well-formed spec


@pytest.mark.parametrize("family", list(schema.FAMILY_PAGES))
def test_the_pages_shell_command_reproduces_the_page(family, tmp_path, capsys):
    """The `convviz animate` line each page shows renders the same configuration."""
    import io
    import shlex

    from PIL import Image

    from convviz import cli, export, gallery

    fam = schema.FAMILY_PAGES[family]
    for layer in fam.layers:
        values = {**fam.defaults(), "layer": layer, "data_format": "channels_first"}
        spec = schema.spec_from_values(fam, values)
        out = tmp_path / f"{layer}.png"
        command = gallery.animate_command(spec, numbers=True, output=str(out))
        assert cli.main(shlex.split(command)[1:] + ["--step", "0"]) == 0, command
        args, extras = cli.build_parser().parse_known_args(shlex.split(command)[1:])
        parsed = cli.animation_spec(args, extras)
        # the same layer (Keras's defaults written out), input and picture
        unnamed = [{k: v for k, v in s.build().get_config().items() if k != "name"}
                   for s in (parsed, spec)]
        assert unnamed[0] == unnamed[1]
        assert (parsed.spatial, parsed.channels) == (spec.spatial, spec.channels)
        ours, theirs = (scene.build(run(s), numbers=True) for s in (spec, parsed))
        assert [p.title for p in ours.panels] == [p.title for p in theirs.panels]
        assert [list(p.text) for p in ours.panels] == [list(p.text) for p in theirs.panels]
        with Image.open(out) as img:
            expected = Image.open(io.BytesIO(export.png_bytes(parsed, 0, numbers=True)))
            assert img.size == expected.size
            assert np.array_equal(np.asarray(img.convert("RGB")),
                                  np.asarray(expected.convert("RGB")))
