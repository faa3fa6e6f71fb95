"""智能回访 on the desk: the automated call's Originate, what its AMI events and its IVR result do to the item, and
how a result is written into the ticket's lifecycle **as the province's rules define the verdict**:

- 满意 / 基本满意 **and** 已解决 → ``callback(result, solved=True)`` as ``Role.SYSTEM`` by 智能回访: the ticket is
  closed (办结), the verdict in its history;
- 不满意, or 未解决 → **no verdict is recorded**: the ticket stays 待回访 and goes to a person's worklist
  (人工回访复核, ``needs_review``) with what the citizen pressed; an agent calls and records the verdict (and the
  reason when unsatisfied), as for any callback;
- 0 (转人工) → the citizen is queued; the item also goes to the worklist (the verdict is still to be recorded);
- 9 (不再回访) → the number is never called by a campaign again (``revisit_opt_outs``), the refusal noted;
- no valid key → the next attempt, as for no answer.

Every call and its outcome is a note in the ticket's history (``revisit_call``), linked by ``out_id``.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.callbacks import campaign as cp
from agent_desk.callbacks import texts
from agent_desk.callbacks.dialer import dial_outcome
from agent_desk.callbacks.rules import CallbackPolicy, Outcome, check_number
from agent_desk.db import models as m
from agent_desk.tickets import lifecycle as lc
from agent_desk.tickets.status import remember
from agent_desk.tickets.store import UnitCodes, append_note, save, to_domain
from hotline import channelvars as v
from hotline.ami import AmiEvent
from hotline.contracts import revisit as rc
from hotline.privacy import mask_phone

log = logging.getLogger(__name__)

OUT_PREFIX = "rv-"


def new_out_id() -> str:
    return f"{OUT_PREFIX}{uuid.uuid4().hex[:20]}"


def originate_action(out_id: str, number: str, ticket: str, topic: str, policy: CallbackPolicy) -> dict[str, Any]:
    """``Local/s@hotline-outbound`` dials the citizen (checks, trunk limit, 12345, recording); the other half runs
    [hotline-revisit] once they answered. Both halves get the variables (a Local channel copies them). The IVR
    reads the host unit from the ticket's status (``hotline.contracts.ticket_status``), as the progress query does."""
    return {
        "Action": "Originate", "ActionID": out_id, "Channel": f"Local/s@{v.CTX_OUTBOUND}",
        "Context": v.CTX_REVISIT, "Exten": "s", "Priority": "1",
        "CallerID": f'"12345回访" <{policy.center_number}>', "Timeout": str((policy.citizen_ring_seconds + 10) * 1000),
        "Async": "true", "ChannelId": out_id, "OtherChannelId": f"{out_id}-o",
        "Variable": [f"{v.OUT_ID}={out_id}", f"{v.OUT_NUMBER}={number}", f"{v.OUT_RING}={policy.citizen_ring_seconds}",
                     f"{v.REVISIT_TICKET}={ticket}", f"{v.REVISIT_TOPIC}={topic}"],
    }


def call_for(session: Session, item: m.RevisitItem, out_id: str, policy: CallbackPolicy) -> dict[str, Any]:
    """The Originate of the item's claimed call: its number and the ticket's read-out."""
    ticket = session.get(m.Ticket, item.ticket_id)
    assert ticket is not None
    return originate_action(out_id, item.caller, ticket.number, ticket.topic or "", policy)


# ── AMI: what the outbound context says about a call ─────────────────────────
def event_out_id(event: AmiEvent) -> str | None:
    """The revisit call an event is about (None: not ours)."""
    if event.name == "UserEvent" and event.get("UserEvent") == "HotlineOutbound":
        out_id = event.get("OutID")
    elif event.name == "OriginateResponse":
        out_id = event.get("ActionID")
    else:
        return None
    return out_id if out_id.startswith(OUT_PREFIX) else None


def _item_of(session: Session, out_id: str) -> tuple[m.RevisitCall | None, m.RevisitItem | None]:
    call = session.scalar(select(m.RevisitCall).where(m.RevisitCall.out_id == out_id))
    item = session.get(m.RevisitItem, call.item_id) if call is not None else None
    return call, item


