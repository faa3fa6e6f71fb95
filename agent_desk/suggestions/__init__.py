"""Suggestions at the desk (issue 13, point 2): the top-3 topics and host units for the words so far, each with a
confidence and the reason, rules first; what the agent then chose, and the acceptance rate supervisors read.

- ``service.suggest``: rules (派单目录, 直派清单, the topic keyword rules) are the law and shown first, marked as
  rules; the learnt model (``agent_desk.learning.current_model``) ranks within and beyond them. No model (cold
  start, a missing or corrupt file): rules only. Retired units and topics that no longer exist are never shown.
- ``outcomes.record``: after an agent saves a ticket, what was suggested and what the agent chose (top-1, another
  suggestion, overridden), never failing the save.
- ``outcomes.acceptance``: acceptance by suggested topic and unit, per day or week.
"""
