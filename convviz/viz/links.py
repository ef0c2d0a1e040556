"""Shareable links for the pages without a :class:`~convviz.viz.schema.Family`.

A page declares its settings once, as :class:`~convviz.viz.fields.Field` s (the one field
type and URL codec of every page), and makes three calls::

    P = fields.on_page("lab", Field("n", "Input length", "int", 12, 1, 64), ...)
    links.load("lab", P)               # first run: URL -> st.session_state (with notices)
    ...draw the widgets...             # links.widget(P["n"]) draws a field from P
    links.save(P)                      # every run: st.session_state -> st.query_params
    links.notices("lab")               # "Link parameter ignored: ..." warnings, once

Nothing is evaluated: numbers are read with the codec's grammar, choices are matched by
their text, layer lists by :func:`lab_figures.parse_kwargs`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import streamlit as st

from .. import catalog, lab
from . import fields as codec
from . import lab_figures as lf
from .fields import Field

#: Longest ``layers`` value of the stacks page.
MAX_LAYERS_CHARS = 1200
_ENTRY = re.compile(r"([A-Za-z][A-Za-z0-9]{0,31})\((.*)\)", re.DOTALL)


def encode_layers(entries: Sequence[tuple[str, Mapping]]) -> str:
    """The stacks page's layers as one compact value: ``Conv2D(4,3);Conv2D(4,3,strides=2)``."""
    return ";".join(lab.short_call(name, kw).replace(" ", "") for name, kw in entries)


def parse_layers(text: str) -> tuple[list, list[str]]:
    """Layers from :func:`encode_layers`'s text: ``(entries, reasons for dropped entries)``."""
    if len(text) > MAX_LAYERS_CHARS:
        return [], [f"`layers` is longer than {MAX_LAYERS_CHARS} characters"]
    entries, dropped = [], []
    for i, part in enumerate(p.strip() for p in text.split(";")):
        match = _ENTRY.fullmatch(part)
        try:
            if len(entries) >= lf.MAX_LAYERS:
                raise ValueError(f"at most {lf.MAX_LAYERS} layers")
            if match is None or match[1] not in catalog.BY_NAME:
                raise ValueError("expected a layer call such as Conv2D(4,3,strides=2)")
            entries.append((match[1], lf.parse_kwargs(match[2], match[1])))
        except ValueError as exc:
            dropped.append(f"`layers` entry {i} {codec.shown(part)}: {exc}")
    return entries, dropped


def read(params: Mapping[str, Field], query: Mapping[str, Sequence[str]],
         ignore: Sequence[str] = ()) -> tuple[dict, list[str]]:
    """``({session key: value}, notices)`` of the settings the query gives (the codec's
    :func:`~convviz.viz.fields.read`); no streamlit involved."""
    given, notices = codec.read(params, {n: v for n, v in query.items() if n not in ignore})
    return {f.state_key: given[f.key] for f in params.values() if f.key in given}, notices


def query() -> dict[str, list[str]]:
    """A copy of the page's URL parameters, every name with all its values."""
    return {name: st.query_params.get_all(name) for name in st.query_params}


def load(page: str, params: Mapping[str, Field], layers_key: str | None = None,
         keep: bool = False) -> bool:
    """Give every widget of ``params`` its default; on the page's first run, the URL's values.

    Returns True on that first run. Invalid or unknown parameters become notices for
    :func:`notices`. With ``layers_key``, the ``layers`` parameter (:func:`encode_layers`)
    is read into that session-state key (unless no entry of it is valid). With ``keep``, a
    widget the last run did not draw keeps its value (a page whose parts draw different
    widgets but share settings, and whose link carries them all).
    """
    if keep:  # re-set: Streamlit forgets the value of a widget a run does not draw
        for param in params.values():
            if param.state_key in st.session_state:
                st.session_state[param.state_key] = st.session_state[param.state_key]
    # Every run: a widget takes its default from here, never also from a value= argument
    # (Streamlit warns when both are set), and one not drawn last run gets it back.
    fresh = {p.state_key for p in params.values()
             if p.default is not None and p.state_key not in st.session_state}
    for param in params.values():
        if param.default is not None:
            st.session_state.setdefault(param.state_key, param.default)
    st.session_state[f"{page}._defaulted"] = fresh  # what no one chose (see :func:`fit`)
    flag = f"{page}._link_loaded"
    if st.session_state.get(flag):
        return False
    st.session_state[flag] = True
    raw = query()
    values, found = read(params, raw, ("layers",) if layers_key else ())
    if layers_key and "layers" in raw:
        if len(raw["layers"]) == 1:
            text = raw["layers"][0].strip()
            entries, dropped = parse_layers(text) if text else ([], [])
        else:  # the codec's rule for every name: one value, or it is ambiguous
            entries, dropped = [], [f"`layers` = {len(raw['layers'])} values: expected one "
                                    "value; the default is used"]
        if entries or not dropped:
            values[layers_key] = entries
        found.extend(dropped)
    for key, value in values.items():
        st.session_state[key] = value
    st.session_state[f"{page}._defaulted"] = fresh - set(values)
    add_notices(page, found)
    return True


