"""Early warning (未诉先办): clusters of similar appeals in one place and time window raise an alert.

Rules are data (``WarningRule``; ``DeskSettings.warning_rules``, overridable from the site file's
``warning_rules:``): a window (e.g. 24 h), a minimum count (e.g. 5), the area tickets are grouped by (the
town, or the county/district, their location unit lies in) and what makes two appeals similar: the same
topic, the same matter key, or text similarity of title + content: the cosine of their rows in the desk's one
representation of text (``suggest.similarity``: TF-IDF over character 2-3-grams, fitted on the tickets of the
window, the same as 并单 and knowledge suggestions use), at least ``similarity``. Similar tickets are joined by
single-link clustering inside the window and area (sparse products and connected components, not a pair
loop); a cluster of at least ``min_count`` is an alert, which says why: the keywords most of its tickets
share (共同关键词, e.g. 自来水 发黄) or their topic. Alerts carry ticket numbers, never personal data.

Detection runs in one background thread, so a ticket's commit never waits for it and never fails because of
it: the session hooks (``install``) note the tickets a commit created, the thread re-evaluates their areas.
``scan`` evaluates everything (on start, and ``POST /api/warnings/scan``).

Redis: active alerts in the hash ``hotline:warnings:active`` (id → JSON); acknowledged ones in
``hotline:warnings:acked`` until their cluster grows past the acknowledged count (then it is raised again)
or leaves the window. Every new or changed alert is published on ``hotline:wallboard`` as
``{"type": "alert", ...alert}``; an alert that leaves (acknowledged, or its cluster left the window) as
``{"type": "alert_cleared", "id": ..., "reason": "acknowledged" | "expired"}``. An alert's id is stable: the
same cluster (sharing a ticket with a known alert of the same rule and area) keeps its id, so it updates
rather than duplicates. Redis down: detection still runs, the alert is logged, the next scan publishes it.
"""

from agent_desk.supervision.warnings.clustering import Record, bigrams, clusters, detect, keywords, space_for
from agent_desk.supervision.warnings.detector import EarlyWarning, ScanResult
from agent_desk.supervision.warnings.rules import DEFAULT_RULES, WarningRule, rules_from, site_rules
from agent_desk.supervision.warnings.store import ACKED, ACTIVE, CHANNEL, WarningStore

__all__ = ["ACKED", "ACTIVE", "CHANNEL", "DEFAULT_RULES", "EarlyWarning", "Record", "ScanResult", "WarningRule",
           "WarningStore", "bigrams", "clusters", "detect", "keywords", "rules_from", "site_rules", "space_for"]
