"""Shareable links for the pages without a :class:`~convviz.viz.schema.Family`.

A page declares its URL parameters as :class:`Param` (session-state key, parser, default)
and makes three calls::

    links.load("lab", PARAMS)          # first run: URL -> st.session_state (with notices)
    ...draw the keyed widgets...
    links.save(PARAMS)                 # every run: st.session_state -> st.query_params
    links.notices("lab")               # "Link parameter ignored: ..." warnings, once

Parsers take the URL's values for one name (a list of strings) and return the widget value
or raise ValueError with the reason. Nothing is evaluated: numbers are read with ``int``,
choices are matched by their text, layer lists by :func:`lab_figures.parse_kwargs`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from .. import catalog, lab
from . import lab_figures as lf

#: Longest URL value that is read at all (longer ones are refused unread).
MAX_VALUE_CHARS = 64
#: Longest ``layers`` value of the stacks page.
MAX_LAYERS_CHARS = 1200
_INT = re.compile(r"[+-]?\d{1,9}")
_ENTRY = re.compile(r"([A-Za-z][A-Za-z0-9]{0,31})\((.*)\)", re.DOTALL)


@dataclass(frozen=True)
class Param:
    """One URL parameter: the widget's session-state key, its parser and its default."""

    key: str
    parse: Callable[[str], Any]
    default: Any
    encode: Callable[[Any], str] = str


def _single(values: Sequence[str], limit: int = MAX_VALUE_CHARS) -> str:
    if len(values) != 1:
        raise ValueError(f"expected one value, got {len(values)}")
    if len(values[0]) > limit:
        raise ValueError(f"longer than {limit} characters")
    return values[0].strip()


def integer(lo: int, hi: int) -> Callable[[str], int]:
    """Parser of a whole number from ``lo`` to ``hi``."""

    def parse(text: str) -> int:
        if not _INT.fullmatch(text) or not lo <= int(text) <= hi:
            raise ValueError(f"expected a whole number from {lo} to {hi}")
        return int(text)

    return parse


def choice(options: Sequence) -> Callable[[str], Any]:
    """Parser of one of ``options``, matched by its text (``"0"`` gives the option ``0``)."""
    by_text = {str(option): option for option in options}

    def parse(text: str):
        if text not in by_text:
            shown = ", ".join(list(by_text)[:12])
            raise ValueError(f"expected one of: {shown}")
        return by_text[text]

    return parse


def boolean(text: str) -> bool:
    """Parser of ``1``/``0`` (also ``true``/``false``)."""
    value = {"1": True, "true": True, "0": False, "false": False}.get(text.lower())
    if value is None:
        raise ValueError("expected 1 or 0")
    return value


def encode_bool(value: bool) -> str:
    return "1" if value else "0"


def span(lo: int, hi: int) -> Callable[[str], tuple[int, int]]:
    """Parser of a range ``a-b`` with ``lo <= a <= b <= hi``."""
    number = integer(lo, hi)

    def parse(text: str) -> tuple[int, int]:
        a, sep, b = text.partition("-")
        try:
            start, stop = number(a), number(b)
        except ValueError:
            start = stop = None
        if not sep or start is None or start > stop:
            raise ValueError(f"expected a range a-b with {lo} <= a <= b <= {hi}")
        return start, stop

    return parse


def encode_span(value: Sequence[int]) -> str:
    return f"{value[0]}-{value[1]}"


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
            dropped.append(f"`layers` entry {i} {_shown(part)}: {exc}")
    return entries, dropped


def _shown(value: str) -> str:
    text = value if len(value) <= 40 else value[:40] + "…"
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


