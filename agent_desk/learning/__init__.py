"""Learning from the desk's own closed tickets (issue 13): the topic and host-unit suggestion models.

``current_model(paths, "topic" | "unit")`` is the model the desk uses now, or None: then it suggests by rules.
Training (``hotline desk train`` and the background retrainer) writes new versions and promotes one only if it is
not worse than the model in use.
"""

from __future__ import annotations

from agent_desk.learning.loader import TARGETS, Target, current_model, model_path

__all__ = ["TARGETS", "Target", "current_model", "model_path"]
