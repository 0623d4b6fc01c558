"""Debian's chromium driven by Playwright: nothing is downloaded, nothing leaves the machine."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    return os.environ.get("CIVIC_LEDGER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def browser(lang: str | None = None) -> Iterator[Any]:
    """`lang` sets the browser's own language (it formats the date inputs), e.g. zh-CN."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise RuntimeError("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as pw:
        args = ARGS + ([f"--lang={lang}"] if lang else [])
        b = pw.chromium.launch(executable_path=path, args=args, headless=True, timeout=30_000)
        try:
            yield b
        finally:
            b.close()


def sign_in(page: Any, base: str, token: str, lang: str | None = None) -> None:
    page.goto(f"{base}/" + (f"?lang={lang}" if lang else ""))
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/(\?.*)?$"))
