"""Request dependencies: the unit of work and the authenticated principal (Bearer token or session cookie)."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from agent_desk.api.schemas import API_PREFIX
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal, authenticate
from agent_desk.db.session import Database
from agent_desk.errors import DeskError
from agent_desk.telephony.link import TelephonyLink

COOKIE = "hotline_session"
# What a user whose password an administrator set may still do: change it, see who it is, log out.
PASSWORD_CHANGE_PATHS = frozenset(f"{API_PREFIX}{p}" for p in ("/auth/password", "/me", "/auth/logout"))


def database(request: Request) -> Database:
    return request.app.state.db


def unit_of_work(request: Request) -> Iterator[Session]:
    """Use as ``Depends(unit_of_work, scope="function")``: the commit happens before the response is sent,
    so a 2xx means the change is stored (and the next request sees it)."""
    with request.app.state.db.session() as session:
        yield session


def token_of(headers, cookies) -> str | None:
    header = headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return cookies.get(COOKIE) or None


def principal(request: Request) -> Principal:
    token = token_of(request.headers, request.cookies)
    if not token:
        raise DeskError(401, "not_authenticated", "请先登录", headers={"WWW-Authenticate": "Bearer"})
    with request.app.state.db.session() as session:
        who = authenticate(session, token)
    if who is None:
        raise DeskError(401, "session_expired", "登录已失效，请重新登录", headers={"WWW-Authenticate": "Bearer"})
    if who.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise DeskError(403, "password_change_required", "密码已由管理员重置，请先修改密码")
    return who


def require(*roles: Role):
    """A dependency that lets only these roles through (403 otherwise)."""

    def check(who: Principal = Depends(principal)) -> Principal:
        if who.role not in roles:
            raise DeskError(403, "forbidden_role", "当前角色无权访问此功能")
        return who

    return check


def telephony(request: Request) -> TelephonyLink:
    """The AMI link of this desk process (``hotline run`` sets it); 503 while the phone system is unreachable (in a
    cluster: while no node is; an action that needs a node that is away says so itself)."""
    link = getattr(request.app.state, "telephony", None)
    if link is None or not link.connected:
        raise DeskError(503, "telephony_unavailable", "电话系统暂时无法连接，请稍后重试或使用软电话操作")
    return link


def client_of(request: Request) -> str:
    """The address a request came from: its peer, or, when the peer is one of ``trusted_proxies``, the address
    that proxy says it forwarded for (``X-Forwarded-For``, read from the right past every trusted hop).
    Anyone else's X-Forwarded-For is ignored: a client cannot pick the address its login failures count to."""
    peer = request.client.host if request.client else ""
    return forwarded_client(peer, request.headers.get("x-forwarded-for", ""),
                            request.app.state.settings.trusted_proxies)


def forwarded_client(peer: str, forwarded_for: str, trusted_proxies: tuple[str, ...]) -> str:
    networks = _networks(trusted_proxies)
    if not _within(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, networks):
            return hop if _address(hop) is not None else peer  # a garbled hop: the proxy is all we know
    return hops[0] if hops else peer


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ip_network(n, strict=False) for n in trusted)


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text)
    except ValueError:
        return None


def _within(text: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    address = _address(text)
    return address is not None and any(address in n for n in networks)
