"""Grading free-text answers leniently, and keeping a score of first tries.

>>> from convviz.lab.quiz import generate
>>> q = generate(seed=7, difficulty=1, kind="output_shape")
>>> check(q, catalog.format_shape(q.answer)).correct
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from .. import catalog, layout
from .quiz import Question, format_cells, format_index


@dataclass(frozen=True)
class Feedback:
    """The grade of one answer: ``correct``, the expected answer as text, and a message."""

    correct: bool
    expected: str
    message: str
    given: str | None = None


@dataclass(frozen=True)
class Score:
    """A running score of first tries; :meth:`record` and :meth:`answer` return a new
    Score (nothing is mutated).

    >>> Score().record(True).record(True).record(False).record(True)
    Score(asked=4, correct=3, streak=1, best_streak=2)
    >>> Score().answer("q1", False).answer("q1", True).answer("q2", True)
    Score(asked=2, correct=1, streak=1, best_streak=1)
    """

    asked: int = 0
    correct: int = 0
    streak: int = 0
    best_streak: int = 0
    #: The question last recorded: checking it again does not count twice.
    last_question: Any = field(default=None, repr=False, compare=False)

    def record(self, correct: bool) -> Score:
        streak = self.streak + 1 if correct else 0
        return Score(self.asked + 1, self.correct + int(bool(correct)), streak,
                     max(self.best_streak, streak), self.last_question)

    def answer(self, question: Any, correct: bool) -> Score:
        """The score after an answer to ``question`` (any hashable id): only the first
        answer to a question counts; a second check of the same one leaves it unchanged."""
        if question is not None and question == self.last_question:
            return self
        return replace(self.record(correct), last_question=question)

    @property
    def accuracy(self) -> float:
        """Fraction answered correctly (0.0 before any question)."""
        return self.correct / self.asked if self.asked else 0.0


# ----------------------------------------------------------------------------- answers
_NONE_WORDS = {"none", "null", "nil", "?", "batch"}
_MAX_DIGITS = 12
_BAD = object()


def _int(token: str):
    return int(token) if len(token) <= _MAX_DIGITS else _BAD


def _shape_tokens(text: str) -> list:
    """Integers and None markers of a free-text shape, in order; words are ignored.

    ``"(None, 8, 8, 4)"``, ``"None,8,8,4"``, ``"[?, 8, 8, 4]"``, ``"8x8x4"`` all read.
    """
    text = str(text).replace("×", "x")
    tokens: list = []
    for word in re.findall(r"[A-Za-z0-9_?]+", text):
        low = word.lower()
        if word.isdigit():
            tokens.append(_int(word))
        elif re.fullmatch(r"\d+(?:[xX]\d+)+", word):
            tokens.extend(_int(t) for t in re.split(r"[xX]", word))
        elif low in _NONE_WORDS:
            tokens.append(None)
    return tokens


def parse_shape(text: str) -> tuple | None:
    """A shape read leniently from free text (None when nothing readable; never raises).

    >>> parse_shape("(None, 8, 8, 4)"), parse_shape("None,8,8,4"), parse_shape("8 x 8 x 4")
    ((None, 8, 8, 4), (None, 8, 8, 4), (8, 8, 4))
    >>> parse_shape("no idea") is None
    True
    """
    try:
        tokens = _shape_tokens(text)
    except Exception:  # noqa: BLE001 - free text must never raise
        return None
    if not tokens or any(t is _BAD for t in tokens):
        return None
    return tuple(tokens)


def _ints(text: str) -> list:
    return [_int(t) for t in re.findall(r"\d+", text)]


def parse_cells(text: str, rank: int) -> frozenset | None:
    """Spatial coordinates read leniently from free text (None when unreadable; never raises).

    Accepted: groups in brackets ``"(0,0) (0,1)"`` / ``"[(0, 0), (0, 1)]"``; groups split by
    ``;`` or new lines ``"0,0; 0,1"``; bare integers taken ``rank`` at a time
    ``"0 0 0 1"`` (for 1D simply ``"3 4 5"``); ``"none"`` / ``"nothing"`` for no cell.

    >>> sorted(parse_cells("(0,0) (0,1)", 2)) == sorted(parse_cells("0,0; 0,1", 2))
    True
    >>> sorted(parse_cells("[3, 4, 5]", 1))
    [(3,), (4,), (5,)]
    """
    try:
        return _parse_cells(str(text), int(rank))
    except Exception:  # noqa: BLE001 - free text must never raise
        return None


def _parse_cells(text: str, rank: int) -> frozenset | None:
    groups = re.findall(r"[(\[{]([^()\[\]{}]*)[)\]}]", text)
    if not [g for g in groups if re.search(r"\d", g)]:
        groups = [g for g in re.split(r"[;\n|]+", text) if re.search(r"\d", g)]
        if len(groups) <= 1:
            groups = [text]
    cells = []
    for group in groups:
        values = _ints(group)
        if not values:
            continue
        if any(v is _BAD for v in values) or len(values) % rank:
            return None
        cells.extend(tuple(values[i:i + rank]) for i in range(0, len(values), rank))
    if not cells:
        words = set(re.findall(r"[a-z]+", text.lower()))
        empty = {"none", "nothing", "empty", "no"} & words or text.strip() in ("{}", "[]", "()",
                                                                             "∅")
        return frozenset() if empty else None
    return frozenset(cells)


def parse_int(text: str) -> int | None:
    """One integer from free text, thousands separators allowed (None if not exactly one).

    >>> parse_int("1,792 params"), parse_int("1 792"), parse_int("1792"), parse_int("12 or 13")
    (1792, 1792, 1792, None)
    """
    try:
        joined = re.sub(r"(?<=\d)[,_' ](?=\d{3}(?!\d))", "", str(text))
        values = _ints(joined)
    except Exception:  # noqa: BLE001 - free text must never raise
        return None
    if len(values) != 1 or values[0] is _BAD:
        return None
    return values[0]


def _check_shape(q: Question, text: str) -> Feedback:
    expected = q.expected
    given = parse_shape(text)
    if given is None:
        return Feedback(False, expected, "Could not read a shape. Write it like "
                        f"{catalog.format_shape((None, 8, 8, 4))}.")
    answer = tuple(q.answer)
    shown = catalog.format_shape(given)
    if given == answer or (None not in given and given == answer[1:]):
        return Feedback(True, expected, f"Correct: {expected}.", shown)
    fmt = "channels_first" if any(kw.get("data_format") == "channels_first"
                                  for _, kw in q.entries) else "channels_last"
    spatial = layout.spatial(answer, fmt)
    if tuple(v for v in given if v is not None) == spatial:
        msg = "The spatial lengths are right, but the shape also has the batch and channel axes."
    elif len(given) == len(answer) and given[1:] == answer[1:]:
        msg = "The batch axis stays None: the layer does not fix the batch size."
    elif len(given) == len(answer) and sorted(map(str, given)) == sorted(map(str, answer)):
        msg = f"Right numbers, wrong order: this layer uses {fmt}."
    elif len(given) not in (len(answer), len(answer) - 1):
        msg = (f"The output has {len(answer)} axes (batch, {len(spatial)} spatial, channels); "
               f"you gave {len(given)}.")
    else:
        msg = "Not quite."
    return Feedback(False, expected, f"{msg} The output shape is {expected}.", shown)


def _check_reads(q: Question, text: str) -> Feedback:
    expected = q.expected
    given = parse_cells(text, q.rank)
    example = "3 4 5" if q.rank == 1 else "(0, 0) (0, 1)"
    if given is None:
        return Feedback(False, expected, f"Could not read the cells. Write them like {example}, "
                        "or 'none'.")
    answer = frozenset(q.answer)
    shown = format_cells(sorted(given), q.rank)
    if given == answer:
        return Feedback(True, expected, f"Correct: {len(answer)} input cells.", shown)
    missing, extra = sorted(answer - given), sorted(given - answer)
    parts = []

    def cells(found):  # "cell 3", "cells (0, 1) (2, 2)": never a bare number
        return f"cell{'s' * (len(found) != 1)} {format_cells(found, q.rank)}"

    if missing:
        parts.append(f"you missed {cells(missing)}")
    if extra:
        parts.append(f"{cells(extra)} {'is' if len(extra) == 1 else 'are'} not read")
    return Feedback(False, expected, f"Not quite: {'; '.join(parts)}. Output "
                    f"{format_index(q.out_index)} reads {expected}.", shown)


def _check_params(q: Question, text: str) -> Feedback:
    expected = q.expected
    given = parse_int(text)
    if given is None:
        return Feedback(False, expected, "Could not read one whole number, e.g. 1792.")
    if given == q.answer:
        return Feedback(True, expected, f"Correct: {expected} parameters.", str(given))
    return Feedback(False, expected, f"Not quite: the layer has {expected} parameters.",
                    str(given))


def check(question: Question, answer_text: str) -> Feedback:
    """Grade a free-text answer; never raises, whatever the text.

    Accepted spellings
    ------------------
    ``output_shape``: the full shape, batch written ``None`` (or ``?``/``null``/``batch``),
    any brackets and separators (``"(None, 8, 8, 4)"``, ``"None,8,8,4"``, ``"[?, 8, 8, 4]"``),
    or the shape without the batch axis (``"8, 8, 4"``, ``"8x8x4"``). Spatial lengths alone
    are *not* accepted: where the channels go is part of the answer (channels_first).
    ``reads``: see :func:`parse_cells`; order and repetitions do not matter.
    ``params``: one integer, thousands separators allowed (``"1,792"``).

    >>> from convviz.lab.quiz import generate
    >>> q = generate(0, 1, "output_shape")
    >>> [check(q, t).correct for t in (str(q.answer), q.expected.replace(" ", ""), "1 2 3")]
    [True, True, False]
    """
    text = "" if answer_text is None else str(answer_text)
    grader = {"output_shape": _check_shape, "reads": _check_reads, "params": _check_params}
    return grader[question.kind](question, text)
