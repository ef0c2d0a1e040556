"""Shape lab: sweep one argument against the engine, and generated shape questions.

Pure Python for the shape-lab page (no streamlit here), in three modules:

* :mod:`~convviz.lab.sweeps`: :func:`sweep` varies one argument over a range and puts the
  formula's prediction next to the output length of a real forward pass of the engine;
* :mod:`~convviz.lab.quiz`: :func:`generate` makes a deterministic question from a seed
  and a difficulty (output shape, which input cells an output cell reads, or the
  parameter count), with its derivation;
* :mod:`~convviz.lab.answers`: :func:`check` grades free-text answers leniently;
  :class:`Score` keeps a running score of first tries.

>>> q = generate(seed=7, difficulty=1, kind="output_shape")
>>> check(q, catalog.format_shape(q.answer)).correct
True
"""

from .. import catalog
from .answers import Feedback, Score, check, parse_cells, parse_int, parse_shape
from .quiz import DIFFICULTIES, KINDS, Question, generate, short_call
from .sweeps import (
    MAX_FORWARD_ELEMENTS,
    MAX_FORWARD_MACS,
    MAX_SWEEP_POINTS,
    SWEEPABLE,
    Sweep,
    sweep,
)

__all__ = [
    "DIFFICULTIES", "KINDS", "MAX_FORWARD_ELEMENTS", "MAX_FORWARD_MACS", "MAX_SWEEP_POINTS",
    "SWEEPABLE", "Feedback", "Question", "Score", "Sweep", "catalog", "check", "generate",
    "parse_cells", "parse_int", "parse_shape", "short_call", "sweep",
]
