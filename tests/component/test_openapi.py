"""The API document: served to signed-in users by the running app, published in the repository, the same."""

from __future__ import annotations

import json


from agent_desk.api.routes import published
from agent_desk.api.schemas import API_PREFIX
from hotline.paths import PROJECT_ROOT

PUBLISHED = PROJECT_ROOT / "docs" / "openapi.json"


def test_the_running_app_serves_the_published_document_to_signed_in_users_only(rig):
    assert rig.client.get(f"{API_PREFIX}/openapi.json").status_code == 401
    served = rig.call("gateway", "GET", f"{API_PREFIX}/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(PUBLISHED.read_text(encoding="utf-8")), \
        "docs/openapi.json is stale: run `.venv/bin/hotline desk openapi` and commit it"


def test_the_published_file_is_exactly_what_the_command_writes():
    assert PUBLISHED.read_text(encoding="utf-8") == published()


def test_every_operation_is_described_in_chinese_with_typed_answers():
    document = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    assert document["info"]["title"].startswith("12345")
    for path, item in document["paths"].items():
        assert path.startswith(API_PREFIX + "/"), path
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert any("\u4e00" <= c <= "\u9fff" for c in operation.get("summary", "")), f"{where}: summary in Chinese"
            success = next(v for k, v in operation["responses"].items() if k.startswith("2"))
            content = success.get("content", {})
            assert content, f"{where}: the success response is documented"
            for media, body in content.items():
                if media == "application/json":
                    assert body.get("schema") not in (None, {}, {"type": "object"}), f"{where}: typed answer"
            for status in ("401", "403", "422"):
                error = operation["responses"][status]["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/ErrorBody"}, f"{where}: {status} documented"