def widget(field: Field, where=None, label: str | None = None, control: str | None = None,
           hi: int | None = None, **options):
    """Draw ``field``'s widget (bounds, choices and help from the field, its value in
    session state under ``field.state_key``): an int is a slider (``control="number"``: a
    number input), a bool a toggle (``control="checkbox"``), a choice a selectbox
    (``control="radio"``: a row of radio buttons), a span a range slider. The one place a
    link page's widget is made. ``hi`` lowers an int's top for this run (e.g. to the
    output's size); the link still accepts up to the field's."""
    where = where or st
    label = label or field.label
    common = dict(key=field.state_key, help=field.help or None, **options)
    if field.kind == "bool":
        return (where.checkbox if control == "checkbox" else where.toggle)(label, **common)
    if field.kind == "choice":
        if control == "radio":
            return where.radio(label, field.choices, horizontal=True, **common)
        return where.selectbox(label, field.choices, **common)
    if control == "number":
        return where.number_input(label, min_value=field.lo, max_value=field.hi, step=1,
                                  **common)
    top = field.hi if hi is None else min(field.hi, hi)
    return where.slider(label, field.lo, top, **common)  # int, or span (a pair)


def add_notices(page: str, found: Sequence[str]) -> None:
    st.session_state.setdefault(f"{page}._link_notices", []).extend(found)


def fit(page: str, key: str, options: Sequence, why: str, notify: bool) -> None:
    """Drop ``key``'s value if it is not one of ``options`` now (a notice if ``notify``)."""
    if key in st.session_state and st.session_state[key] not in options:
        value = st.session_state.pop(key)
        if notify and key not in st.session_state.get(f"{page}._defaulted", ()):
            add_notices(page, [f"{codec.shown(value)} {why}; the default is used"])


#: Most ignored link parameters a notice names.
MAX_LISTED_NOTICES = 5


def show_notices(found: Sequence[str], where=None) -> None:
    """All the link parameters that were ignored, in one compact warning (never one each)."""
    found = list(found)
    if not found:
        return
    more = len(found) - MAX_LISTED_NOTICES
    text = "; ".join(found[:MAX_LISTED_NOTICES]) + (f"; and {more} more" if more > 0 else "")
    (where or st).warning(f"{len(found)} link parameter{'s' * (len(found) != 1)} ignored: "
                          f"{text}.", icon=":material/link_off:")


def notices(page: str, where=None) -> None:
    """Show (once) the ignored link parameters as one warning, in ``where`` if given."""
    show_notices(st.session_state.pop(f"{page}._link_notices", []), where)


def layers_param(entries, default) -> dict[str, str]:
    """``{"layers": ...}`` for a link, or nothing when ``entries`` are the page's default."""
    return {} if list(entries) == list(default) else {"layers": encode_layers(entries)}


def per_axis(params: Mapping[str, Field], rank: int) -> dict[str, Field]:
    """``params`` without the per-axis ones (``n2``, ``o2``...) of axes ``>= rank``.

    >>> sorted(per_axis({"n0": 1, "n1": 1, "n2": 1, "channels": 1}, 2))
    ['channels', 'n0', 'n1']
    """
    return {k: p for k, p in params.items()
            if not (len(k) == 2 and k[1].isdigit() and int(k[1]) >= rank)}


def save(params: Mapping[str, Field], extra: Mapping[str, str] | None = None) -> None:
    """Write every non-default widget value (and ``extra``) to the URL, replacing the rest."""
    state = {p.key: st.session_state[p.state_key] for p in params.values()
             if p.state_key in st.session_state}
    st.query_params.from_dict({**codec.encode(params, state), **(extra or {})})


__all__ = ["add_notices", "encode_layers", "fit", "load", "notices", "parse_layers", "query",
           "read", "save", "widget"]
