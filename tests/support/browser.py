"""Debian's Chromium, as every browser test starts it (headless, no network beyond loopback)."""

from hotline.paths import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "browser"   # screenshots and downloads, kept by CI

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# A browser softphone's microphone: Chromium's synthetic one (a beep), granted without asking.
FAKE_MICROPHONE = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
