"""Golden Asterisk config: the real plan rendered with fixed, obviously fake secrets.

Regenerate after an intended change to the plan or the templates, then review the diff:

    python -m tests.unit.golden
"""

from __future__ import annotations


from hotline import confgen
from hotline.numberplan import load_plan
from hotline.paths import PROJECT_ROOT
from hotline.site import SiteConfig

GOLDEN_DIR = PROJECT_ROOT / "tests" / "golden"
PLAN = PROJECT_ROOT / "asterisk_conf" / "numbers.yaml"


class FixedSecrets:
    """Stands in for SecretStore: answers only the names the generator declares it needs."""

    def __init__(self, names: list[str]):
        self.names = set(names)

    def get(self, name: str) -> str:
        if name not in self.names:
            raise AssertionError(f"the generator asked for undeclared secret {name!r}")
        return f"golden-{name}"


def render_golden() -> confgen.Rendered:
    plan = load_plan(PLAN)
    site = SiteConfig()
    return confgen.render(plan, site, FixedSecrets(confgen.secret_names(site, plan)))  # type: ignore[arg-type]


def main() -> None:
    rendered = render_golden()
    rendered.write(GOLDEN_DIR)
    print(f"wrote {len(rendered.files)} golden files to {GOLDEN_DIR}")


if __name__ == "__main__":
    main()
