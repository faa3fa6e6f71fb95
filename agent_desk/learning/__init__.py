"""Learning from the desk's own closed tickets (issue 13): the topic and host-unit suggestion models.

``current_model(paths, "topic" | "unit")`` is the model the desk uses now, or None: then it suggests by rules.
``context_of(org, subplatform, location_unit_id, line)`` is the ``context`` to pass to ``Model.top_k`` for a new
ticket, the same as training read from closed ones. Pass ``only=`` the active unit codes to the unit model's
``top_k`` so that a unit retired since the training is never suggested.
Training (``hotline desk train`` and the background retrainer) writes new versions and promotes one only if it is
not worse than the model in use.
"""

from __future__ import annotations

from agent_desk.learning.examples import context_of
from agent_desk.learning.loader import TARGETS, Target, current_model, model_path

__all__ = ["TARGETS", "Target", "context_of", "current_model", "model_path"]
