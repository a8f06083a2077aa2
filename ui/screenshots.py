"""Take the README screenshots of a running app: `python -m ui.screenshots http://127.0.0.1:7860 docs/`.

Needs the `playwright` package and Chromium at /usr/bin/chromium (or --chromium PATH).
"""

from __future__ import annotations

import argparse
from pathlib import Path

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
QUESTION = "What did the US and China agree about AI and nuclear weapons in Lima?"
TOPIC = "EU AI Act fines and enforcement"


def chat(page, folder: Path) -> None:
    """A finished answer with the first source card opened."""
    page.fill("#question textarea", QUESTION)
    page.click("#ask")
    page.wait_for_selector(".msg.bot:not(.streaming) .cite-marker", timeout=60_000)
    page.locator(".msg.bot .cite-marker").first.click()
    page.wait_for_timeout(800)
    page.screenshot(path=str(folder / "screenshot-chat.png"))


def brief(page, folder: Path) -> None:
    """The brief preview after generation."""
    page.get_by_role("tab", name="Brief").click()
    page.fill("#topic textarea", TOPIC)
    page.click("#generate")
    page.frame_locator("#brief-preview iframe").locator("h1").wait_for(timeout=120_000)
    page.set_viewport_size({"width": 1440, "height": 1400})
    page.wait_for_timeout(800)
    page.screenshot(path=str(folder / "screenshot-brief.png"))


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
        page.goto(args.url)
        page.wait_for_selector("#question textarea")
        chat(page, args.folder)
        brief(page, args.folder)
        browser.close()


if __name__ == "__main__":
    main()
