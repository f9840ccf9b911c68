"""A headless Chromium, offline: Debian's /usr/bin/chromium driven by /usr/bin/chromedriver.

Used by the book's PDF (``course_lib.book_pdf``) and the browser tests. Nothing is downloaded
(SE_OFFLINE: selenium-manager stays idle) and Chromium's own traffic to Google (updates, sync,
field trials) is switched off, so every request a page makes is the page's. Console messages and
network events are kept: read them with ``console(driver)`` and ``network(driver)``.
"""
import json
import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--disable-default-apps", "--disable-extensions",
         "--disable-features=Translate,OptimizationHints,MediaRouter", "--hide-scrollbars",
         "--force-device-scale-factor=1", "--mute-audio"]


def missing() -> str:
    """Why no browser can start ('' when both binaries are there)."""
    absent = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not absent:
        return ""
    return (f"{' and '.join(absent)} not found: the browser tests need Debian's Chromium. "
            "Run `make chromium` (as root it runs `apt-get install -y chromium chromium-driver`).")


def make_driver(width: int = 1280, height: int = 900):
    """A headless Chromium window of width x height CSS pixels, logging console and network.

    The caller quits it (``driver.quit()``); its temporary profile goes with it."""
    reason = missing()
    if reason:
        raise RuntimeError(reason)
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager never fetches a browser or a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + [f"--user-data-dir={profile}", f"--window-size={width},{height}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_window_size(width, height)
    driver.set_page_load_timeout(60)
    driver.get("about:blank")  # the start tab (chrome://new-tab-page) loads its own scripts:
    console(driver), network(driver)  # drop them, so that the logs hold only what pages load
    quit_ = driver.quit

    def quit_and_clean():
        try:
            quit_()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit_and_clean
    return driver


def console(driver) -> list[dict]:
    """Console messages since the last call: dicts with 'level' (SEVERE, WARNING, INFO) and 'message'."""
    return driver.get_log("browser")


def network(driver) -> list[dict]:
    """DevTools Network.* events since the last call: dicts with 'method' and 'params'."""
    events = (json.loads(entry["message"])["message"] for entry in driver.get_log("performance"))
    return [e for e in events if e.get("method", "").startswith("Network.")]
