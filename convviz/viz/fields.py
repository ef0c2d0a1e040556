"""One field type and one URL codec for every page, and the one grammar the CLI shares.

A :class:`Field` declares one setting once: its URL name, label, kind (``int``, ``bool``,
``choice``, ``span``), default, bounds or choices, help text, the session-state key of its
widget, and (on the family pages) the layers and axis it applies to. :func:`decode` reads a
query (``{name: value or [values]}``) into values with a notice for everything ignored;
:func:`encode` writes the values that differ from the defaults. Both are pure (no
streamlit). One grammar:

- a whole number: an optional sign and at most 18 digits, within ``lo..hi``;
- a boolean: ``1``/``0``, ``true``/``false``, ``yes``/``no``, ``on``/``off`` (any case);
- a choice: the option's text (``"0"`` gives the option ``0``);
- a span: ``a-b`` with ``lo <= a <= b <= hi``;
- a value longer than :data:`MAX_PARAM_LENGTH` is refused unread, and so is a name given
  twice (which value was meant?); at most :data:`MAX_PARAMS` names are read.

And one wording for what is ignored: ```k0` = `-3`: expected a whole number from 1 to 7;
the default is used`` and ```junk` is not a setting of this page``.

>>> k = Field("k0", "Kernel", "int", 3, 1, 7)
>>> values, notices = decode([k, Field("numbers", "Numbers", "bool", True)],
...                          {"k0": "-3", "numbers": "off"})
>>> values
{'k0': 3, 'numbers': False}
>>> notices
['`k0` = `-3`: expected a whole number from 1 to 7; the default is used']
>>> encode([k], {"k0": 5}), encode([k], {"k0": 3})
({'k0': '5'}, {})
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..catalog import BY_NAME
from ..demo import MAX_ANIMATION_SIZE
from ..geometry import AXIS_NAMES

#: Longest query-parameter value read (anything longer is refused unread).
MAX_PARAM_LENGTH = 64
#: Most query-parameter names read from one link (the rest are ignored, with one notice).
MAX_PARAMS = 100
_INT = re.compile(r"[+-]?\d{1,18}")  # any bound a field declares; int() of 18 digits is cheap
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def rank_of(layer: str) -> int:
    """Spatial rank of a layer class, as the catalogue of layers states it:
    ``"Conv3DTranspose"`` -> 3 (ValueError for a name that is no convviz layer)."""
    if layer not in BY_NAME:
        raise ValueError(f"{layer!r} is not a convviz layer; known: {', '.join(BY_NAME)}")
    return BY_NAME[layer].rank


def parse_int(text: str, lo: int, hi: int) -> int:
    """A whole number from ``lo`` to ``hi`` (ValueError saying so otherwise)."""
    text = str(text).strip()
    if not _INT.fullmatch(text) or not lo <= int(text) <= hi:
        raise ValueError(f"expected a whole number from {lo} to {hi}")
    return int(text)


def parse_bool(text: str) -> bool:
    """``1``/``0``, ``true``/``false``, ``yes``/``no``, ``on``/``off``, in any case."""
    t = str(text).strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError("expected 1 or 0 (or true/false, yes/no, on/off)")


def shown(value: Any, limit: int = 40) -> str:
    """``value`` quoted for a notice, cut at ``limit`` characters."""
    text = str(value)
    text = text if len(text) <= limit else text[:limit] + "…"
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


@dataclass(frozen=True)
class Field:
    """One setting, declared once: URL name, label, kind, default, bounds, help, widget key.

    ``kind`` is ``"int"`` (``lo..hi``), ``"bool"``, ``"choice"`` (``choices``, any values,
    matched by their text) or ``"span"`` (a pair ``(a, b)`` in ``lo..hi``). ``state`` is the
    widget's session-state key (default: the URL name). On the family pages ``axis``
    marks a per-axis field (shown only when ``axis < rank``), ``layers`` restricts it to
    some layers, and ``arg`` is False for display options that are not layer arguments.
    """

    key: str
    label: str = ""
    kind: str = "int"
    default: Any = None
    lo: int = 0
    hi: int = 0
    choices: tuple = ()
    axis: int | None = None
    layers: tuple | None = None
    arg: bool = True
    help: str = ""
    state: str | None = None

    @property
    def state_key(self) -> str:
        return self.state or self.key

    def parse(self, raw: Any) -> Any:
        """``raw`` (a query value or a widget value) as this field's value; ValueError with
        what is allowed otherwise."""
        if isinstance(raw, (list, tuple)) and all(isinstance(v, str) for v in raw):
            if len(raw) != 1:  # a query's values for one name: one, or it is ambiguous
                raise ValueError(f"expected one value, got {len(raw)}")
            raw = raw[0]
        elif self.kind == "span" and isinstance(raw, (list, tuple)):
            raw = self.encode(raw)  # a range slider's pair
        text = str(raw).strip()
        if len(text) > MAX_PARAM_LENGTH:
            raise ValueError(f"longer than {MAX_PARAM_LENGTH} characters")
        if self.kind == "int":
            return parse_int(text, self.lo, self.hi)
        if self.kind == "bool":
            return parse_bool(text)
        if self.kind == "span":
            a, sep, b = text.partition("-")
            try:
                start, stop = parse_int(a, self.lo, self.hi), parse_int(b, self.lo, self.hi)
            except ValueError:
                start = stop = None
            if not sep or start is None or start > stop:
                raise ValueError(f"expected a range a-b with {self.lo} <= a <= b <= {self.hi}")
            return start, stop
        by_text = {str(c): c for c in self.choices}
        if text not in by_text:
            raise ValueError("expected one of: " + ", ".join(list(by_text)[:12]))
        return by_text[text]

    def encode(self, value: Any) -> str:
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind == "span":
            return f"{value[0]}-{value[1]}"
        return str(value)

    # --- family pages: where a field applies ----------------------------------------
    def applies(self, layer: str) -> bool:
        if self.layers is not None and layer not in self.layers:
            return False
        return self.axis is None or self.axis < rank_of(layer)

    def choices_for(self, layer: str) -> tuple:
        """The values ``layer`` accepts (``padding="causal"`` only for Conv1D)."""
        if self.key == "padding" and "causal" in self.choices and layer != "Conv1D":
            return tuple(c for c in self.choices if c != "causal")
        return self.choices

    def hi_for(self, layer: str) -> int:
        """Upper bound for ``layer``: an input size stops at what the page can animate."""
        if self.key[:1] == "n" and self.axis is not None:
            return min(self.hi, MAX_ANIMATION_SIZE[rank_of(layer)])
        return self.hi

    def label_for(self, layer: str) -> str:
        if self.axis is None:
            return self.label
        return self.label.format(axis=AXIS_NAMES[rank_of(layer)][self.axis])


def _by_name(fields: Iterable[Field] | Mapping[str, Field]) -> dict[str, Field]:
    return dict(fields) if isinstance(fields, Mapping) else {f.key: f for f in fields}


def read(fields: Iterable[Field] | Mapping[str, Field],
         query: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """``({field key: value}, notices)`` of the settings ``query`` gives validly, and a
    notice for each name that is unknown or whose value is refused.

    ``fields`` is a list of fields (named by their keys) or a ``{URL name: field}`` map.
    """
    named = _by_name(fields)
    values, notices = {}, []
    for name in list(query)[:MAX_PARAMS]:  # (a hostile link may carry thousands)
        raw = query[name]
        if name not in named:
            notices.append(f"{shown(str(name)[:MAX_PARAM_LENGTH])} is not a setting of this page")
            continue
        f = named[name]
        try:
            values[f.key] = f.parse(raw)
        except ValueError as exc:
            many = isinstance(raw, (list, tuple)) and len(raw) != 1
            value = (f"{len(raw)} values" if many else
                     shown(str(raw[0] if isinstance(raw, (list, tuple)) else raw)
                           [:MAX_PARAM_LENGTH]))
            notices.append(f"`{name}` = {value}: {exc}; the default is used")
    return values, notices


def decode(fields: Iterable[Field] | Mapping[str, Field],
           query: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """``({field key: value}, notices)``: every field at its default unless ``query`` gives
    it a valid value (see :func:`read`)."""
    given, notices = read(fields, query)
    return {**{f.key: f.default for f in _by_name(fields).values()}, **given}, notices


def encode(fields: Iterable[Field] | Mapping[str, Field],
           values: Mapping[str, Any]) -> dict[str, str]:
    """``{URL name: text}`` of every field whose value in ``values`` is not its default."""
    return {name: f.encode(values[f.key]) for name, f in _by_name(fields).items()
            if f.key in values and values[f.key] is not None and values[f.key] != f.default}


def on_page(page: str, *fields: Field) -> dict[str, Field]:
    """``{URL name: field}`` with each widget's session key ``"<page>.<name>"`` (unless the
    field names its own): how a page without a family declares its settings."""
    return {f.key: f if f.state else replace(f, state=f"{page}.{f.key}") for f in fields}


__all__ = ["AXIS_NAMES", "Field", "MAX_PARAMS", "MAX_PARAM_LENGTH", "decode", "encode",
           "on_page", "parse_bool", "parse_int", "rank_of", "read", "shown"]