def on_event(session: Session, event: AmiEvent, policy: CallbackPolicy, now: dt.datetime) -> str | None:
    """Apply one HotlineOutbound event of a revisit call; returns the out_id when the call is over for the
    runner (its channel is free), else None."""
    out_id = event_out_id(event)
    if out_id is None or event.name != "UserEvent":
        return None
    call, item = _item_of(session, out_id)
    if call is None or item is None or call.ended_at is not None:
        return out_id if call is not None and call.ended_at is not None else None
    result = event.get("Result")
    if result == v.OUT_DIALING:
        return None
    campaign = session.get(m.RevisitCampaign, item.campaign_id)
    assert campaign is not None
    call.ended_at = now
    live = item.out_id == out_id and item.state in (cp.CALLING, cp.UNKNOWN)
    if result == v.OUT_REFUSED:
        call.outcome, call.dial_status = "invalid_number", f"REFUSED-{event.get('Reason').upper()}"
        if live:
            item.state, item.outcome, item.updated_at = cp.DONE, "invalid_number", now
    elif result in (v.OUT_TRUNK_BUSY, v.OUT_NO_TRUNK):
        call.outcome, call.dial_status = "trunk_busy", result.upper()
        if live:
            cp.not_counted(item, "trunk_busy", now, policy)
    elif result == v.OUT_ENDED:
        dial_status = event.get("DialStatus")
        call.dial_status = dial_status or "NONE"
        outcome = dial_outcome(dial_status, event.get("HangupCause"))
        if outcome == Outcome.CONNECTED:
            call.answered_at = call.answered_at or now
            item.reached = True
            if call.outcome is None and live:   # answered, and the IVR's result not in yet: it settles the item
                item.state = cp.CALLING
        else:
            call.outcome = outcome.value
            if live:
                _not_reached(item, outcome, campaign, now, policy)
    _note(session, item, call, now)
    return out_id


def _not_reached(item: m.RevisitItem, outcome: Outcome, campaign: m.RevisitCampaign, now: dt.datetime,
                 policy: CallbackPolicy) -> None:
    if outcome == Outcome.INVALID_NUMBER:
        item.state, item.outcome, item.updated_at = cp.DONE, "invalid_number", now
    elif outcome in (Outcome.TRUNK_BUSY, Outcome.FAILED):
        cp.not_counted(item, outcome.value, now, policy)
    else:
        cp.retry(item, "busy" if outcome == Outcome.BUSY else "no_answer", campaign.attempts, now, policy)


def originate_failed(session: Session, out_id: str, policy: CallbackPolicy, now: dt.datetime) -> None:
    """Asterisk refused the Originate itself (AMI down): nobody was dialled, the attempt is given back."""
    call, item = _item_of(session, out_id)
    if call is None or item is None or call.ended_at is not None:
        return
    call.ended_at, call.outcome, call.dial_status = now, "failed", "ORIGINATE_FAILED"
    if item.out_id == out_id and item.state == cp.CALLING:
        cp.not_counted(item, "failed", now, policy)


def cut_by_restart(session: Session, out_id: str, policy: CallbackPolicy, now: dt.datetime) -> None:
    """The call's channels are gone and its end was not seen (Asterisk restarted, or the desk did): its channel is
    free. The item, if still calling, is ``unknown`` (its attempt counted) and waits out the stale window from its
    claim before it is dialled again; a result the IVR wrote still settles it."""
    call, item = _item_of(session, out_id)
    if call is None or item is None or call.ended_at is not None:
        return
    call.ended_at, call.dial_status = now, call.dial_status or "NOT_SEEN_ENDING"
    call.outcome = call.outcome or "unknown"
    if item.out_id == out_id and item.state == cp.CALLING:
        item.state, item.outcome, item.updated_at = cp.UNKNOWN, "unknown", now


# ── the IVR's result (the stream) ────────────────────────────────────────────
def verdict_of(entry: rc.RevisitEntry) -> str | None:
    """The verdict the citizen gave by keys: satisfied / basically_satisfied (solved), unsatisfied, unsolved."""
    if entry.result == rc.UNSATISFIED:
        return "unsatisfied"
    if entry.solved == "no":
        return "unsolved"
    if entry.result in (rc.SATISFIED, rc.BASICALLY_SATISFIED) and entry.solved == "yes":
        return entry.result
    return None


