"""Headless Chromium (Debian's package, through its chromedriver) for the website's test.

    with Browser() as browser:
        page = browser.visit("http://127.0.0.1:8000/index.html")
        page.console_errors, page.requests, page.links, page.ids, page.images, page.tables
        browser.screenshot(Path("out/screenshots/home.png"))

Selenium is given the driver's path, so Selenium Manager never tries to download one. The browser
log gives the console's errors (failed loads included); the performance log gives every request
the page made, so a test can tell which left localhost.
"""

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser")
DRIVER = ("chromedriver",)
SETUP = "scripts/prepare-host.sh --browser (make test runs it)"

PAGE_FACTS = r"""
return {
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  images: [...document.images].map(i => ({src: i.currentSrc || i.src, complete: i.complete, width: i.naturalWidth})),
  verification: [...document.querySelectorAll('.kubelab-verification')].map(e => ({text: e.innerText, state: e.className})),
  tables: [...document.querySelectorAll('table')].map(t => [...t.querySelectorAll('th')].map(h => h.innerText.trim())),
  raw_pipes: [...document.querySelectorAll('p')].map(p => p.innerText).filter(t => /^\s*\|.*\|\s*$/m.test(t)),
  title: document.title,
  text: document.body.innerText,
};
"""


def find(names: tuple[str, ...]) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


@dataclass
class Page:
    url: str
    title: str
    console_errors: list[str]
    requests: list[str]
    links: list[str]
    ids: set[str]
    images: list[dict]
    verification: list[dict]
    tables: list[list[str]]  # each table's header cells
    raw_pipes: list[str]  # paragraphs that look like a Markdown table left unrendered
    text: str = ""


class Browser:
    def __init__(self, width: int = 1400, height: int = 1000):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium, driver = find(CHROMIUM), find(DRIVER)
        if not chromium or not driver:
            raise RuntimeError(f"Chromium or chromedriver is missing; install them with {SETUP}")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--window-size={width},{height}",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(driver), options=options)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.driver.quit()

    def visit(self, url: str, settle: float = 0.3) -> Page:
        """Load a page, let its scripts run, and report what it did."""
        self.driver.get_log("browser")  # drop what earlier pages left
        self.driver.get_log("performance")
        self.driver.get(url)
        deadline = time.monotonic() + 10
        while (
            self.driver.execute_script("return document.readyState") != "complete"
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        time.sleep(settle)  # scripts that run on load (search, theme) get to make their requests
        facts = self.driver.execute_script(PAGE_FACTS)
        errors = [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE"
        ]
        return Page(
            url,
            facts["title"],
            errors,
            self.requests(),
            facts["links"],
            set(facts["ids"]),
            facts["images"],
            facts["verification"],
            facts["tables"],
            facts["raw_pipes"],
            facts["text"],
        )

    def requests(self) -> list[str]:
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def wait_for(self, script: str, timeout: float = 10):
        """Run `script` (returning a value) until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.driver.execute_script(script)
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.1)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path
