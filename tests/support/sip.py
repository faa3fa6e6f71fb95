"""A bare SIP REGISTER with an MD5 digest answer, for checking the center's registrar from a test: over a
WebSocket (RFC 7118) or UDP, with any Contact."""

from __future__ import annotations

import hashlib
import re
import uuid
from itertools import count

_CSEQ = count(1)


def register(extension: str, transport: str, contact_host: str, expires: int = 60,
             challenge: str | None = None, password: str = "", call_id: str = "") -> str:
    """The REGISTER of ``extension`` to 127.0.0.1; with ``challenge`` (a 401's text), answered with ``password``."""
    host, uri = "127.0.0.1", "sip:127.0.0.1"
    lines = [
        f"REGISTER {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport.upper()} {contact_host};rport;branch=z9hG4bK{uuid.uuid4().hex[:12]}",
        "Max-Forwards: 70",
        f"To: <sip:{extension}@{host}>",
        f"From: <sip:{extension}@{host}>;tag=t{extension}",
        f"Call-ID: {call_id or 'register-check-' + extension}",
        f"CSeq: {next(_CSEQ)} REGISTER",
        f"Contact: <sip:{extension}@{contact_host};transport={transport.lower()}>",
        f"Expires: {expires}",
        "User-Agent: hotline-register-check",
    ]
    if challenge is not None:
        lines.append(authorization(challenge, extension, password, "REGISTER", uri))
    return "\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n"


def authorization(challenge: str, username: str, password: str, method: str, uri: str) -> str:
    header = next(line for line in challenge.split("\r\n") if line.startswith("WWW-Authenticate:") and "MD5" in line)
    fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
    ha1 = hashlib.md5(f"{username}:{fields['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    extra = f', opaque="{fields["opaque"]}"' if "opaque" in fields else ""
    if "auth" in fields.get("qop", "").split(","):
        cnonce = uuid.uuid4().hex[:16]
        response = hashlib.md5(f"{ha1}:{fields['nonce']}:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()
        extra += f', qop=auth, nc=00000001, cnonce="{cnonce}"'
    else:
        response = hashlib.md5(f"{ha1}:{fields['nonce']}:{ha2}".encode()).hexdigest()
    return (f'Authorization: Digest username="{username}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
            f'uri="{uri}", response="{response}", algorithm=MD5{extra}')


def status(response: str) -> int:
    return int(response.split()[1])
