"""Figures every benchmark prints the same way."""

from __future__ import annotations

import time


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0–100, nearest rank); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed_gets(client, headers: dict[str, str], cases: list[tuple[str, str]], repeat: int, width: int = 44):
    """GET each ``(name, path)`` once to warm up, then ``repeat`` times timed; prints a row per request (p50, max,
    bytes) and yields ``(name, last response)`` for what a caller prints beside it."""
    print(f"{'request':<{width}} | {'p50 ms':>9} | {'max ms':>9} | {'bytes':>9}")
    for name, path in cases:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (name, response.text[:300])
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            response = client.get(path, headers=headers)
            times.append(time.perf_counter() - t0)
            assert response.status_code == 200
        print(f"{name:<{width}} | {pct(times, 50) * 1000:9.1f} | {max(times) * 1000:9.1f} | {len(response.content):9,}")
        yield name, response


def boss_client(url: str):
    """The desk app on ``url`` behind a test client, signed in as the benchmarks' supervisor ``boss``: the client and
    the Authorization header. No lifespan runs, so nothing works in the background while requests are timed."""
    from fastapi.testclient import TestClient

    from agent_desk.app import create_app
    from agent_desk.settings import DeskSettings

    app = create_app(DeskSettings(database_url=url, redis_url="redis://127.0.0.1:9/0"), migrate=False)
    client = TestClient(app, base_url="http://127.0.0.1")
    token = client.post("/api/v1/auth/login",
                        json={"username": "boss", "password": "bench-horse-12345"}).json()["token"]
    client.cookies.clear()
    return client, {"Authorization": f"Bearer {token}"}
