"""Suggestions an agent can trust (a topic, a host unit): a linear model over character n-grams of the citizen's
words, their title, and where the appeal came from.

``train(texts, labels, contexts=…)`` fits a :class:`Model`; ``Model.top_k(text, k, reasons, context)`` answers the
k likeliest labels, each with a confidence and the n-grams that weighed most for it; ``save``/``load`` keep it on
disk with its format version and the accuracy it reached on examples it had not seen. The agent decides; these
are hints. The desk trains it on its own closed tickets (``agent_desk.learning``).
"""

from __future__ import annotations

from suggest.model import Model, Suggestion
from suggest.store import ModelFileError, load, save
from suggest.training import TooFewExamples, train

__all__ = ["Model", "ModelFileError", "Suggestion", "TooFewExamples", "load", "save", "train"]
