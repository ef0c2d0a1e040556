"""The one field type and URL codec: its grammar, and every field of every page round-trips."""

from __future__ import annotations

import pytest

from convviz import cli
from convviz.viz import fields, page_fields, schema
from convviz.viz.fields import Field

INT = Field("k", "k", "int", 3, 1, 7)
BOOL = Field("b", "b", "bool", True)
CHOICE = Field("c", "c", "choice", 2, choices=(1, 2, 3, "None"))
SPAN = Field("r", "r", "span", (1, 6), 0, 8)


@pytest.mark.parametrize("field,text,want", [
    (INT, "5", 5), (INT, " 7 ", 7), (INT, "+1", 1), (INT, ["4"], 4),
    (BOOL, "1", True), (BOOL, "0", False), (BOOL, "TRUE", True), (BOOL, "false", False),
    (BOOL, "yes", True), (BOOL, "No", False), (BOOL, "on", True), (BOOL, "off", False),
    (CHOICE, "3", 3), (CHOICE, "None", "None"),
    (SPAN, "2-5", (2, 5)), (SPAN, "0-0", (0, 0)), (SPAN, (2, 3), (2, 3)),
])
def test_the_grammar_reads(field, text, want):
    assert field.parse(text) == want
    assert field.parse(field.encode(want)) == want  # and writes what it reads


@pytest.mark.parametrize("field,text,reason", [
    (INT, "8", "from 1 to 7"), (INT, "0", "from 1 to 7"), (INT, "1e3", "whole number"),
    (INT, "3.0", "whole number"), (INT, "", "whole number"), (INT, "1" * 10, "whole number"),
    (INT, ["3", "4"], "expected one value, got 2"), (INT, "9" * 70, "longer than 64"),
    (BOOL, "maybe", "expected 1 or 0"), (BOOL, "2", "expected 1 or 0"),
    (CHOICE, "4", "expected one of: 1, 2, 3, None"), (CHOICE, "none", "expected one of"),
    (SPAN, "5-2", "a-b with 0 <= a <= b <= 8"), (SPAN, "3", "a-b"), (SPAN, "1-9", "a-b"),
])
def test_the_grammar_refuses_with_what_is_allowed(field, text, reason):
    with pytest.raises(ValueError, match=reason.replace("(", r"\(")):
        field.parse(text)


def test_decode_keeps_defaults_and_words_every_notice_one_way():
    values, notices = fields.decode([INT, BOOL, SPAN],
                                    {"k": "-3", "b": "off", "zz": "1", "r": ["1-2", "3-4"]})
    assert values == {"k": 3, "b": False, "r": (1, 6)}
    assert notices == [
        "`k` = `-3`: expected a whole number from 1 to 7; the default is used",
        "`zz` is not a setting of this page",
        "`r` = 2 values: expected one value, got 2; the default is used"]
    assert fields.encode([INT, BOOL, SPAN], values) == {"b": "0"}


def test_the_cli_speaks_the_same_booleans():
    for text in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        assert cli.parse_bool(text) == fields.parse_bool(text)
    with pytest.raises(cli.CLIError, match="expected 1 or 0"):
        cli.parse_bool("maybe")


def _other(f: Field):
    """A valid value of ``f`` that is not its default."""
    if f.kind == "bool":
        return not f.default
    if f.kind == "choice":
        return next(c for c in f.choices if c != f.default)
    if f.kind == "span":
        return (f.lo, f.lo) if f.default != (f.lo, f.lo) else (f.hi, f.hi)
    return f.hi if f.default != f.hi else f.lo


PAGE_FIELDS = [(page, name, f) for page, fs in page_fields.PAGES.items()
               for name, f in fs.items()]
FAMILY_FIELDS = [(fam.key, f.key, f) for fam in schema.FAMILY_PAGES.values() for f in fam.fields]


@pytest.mark.parametrize("page,name,f", PAGE_FIELDS + FAMILY_FIELDS,
                         ids=[f"{p}.{n}" for p, n, _ in PAGE_FIELDS + FAMILY_FIELDS])
def test_every_field_of_every_page_round_trips_through_the_url(page, name, f):
    value = _other(f)
    query = fields.encode({name: f}, {f.key: value})
    assert set(query) == {name}
    got, notices = fields.read({name: f}, {k: [v] for k, v in query.items()})
    assert not notices and got == {f.key: value}


def test_link_pages_declare_each_widget_key_once():
    for page, fs in page_fields.PAGES.items():
        keys = [f.state_key for f in fs.values()]
        assert len(keys) == len(set(keys)), page
