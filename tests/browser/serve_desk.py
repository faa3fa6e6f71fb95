"""Runs the real desk under uvicorn for the browser tests: ``python -m tests.browser.serve_desk``.

Settings come as JSON in the environment variable ``DESK_CONFIG`` (database URL, Redis URL and password, line
and city names, port). A separate process, so the test stops it by its pid and its logs stay apart.
"""

from __future__ import annotations

import json
import os

import uvicorn

from agent_desk.app import create_app
from agent_desk.settings import DeskSettings


def main() -> None:
    config = json.loads(os.environ["DESK_CONFIG"])
    settings = DeskSettings(database_url=config["database_url"], redis_url=config["redis_url"],
                            redis_password=config["redis_password"], line_names=config["line_names"],
                            city_names=config["city_names"])
    uvicorn.run(create_app(settings), host="127.0.0.1", port=int(config["port"]), log_level="info")


if __name__ == "__main__":
    main()
