"""Tickets: create (any channel), search, read, and one endpoint per lifecycle action."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Request
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, principal, unit_of_work
from agent_desk.auth.sessions import Principal
from agent_desk.tickets import service
from agent_desk.tickets.service import SearchQuery, TicketDraft

router = APIRouter(prefix="/tickets")
NUMBER = Path(..., pattern=r"^\d{14}$", description="ticket number: YYYYMMDD + 6 digits")


@router.post("", status_code=201)
def create(draft: TicketDraft, request: Request, who: Principal = Depends(principal),
           session: Session = Depends(unit_of_work, scope="function")) -> dict:
    result = service.create(session, who, draft)
    request.state.changed = [result.ticket.number]
    if not result.created:
        why = "该诉求已有最终处理意见" if result.ticket.final_opinion else "来电已关联至未办结工单"
        return {"created": False, "linked_to": result.linked_to, "message": f"{why}，已关联至工单{result.linked_to}"}
    return {"created": True, "number": result.ticket.number, "state": result.ticket.state}


@router.get("")
def search(request: Request, query: SearchQuery = Depends(), who: Principal = Depends(principal),
           session: Session = Depends(unit_of_work, scope="function")) -> dict:
    return service.search(session, who, query, client_of(request))


@router.get("/{number}")
def read(request: Request, number: str = NUMBER, who: Principal = Depends(principal),
         session: Session = Depends(unit_of_work, scope="function")) -> dict:
    return service.detail(session, who, number, client_of(request))


@router.post("/{number}/actions/{action}")
def act(request: Request, number: str = NUMBER, action: str = Path(..., pattern=r"^[a-z_]{1,32}$"),
        payload: dict[str, Any] = Body(default_factory=dict), who: Principal = Depends(principal),
        session: Session = Depends(unit_of_work, scope="function")) -> dict:
    row = service.act(session, who, request.app.state.settings, number, action, payload)
    request.state.changed = [row.number]
    return {"number": row.number, "state": row.state}


