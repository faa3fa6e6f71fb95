"""Topic suggestions an agent can trust: a linear model over character n-grams of the citizen's words.

``train(texts, labels)`` fits a :class:`Model`; ``Model.top_k(text)`` answers the k likeliest labels, each
with a confidence and the n-grams that weighed most for it; ``save``/``load`` keep it on disk with its
format version and the accuracy it reached on examples it had not seen. The agent decides; these are hints.
"""

from __future__ import annotations

from suggest.model import Model, Suggestion
from suggest.store import ModelFileError, load, save
from suggest.training import TooFewExamples, train

__all__ = ["Model", "ModelFileError", "Suggestion", "TooFewExamples", "load", "save", "train"]
