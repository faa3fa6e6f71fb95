"""Debian's Chromium, as every browser test starts it (headless, no network beyond loopback)."""

from hotline.paths import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "browser"   # screenshots and downloads, kept by CI

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# A browser softphone's microphone: Chromium's synthetic one (a beep), granted without asking.
FAKE_MICROPHONE = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


async def eventually(check, what: str, timeout: float = 20):
    """``await check()`` every 0.3 s until it returns something true; that value, or the test fails saying what."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what} (last: {value!r})")
        await asyncio.sleep(0.3)


async def media_flowing(page, stats_call: str = "Softphone.mediaStats()") -> dict | None:
    """A browser phone's WebRTC statistics once DTLS is up and audio flows both ways (else None); ``stats_call`` is
    the page's JavaScript that returns them (the agent page's softphone, or a test's own page)."""
    stats = await page.evaluate(stats_call)
    return stats if stats and stats["dtls"] == "connected" and stats["received"] > 10 and stats["sent"] > 10 else None
