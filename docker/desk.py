"""Run the agent desk under uvicorn, with settings built from the site config and the generated secrets.

The site file carries the Redis and database URLs without passwords; the passwords come from
``$HOTLINE_HOME/secrets/redis`` and ``$HOTLINE_HOME/secrets/postgres`` (written by the init service).
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import uvicorn

from agent_desk.app import DeskSettings, create_app
from hotline.paths import Paths
from hotline.secrets import SecretStore
from hotline.site import load_site


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` in its user info (the user name, if any, is kept)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = quote(parts.username or "", safe="")
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


def main() -> None:
    paths = Paths.from_env()
    site = load_site(paths.site)
    secrets = SecretStore(paths.secrets)
    settings = DeskSettings(
        database_url=with_password(site.database_url, secrets.get("postgres")),
        redis_url=with_password(site.redis_url, secrets.get("redis")),
    )
    uvicorn.run(create_app(settings), host=site.bind, port=site.desk_port, log_level="info")


if __name__ == "__main__":
    main()