def read(params: Mapping[str, Param], query: Mapping[str, Sequence[str]],
         ignore: Sequence[str] = ()) -> tuple[dict, list[str]]:
    """``({session key: value}, notices)`` from a query dict; no streamlit involved."""
    values, notices = {}, []
    for name, raw in query.items():
        if name in ignore:
            continue
        if name not in params:
            notices.append(f"{_shown(name[:MAX_VALUE_CHARS])} is not a setting of this page")
            continue
        try:
            values[params[name].key] = params[name].parse(_single(raw))
        except ValueError as exc:
            shown = _shown(raw[0][:MAX_VALUE_CHARS]) if len(raw) == 1 else f"{len(raw)} values"
            notices.append(f"`{name}` = {shown}: {exc}; the default is used")
    return values, notices


def query() -> dict[str, list[str]]:
    """A copy of the page's URL parameters, every name with all its values."""
    return {name: st.query_params.get_all(name) for name in st.query_params}


def load(page: str, params: Mapping[str, Param], layers_key: str | None = None) -> bool:
    """Give every widget of ``params`` its default; on the page's first run, the URL's values.

    Returns True on that first run. Invalid or unknown parameters become notices for
    :func:`notices`. With ``layers_key``, the ``layers`` parameter (:func:`encode_layers`)
    is read into that session-state key (unless no entry of it is valid).
    """
    # Every run: a widget takes its default from here, never also from a value= argument
    # (Streamlit warns when both are set), and one not drawn last run gets it back.
    fresh = {p.key for p in params.values()
             if p.default is not None and p.key not in st.session_state}
    for param in params.values():
        if param.default is not None:
            st.session_state.setdefault(param.key, param.default)
    st.session_state[f"{page}._defaulted"] = fresh  # what no one chose (see :func:`fit`)
    flag = f"{page}._link_loaded"
    if st.session_state.get(flag):
        return False
    st.session_state[flag] = True
    raw = query()
    values, found = read(params, raw, ("layers",) if layers_key else ())
    if layers_key and "layers" in raw:
        try:
            text = _single(raw["layers"], MAX_LAYERS_CHARS)
            entries, dropped = parse_layers(text) if text else ([], [])
        except ValueError as exc:
            entries, dropped = [], [f"`layers`: {exc}; the default is used"]
        if entries or not dropped:
            values[layers_key] = entries
        found.extend(dropped)
    for key, value in values.items():
        st.session_state[key] = value
    st.session_state[f"{page}._defaulted"] = fresh - set(values)
    add_notices(page, found)
    return True


def add_notices(page: str, found: Sequence[str]) -> None:
    st.session_state.setdefault(f"{page}._link_notices", []).extend(found)


def fit(page: str, key: str, options: Sequence, why: str, notify: bool) -> None:
    """Drop ``key``'s value if it is not one of ``options`` now (a notice if ``notify``)."""
    if key in st.session_state and st.session_state[key] not in options:
        value = st.session_state.pop(key)
        if notify and key not in st.session_state.get(f"{page}._defaulted", ()):
            add_notices(page, [f"{_shown(str(value))} {why}; the default is used"])


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


def per_axis(params: Mapping[str, Param], rank: int) -> dict[str, Param]:
    """``params`` without the per-axis ones (``n2``, ``o2``...) of axes ``>= rank``.

    >>> sorted(per_axis({"n0": 1, "n1": 1, "n2": 1, "channels": 1}, 2))
    ['channels', 'n0', 'n1']
    """
    return {k: p for k, p in params.items()
            if not (len(k) == 2 and k[1].isdigit() and int(k[1]) >= rank)}


def save(params: Mapping[str, Param], extra: Mapping[str, str] | None = None) -> None:
    """Write every non-default widget value (and ``extra``) to the URL, replacing the rest."""
    out = {}
    for name, param in params.items():
        if param.key in st.session_state:
            value = st.session_state[param.key]
            if value != param.default:
                out[name] = param.encode(value)
    out.update(extra or {})
    st.query_params.from_dict(out)


__all__ = ["Param", "add_notices", "boolean", "choice", "encode_bool", "encode_layers",
           "encode_span", "fit", "integer", "load", "notices", "parse_layers", "query", "read",
           "save", "span"]