def apply_result(session: Session, entry: rc.RevisitEntry, policy: CallbackPolicy, now: dt.datetime) -> str:
    """Write one result in; returns what it came to (the item's outcome). Idempotent per call: a result read
    again after a crash finds its call already settled and changes nothing."""
    call, item = _item_of(session, entry.out_id)
    if call is None or item is None:
        log.warning("回访 result for unknown call %s (ticket %s) not applied", entry.out_id, entry.ticket)
        return "unknown_call"
    if call.outcome is not None and call.answered_at is not None:
        return call.outcome   # read again after a crash: already stored
    campaign = session.get(m.RevisitCampaign, item.campaign_id)
    ticket = session.get(m.Ticket, item.ticket_id)
    assert campaign is not None and ticket is not None
    at = entry.at_time
    call.answered_at, call.digits = call.answered_at or at, entry.digits   # ended_at: from AMI (the channel)
    item.reached, item.digits, item.updated_at = True, entry.digits, now
    verdict = verdict_of(entry)
    outcome = verdict or entry.result
    if verdict in ("satisfied", "basically_satisfied"):
        if not _close_ticket(session, ticket, lc.Satisfaction(verdict), now):
            outcome = "not_awaiting"
            verdict = None
        item.state = cp.DONE
    elif verdict in ("unsatisfied", "unsolved") or entry.result == rc.TO_AGENT:
        item.state, item.needs_review = cp.DONE, True
    elif entry.result == rc.OPTED_OUT:
        record_opt_out(session, item.caller, ticket, "key", "", None, now)
        item.state = cp.DONE
    else:   # no valid key
        cp.retry(item, "no_answer", campaign.attempts, now, policy)
        outcome = "no_answer"
    call.outcome = outcome
    item.verdict = verdict
    if item.state == cp.DONE:
        item.outcome = outcome
    _note(session, item, call, now, entry)
    return outcome


def _close_ticket(session: Session, row: m.Ticket, result: lc.Satisfaction, now: dt.datetime) -> bool:
    units = UnitCodes(session)
    domain = to_domain(row, units)
    try:
        domain.callback(result, True, now, texts.REVISIT_ACTOR, lc.Role.SYSTEM)
    except lc.TransitionError as exc:   # an agent recorded a verdict meanwhile: theirs stands
        log.info("回访 verdict on %s not recorded: %s", row.number, exc.message)
        return False
    save(session, row, domain, units, now)
    remember(session, row.number)
    return True


def _note(session: Session, item: m.RevisitItem, call: m.RevisitCall, now: dt.datetime,
          entry: rc.RevisitEntry | None = None) -> None:
    ticket = session.get(m.Ticket, item.ticket_id)
    assert ticket is not None
    data: dict[str, Any] = {"out_id": call.out_id, "campaign": item.campaign_id, "number": mask_phone(item.caller),
                            "dial_status": call.dial_status, "outcome": call.outcome or "",
                            "outcome_label": texts.ITEM_OUTCOME_LABELS.get(call.outcome or "", "已接通")}
    if entry is not None:
        data.update({"digits": entry.digits, "said": entry.said, "solved": entry.solved, "result": entry.result,
                     "review": item.needs_review})
    append_note(session, ticket, "revisit_call", now, texts.REVISIT_ACTOR, lc.Role.SYSTEM, data)


# ── 不再回访 ─────────────────────────────────────────────────────────────────
def record_opt_out(session: Session, caller: str, ticket: m.Ticket | None, source: str, reason: str,
                   user_id: int | None, now: dt.datetime) -> m.RevisitOptOut | None:
    """The number is never called by a campaign again; its live items elsewhere end as opted_out now."""
    caller = caller or check_number(ticket.citizen_phone if ticket else "").digits
    if not caller:
        return None
    row = m.RevisitOptOut(caller=caller, ticket_id=ticket.id if ticket else None, source=source, reason=reason,
                          user_id=user_id, at=now)
    session.add(row)
    for item in session.scalars(select(m.RevisitItem).where(m.RevisitItem.caller == caller,
                                                            m.RevisitItem.state == cp.PENDING)):
        item.state, item.outcome, item.updated_at = cp.DONE, "opted_out", now
    if ticket is not None:
        append_note(session, ticket, "revisit_opt_out", now, texts.REVISIT_ACTOR, lc.Role.SYSTEM,
                    {"number": mask_phone(caller), "source": source, "reason": reason})
    session.flush()
    return row
