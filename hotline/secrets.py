"""Secrets generated at install: one file per secret, mode 0600, in the secrets directory.

Nothing ships a default password. ``ensure`` creates what is missing and never changes what exists,
so re-running the install keeps every softphone and peer working.

A name starting with ``tls-`` is a TLS identity instead of a password: a new EC P-256 key and a self-signed
certificate for this host (loopback, ``localhost`` and the host name), both in one PEM file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import secrets as _random
import socket
from pathlib import Path

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class SecretStore:
    def __init__(self, directory: Path):
        self.directory = directory

    def path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"bad secret name {name!r}")
        return self.directory / name

    def get(self, name: str) -> str:
        path = self.path(name)
        try:
            return path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise KeyError(f"secret {name!r} is missing from {self.directory}: run `hotline install`") from None

    def ensure(self, names: list[str]) -> list[str]:
        """Create the missing secrets; return the names created."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        created = []
        for name in names:
            path = self.path(name)
            if path.exists():
                continue
            # URL-safe alphabet: no characters that pjsip.conf or manager.conf would parse.
            value = self_signed_pem() if name.startswith("tls-") else _random.token_urlsafe(24) + "\n"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(value)
            created.append(name)
        return created


def self_signed_pem(days: int = 825) -> str:
    """A private key and a self-signed server certificate for 127.0.0.1, ::1, localhost and this host's name."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname()
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
             x509.IPAddress(ipaddress.ip_address("::1"))]
    if host and host != "localhost":
        names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "12345热线"),
                         x509.NameAttribute(NameOID.COMMON_NAME, host or "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return (cert.public_bytes(serialization.Encoding.PEM) + key_pem).decode("ascii")
