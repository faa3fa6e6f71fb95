"""Where things live. Every path derives from three inputs: the state home, the plan and the site file.

Defaults: the checkout's ``var/`` (state, secrets, generated config), ``asterisk_conf/numbers.yaml`` and
``asterisk_conf/site.yaml``. Environment: HOTLINE_HOME, HOTLINE_PLAN, HOTLINE_SITE.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_base() -> Path:
    return PROJECT_ROOT if (PROJECT_ROOT / "asterisk_conf").is_dir() else Path.cwd()


@dataclass(frozen=True)
class Paths:
    home: Path
    plan: Path
    site: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Paths:
        base = _default_base()
        return cls(
            home=Path(environ.get("HOTLINE_HOME", base / "var")).resolve(),
            plan=Path(environ.get("HOTLINE_PLAN", base / "asterisk_conf" / "numbers.yaml")).resolve(),
            site=Path(environ.get("HOTLINE_SITE", base / "asterisk_conf" / "site.yaml")).resolve(),
        )

    @property
    def secrets(self) -> Path:
        return self.home / "secrets"

    @property
    def asterisk_etc(self) -> Path:
        return self.home / "asterisk" / "etc"

    @property
    def sounds(self) -> Path:
        return self.home / "sounds"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def logs(self) -> Path:
        return self.home / "log"

    @property
    def suggest_models(self) -> Path:
        """The suggestion models learnt from the center's own tickets: ``topic.model`` and ``unit.model`` are the
        ones in use, ``history/`` keeps every version trained (issue 13)."""
        return self.home / "models" / "suggest"

    @property
    def stack_json(self) -> Path:
        """The running stack's connection details (AMI, FastAGI, desk, Redis, database)."""
        return self.run / "stack.json"
