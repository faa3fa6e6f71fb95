"""Agents' skills as the desk stores them (table ``agent_skills``): which queues an extension serves and with
which penalty. Stored skills replace the site's static membership for that extension; with none stored the
site's ``agents.membership`` / ``agents.queues`` apply. The desk's login applies them (``login_with_skills``)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hotline.site import SiteConfig

from agent_desk.db.models import AgentSkill, utcnow
from agent_desk.telephony.agents import Skill, default_skills

STORED, SITE = "stored", "site"   # where an agent's skills come from


def stored_skills(session: Session, extension: str) -> list[Skill]:
    rows = session.scalars(select(AgentSkill).where(AgentSkill.extension == str(extension))
                           .order_by(AgentSkill.penalty, AgentSkill.queue))
    return [Skill(r.queue, r.penalty) for r in rows]


def all_stored_skills(session: Session) -> dict[str, list[Skill]]:
    found: dict[str, list[Skill]] = {}
    for r in session.scalars(select(AgentSkill).order_by(AgentSkill.extension, AgentSkill.penalty, AgentSkill.queue)):
        found.setdefault(r.extension, []).append(Skill(r.queue, r.penalty))
    return found


def skills_of(session: Session, site: SiteConfig, extension: str,
              stored: dict[str, list[Skill]] | None = None) -> tuple[list[Skill], str]:
    """The agent's skills and where they come from (``stored`` or ``site``)."""
    mine = stored.get(str(extension), []) if stored is not None else stored_skills(session, extension)
    return (mine, STORED) if mine else (default_skills(site, extension), SITE)


def save_skills(session: Session, extension: str, skills: list[Skill], by: str) -> None:
    """Replace the extension's stored skills (an empty list: back to the site's default)."""
    session.execute(delete(AgentSkill).where(AgentSkill.extension == str(extension)))
    now = utcnow()
    session.add_all(AgentSkill(extension=str(extension), queue=s.queue, penalty=s.penalty, updated_at=now,
                               updated_by=by) for s in skills)
    session.flush()
