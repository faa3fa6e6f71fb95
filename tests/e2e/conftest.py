"""The session's real center (see tests/support/center.py), shared by every end-to-end scenario."""

from __future__ import annotations

import pytest

from hotline.paths import PROJECT_ROOT
from tests.support.center import Center, running_center


@pytest.fixture(scope="session")
async def center(tmp_path_factory) -> Center:
    async with running_center(tmp_path_factory.mktemp("hotline-home"),
                              artifacts=PROJECT_ROOT / "test-artifacts" / "asterisk") as running:
        yield running
