"""Secrets generated at install: one file per secret, mode 0600, in the secrets directory.

Nothing ships a default password. ``ensure`` creates what is missing and never changes what exists,
so re-running the install keeps every softphone and peer working.
"""

from __future__ import annotations

import os
import re
import secrets as _random
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
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                # URL-safe alphabet: no characters that pjsip.conf or manager.conf would parse.
                fh.write(_random.token_urlsafe(24) + "\n")
            created.append(name)
        return created
