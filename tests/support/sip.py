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


class UdpInvite:
    """One bare SIP INVITE over UDP from ``source`` (a loopback address) to the center, optionally answering a
    digest challenge: enough to show what the center does with a call nobody (or a forger) logged in for.

    Every final response is acknowledged; an answered call is acknowledged too, and left for the test to
    hang up through AMI."""

    def __init__(self, port: int, from_user: str, number: str = "12345", source: str = "127.0.0.1",
                 display: str = "", from_uri_user: str | None = None, headers: tuple[str, ...] = ()):
        import socket

        self.port, self.number, self.from_user, self.display = port, number, from_user, display
        self.from_uri_user = from_uri_user if from_uri_user is not None else from_user
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.sock.settimeout(0.5)
        self.host, self.local_port = self.sock.getsockname()
        self.call_id = f"invite-check-{uuid.uuid4().hex[:12]}"
        self.tag = uuid.uuid4().hex[:8]
        self.cseq = 0
        self.uri = f"sip:{number}@127.0.0.1:{port}"
        self.headers = list(headers)

    def close(self) -> None:
        self.sock.close()

    def _request(self, method: str, branch: str, cseq: int, extra: list[str], body: str = "",
                 to_tag: str = "") -> str:
        name = f'"{self.display}" ' if self.display else ""
        lines = [
            f"{method} {self.uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.host}:{self.local_port};rport;branch={branch}",
            "Max-Forwards: 70",
            f"From: {name}<sip:{self.from_uri_user}@{self.host}>;tag={self.tag}",
            f"To: <sip:{self.number}@127.0.0.1>" + (f";tag={to_tag}" if to_tag else ""),
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:{self.from_uri_user}@{self.host}:{self.local_port}>",
            "User-Agent: hotline-invite-check",
            *extra,
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        return "\r\n".join(lines) + f"\r\nContent-Length: {len(body.encode())}\r\n\r\n{body}"

    def _sdp(self) -> str:
        # A media port nobody listens on: the test is about signalling.
        return "\r\n".join(["v=0", f"o=- 1 1 IN IP4 {self.host}", "s=-", f"c=IN IP4 {self.host}", "t=0 0",
                            "m=audio 9 RTP/AVP 8 0 101", "a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000",
                            "a=rtpmap:101 telephone-event/8000", "a=sendrecv", ""])

    def _send(self, text: str) -> None:
        self.sock.sendto(text.encode(), ("127.0.0.1", self.port))

    def _final(self, branch: str, timeout: float) -> str:
        """The final response to the request of ``branch``; provisional ones are skipped."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            text = data.decode(errors="replace")
            if text.startswith("SIP/2.0 ") and branch in text and status(text) >= 200:
                return text
        raise AssertionError(f"no final response to {self.call_id} within {timeout} s")

    def _ack(self, response: str, branch: str, cseq: int) -> None:
        to_tag = re.search(r"^To:.*;tag=([^;\r\n]+)", response, re.M | re.I)
        self._send(self._request("ACK", branch, cseq, [], to_tag=to_tag.group(1) if to_tag else ""))

    def send(self, password: str | None = None, username: str | None = None, timeout: float = 10) -> str:
        """Send the INVITE; with ``password``, answer a 401 as ``username``. The final response's text."""
        self.cseq += 1
        branch = f"z9hG4bK{uuid.uuid4().hex[:12]}"
        self._send(self._request("INVITE", branch, self.cseq, self.headers, self._sdp()))
        response = self._final(branch, timeout)
        self._ack(response, branch, self.cseq)
        if status(response) == 401 and password is not None:
            self.cseq += 1
            branch = f"z9hG4bK{uuid.uuid4().hex[:12]}"
            auth = authorization(response, username or self.from_user, password, "INVITE", self.uri)
            self._send(self._request("INVITE", branch, self.cseq, [*self.headers, auth], self._sdp()))
            response = self._final(branch, timeout)
            if status(response) >= 300:
                self._ack(response, branch, self.cseq)
            else:  # a 2xx ACK is a new transaction
                self._ack(response, f"z9hG4bK{uuid.uuid4().hex[:12]}", self.cseq)
        return response


# ── over a WebSocket (RFC 7118): a browser phone's registration, by hand ─────────────────────────────────────────
async def ws_register(socket, extension: str, answer: tuple[str, str] | None, expires: int = 60) -> str:
    """One REGISTER over the WebSocket ``socket``, answering ``answer``'s (challenge, password); the final response."""
    import asyncio

    challenge, password = answer or (None, "")
    await socket.send(register(extension, "WSS", "hotline-test.invalid", expires, challenge, password))
    while True:
        reply = await asyncio.wait_for(socket.recv(), 10)
        if not reply.startswith("SIP/2.0 100"):
            return reply


async def wss_login_checks(socket, pem_text: str, extension: str, password: str, refused=None) -> None:
    """Over a wss:// socket: the server presents exactly the certificate in ``pem_text`` (the one made at install), a
    REGISTER is challenged, refused with a wrong password (then ``refused()``, if given, checks nothing registered)
    and accepted with ``password``; the contact is left registered."""
    import ssl

    served = socket.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
    assert served == ssl.PEM_cert_to_DER_cert(pem_text.split("-----BEGIN PRIVATE KEY")[0])
    challenge = await ws_register(socket, extension, None)
    assert challenge.startswith("SIP/2.0 401"), challenge
    assert status(await ws_register(socket, extension, (challenge, "not-the-password"))) in (401, 403)
    if refused is not None:
        refused()
    challenge = await ws_register(socket, extension, None)
    ok = await ws_register(socket, extension, (challenge, password))
    assert ok.startswith("SIP/2.0 200"), ok


async def ws_unregister(socket, extension: str, password: str) -> None:
    challenge = await ws_register(socket, extension, None, expires=0)
    assert (await ws_register(socket, extension, (challenge, password), expires=0)).startswith("SIP/2.0 200")
