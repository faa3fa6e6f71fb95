"""智能回访 campaigns: which ticket's citizen is called when, as rules of an injected clock and rows in the database.

- **Who**: the tickets waiting for 回访 (待回访) when the campaign is made, or a given list of them; each ticket is
  one item with its own citizen (merged tickets, 已并单, are each their own ticket in 待回访: each citizen gets
  their own call). A number that cannot be dialled, that opted out (不再回访) or a ticket already in a live item
  of another campaign is recorded as done with that reason and never called.
- **When**: inside the campaign's window (site-local HH:MM) and outside the site's quiet hours
  (``CallbackPolicy.is_quiet``); an item's next attempt waits ``retry_minutes`` (increasing) after a call that
  was not answered, was busy or got no valid key; ``attempts`` calls at most.
- **How many at once**: at most ``max_channels`` calls of the campaign, and never more than the trunk's limit over
  all campaigns (the dialplan's GROUP_COUNT is the hard stop: over it a call fails as trunk_busy and is retried
  without using an attempt).
- **Restart-safe**: an item is claimed in the database (``calling``, its attempt counted, its call's ``out_id``
  stored) and committed before the call is originated. When the runner starts, and whenever Asterisk comes back
  (FullyBooted), the calls the database holds open are checked against Asterisk's channels (``runner.reconcile``):
  one still up is followed; one that is gone (a desk or Asterisk restart mid-call) is ended, freeing its channel,
  and its item, if still calling, becomes ``unknown``: not dialled again until ``STALE_CALL`` after its claim
  (longer than any call can last: ring time + the IVR route's 300 s), so nobody is called twice for one attempt;
  the IVR's result, when it comes later from the stream, still settles it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from agent_desk.callbacks import texts
from agent_desk.callbacks.rules import CallbackPolicy, check_number
from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.tickets import lifecycle as lc

RUNNING, PAUSED, FINISHED = "running", "paused", "finished"
PENDING, CALLING, UNKNOWN, DONE = "pending", "calling", "unknown", "done"
STALE_CALL = dt.timedelta(minutes=15)
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_clock(text: str) -> dt.time:
    found = _CLOCK.match(text)
    if found is None:
        raise ValueError(text)
    return dt.time(int(found.group(1)), int(found.group(2)))


def in_window(now: dt.datetime, start: str, end: str, policy: CallbackPolicy) -> bool:
    """Inside the campaign's working window (site-local, start ≤ t < end) and not in the site's quiet hours."""
    local = now.astimezone(policy.tz).time()
    return parse_clock(start) <= local < parse_clock(end) and not policy.is_quiet(now)


def retry_at(attempts_made: int, max_attempts: int, now: dt.datetime, policy: CallbackPolicy) -> dt.datetime | None:
    """When to call again after an unanswered attempt (None: no attempt left). Intervals grow with each attempt
    (``policy.retry_minutes``; the last repeats)."""
    if attempts_made >= max_attempts:
        return None
    pause = policy.retry_minutes[min(attempts_made, len(policy.retry_minutes)) - 1]
    return now + dt.timedelta(minutes=pause)


def free_channels(max_channels: int, campaign_calling: int, trunk_limit: int, all_calling: int) -> int:
    """How many more calls this campaign may start now."""
    return max(0, min(max_channels - campaign_calling, trunk_limit - all_calling))


# ── making a campaign ────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Plan:
    name: str
    ticket_numbers: list[str] | None
    max_channels: int
    attempts: int
    window_start: str
    window_end: str


def opted_out(session: Session, caller: str) -> bool:
    if not caller:
        return False
    return session.scalar(select(m.RevisitOptOut.id).where(m.RevisitOptOut.caller == caller).limit(1)) is not None


def create(session: Session, plan: Plan, user_id: int, policy: CallbackPolicy, now: dt.datetime) -> m.RevisitCampaign:
    try:
        if parse_clock(plan.window_start) >= parse_clock(plan.window_end):
            raise ValueError
    except ValueError:
        raise DeskError(422, "bad_window", texts.BAD_WINDOW) from None
    if plan.max_channels > policy.outbound_channels:
        raise DeskError(422, "over_trunk_limit", texts.OVER_TRUNK.format(limit=policy.outbound_channels))
    waiting = select(m.Ticket).where(m.Ticket.state == lc.State.AWAITING_CALLBACK.value)
    if plan.ticket_numbers is None:
        tickets = list(session.scalars(waiting.order_by(m.Ticket.id)))
    else:
        wanted = list(dict.fromkeys(plan.ticket_numbers))
        tickets = list(session.scalars(waiting.where(m.Ticket.number.in_(wanted)).order_by(m.Ticket.id)))
        missing = sorted(set(wanted) - {t.number for t in tickets})
        if missing:
            raise DeskError(422, "tickets_not_awaiting", texts.TICKETS_NOT_AWAITING.format(numbers="、".join(missing)))
    if not tickets:
        raise DeskError(422, "no_tickets", texts.NO_TICKETS)
    campaign = m.RevisitCampaign(name=plan.name, state=RUNNING, created_at=now, created_by_id=user_id,
                                 max_channels=plan.max_channels, attempts=plan.attempts,
                                 window_start=plan.window_start, window_end=plan.window_end)
    session.add(campaign)
    session.flush()
    live = set(session.scalars(select(m.RevisitItem.ticket_id).join(m.RevisitCampaign)
                               .where(m.RevisitItem.state != DONE, m.RevisitCampaign.state != FINISHED)))
    for ticket in tickets:
        check = check_number(ticket.citizen_phone)
        item = m.RevisitItem(campaign_id=campaign.id, ticket_id=ticket.id, caller=check.digits, state=PENDING,
                             attempts=0, reached=False, digits="", needs_review=False, updated_at=now)
        if check.refused is not None:
            item.state, item.outcome = DONE, "invalid_number"
        elif opted_out(session, check.digits):
            item.state, item.outcome = DONE, "opted_out"
        elif ticket.id in live:
            item.state, item.outcome = DONE, "in_other_campaign"
        session.add(item)
    session.flush()
    return campaign


def get(session: Session, campaign_id: int) -> m.RevisitCampaign:
    row = session.get(m.RevisitCampaign, campaign_id)
    if row is None:
        raise DeskError(404, "unknown_campaign", texts.UNKNOWN_CAMPAIGN.format(id=campaign_id))
    return row


def set_state(session: Session, campaign: m.RevisitCampaign, state: str) -> None:
    """Pause or resume. A paused campaign starts no call; the calls already going finish and are recorded."""
    if campaign.state == FINISHED:
        raise DeskError(409, "campaign_finished", texts.CAMPAIGN_FINISHED)
    campaign.state = state


def items(session: Session, campaign_id: int) -> list[m.RevisitItem]:
    return list(session.scalars(select(m.RevisitItem).where(m.RevisitItem.campaign_id == campaign_id)
                                .order_by(m.RevisitItem.id)))


PROGRESS_KEYS = ("total", "pending", "calling", "done", "reached", "satisfied", "basically_satisfied",
                 "unsatisfied", "unsolved", "no_answer", "opted_out", "to_agent")


def progress(rows: list[m.RevisitItem]) -> dict[str, int]:
    counts = dict.fromkeys(PROGRESS_KEYS, 0)
    counts["total"] = len(rows)
    for row in rows:
        counts["pending" if row.state in (PENDING, UNKNOWN) else row.state] += 1
        counts["reached"] += row.reached
        if row.verdict in counts:
            counts[row.verdict] += 1
        if row.state == DONE and row.outcome in ("no_answer", "opted_out", "to_agent"):
            counts[row.outcome] += 1
    return counts


# ── the runner's steps ───────────────────────────────────────────────────────
def calling_count(session: Session, campaign_id: int | None = None) -> int:
    """Calls that may hold a channel now: originated (claimed) and not seen ending. A call a restart left unseen
    counts until ``release_stale`` gives up on it: a channel is never assumed free before it is."""
    query = (select(func.count()).select_from(m.RevisitCall)
             .join(m.RevisitItem, m.RevisitCall.item_id == m.RevisitItem.id).where(m.RevisitCall.ended_at.is_(None)))
    if campaign_id is not None:
        query = query.where(m.RevisitItem.campaign_id == campaign_id)
    return int(session.scalar(query) or 0)


def due_items(session: Session, campaign_id: int, now: dt.datetime, limit: int) -> list[m.RevisitItem]:
    return list(session.scalars(
        select(m.RevisitItem).where(m.RevisitItem.campaign_id == campaign_id, m.RevisitItem.state == PENDING,
                                    (m.RevisitItem.next_attempt_at.is_(None)) | (m.RevisitItem.next_attempt_at <= now))
        .order_by(m.RevisitItem.attempts, m.RevisitItem.id).limit(limit)))


def claim(session: Session, item: m.RevisitItem, out_id: str, now: dt.datetime) -> bool:
    """Take the item for one call (its attempt counted) unless another runner took it first. The caller commits
    before it originates: the claim, not the call, is what a restart finds."""
    taken = session.execute(update(m.RevisitItem)
                            .where(m.RevisitItem.id == item.id, m.RevisitItem.state == PENDING)
                            .values(state=CALLING, out_id=out_id, claimed_at=now, attempts=m.RevisitItem.attempts + 1,
                                    updated_at=now)
                            .execution_options(synchronize_session=False))
    if taken.rowcount != 1:   # type: ignore[attr-defined]
        return False
    session.add(m.RevisitCall(out_id=out_id, item_id=item.id, started_at=now, dial_status="", digits=""))
    session.flush()
    session.refresh(item)
    return True


def release_stale(session: Session, now: dt.datetime, policy: CallbackPolicy) -> int:
    """``unknown`` items, and ``calling`` ones whose result never came (the IVR route failed), claimed over
    STALE_CALL ago: the next attempt (the unseen one stays counted)."""
    rows = session.scalars(select(m.RevisitItem).where(m.RevisitItem.state.in_((UNKNOWN, CALLING)),
                                                       m.RevisitItem.claimed_at < now - STALE_CALL)).all()
    for row in rows:
        campaign = session.get(m.RevisitCampaign, row.campaign_id)
        assert campaign is not None
        call = session.scalar(select(m.RevisitCall).where(m.RevisitCall.out_id == row.out_id))
        if call is not None and call.ended_at is None:
            call.ended_at, call.outcome = now, "unknown"
        retry(row, "unknown", campaign.attempts, now, policy)
    return len(rows)


def retry(item: m.RevisitItem, outcome: str, max_attempts: int, now: dt.datetime, policy: CallbackPolicy) -> None:
    """An attempt that reached no verdict: the next one after its interval, or done when none is left."""
    following = retry_at(item.attempts, max_attempts, now, policy)
    item.outcome, item.updated_at = outcome, now
    if following is None:
        item.state = DONE
    else:
        item.state, item.next_attempt_at = PENDING, following


def not_counted(item: m.RevisitItem, outcome: str, now: dt.datetime, policy: CallbackPolicy) -> None:
    """The trunk was busy or the call could not be placed: the citizen was not dialled, the attempt is given back."""
    item.attempts = max(0, item.attempts - 1)
    item.state, item.outcome, item.updated_at = PENDING, outcome, now
    item.next_attempt_at = now + dt.timedelta(minutes=policy.trunk_busy_retry_minutes)


def finish_campaigns(session: Session, now: dt.datetime) -> None:
    """A running or paused campaign whose items are all done is finished."""
    for campaign in session.scalars(select(m.RevisitCampaign).where(m.RevisitCampaign.state != FINISHED)):
        left = session.scalar(select(func.count()).select_from(m.RevisitItem)
                              .where(m.RevisitItem.campaign_id == campaign.id, m.RevisitItem.state != DONE))
        if not left:
            campaign.state, campaign.finished_at = FINISHED, now
