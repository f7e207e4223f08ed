"""The built documentation site and the kit's HTML report, opened in headless Chromium.

The site is built here (``mkdocs build --strict``) from a real conformance run of embedded cases, so
the matrix it shows is a real one. Every page of the navigation is loaded in the browser: it renders
(a title and content), logs no console error and requests nothing outside the local server; every
internal link answers. The HTML report is opened from its file: the matrix is visible and it makes no
request beyond itself (one self-contained file). Screenshots go to ``reports/screenshots/``.

Chromium is the launcher's ``chromium`` backend (chromedriver; ``blockyard backends install
chromium``): where it cannot be had the tests are *not run*, and fail when backends are required (CI).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest

from blockyard_conformance.real_backends import require_backend, require_client

pytestmark = [pytest.mark.backend("chromium"), pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "reports" / "screenshots"
BIN = Path(sys.executable).parent
CASES = ("state.sqlite", "bindings.localstorage", "bindings.cron", "secretstores.local.file", "secretstores.local.env")
"""Embedded cases run for the report the site shows (fast, and they span three building blocks)."""


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real conformance run's reports (``BLOCKYARD_DOCS_REPORT``: an existing report.json instead)."""
    given = os.environ.get("BLOCKYARD_DOCS_REPORT")
    if given:
        return Path(given).parent
    out = tmp_path_factory.mktemp("conformance")
    run = subprocess.run(
        [str(BIN / "blockyard"), "conformance", "run", "--no-progress", "--report-dir", str(out), *CASES],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, report_dir: Path) -> Path:
    """The site, built with warnings as errors and the report of :func:`report_dir`."""
    require_client("mkdocs", "chromium")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "BLOCKYARD_DOCS_REPORT": str(report_dir / "report.json"), "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-5000:]
    return out


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    """The built site over HTTP on a free loopback port."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium session through the launcher's chromedriver; console and network logged."""
    require_client("selenium", "chromium")
    from selenium import webdriver
    from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection

    endpoint = require_backend("chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = endpoint.params["browser"]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    options.add_argument("--no-first-run")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    connection = ChromiumRemoteConnection(endpoint.url, vendor_prefix="goog", browser_name="chrome")
    driver = webdriver.Remote(command_executor=connection, options=options)
    driver.set_page_load_timeout(60)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _logs(driver: Any, kind: str) -> list[dict[str, Any]]:
    return list(driver.execute("getLog", {"type": kind})["value"])


def _open(driver: Any, url: str) -> tuple[list[str], list[str]]:
    """Load ``url``; the console errors it logged and every URL it requested."""
    _logs(driver, "browser"), _logs(driver, "performance")  # drop what earlier pages logged
    driver.get(url)
    driver.execute_script("return document.readyState")
    errors = [e["message"] for e in _logs(driver, "browser") if e["level"] == "SEVERE"]
    requested = []
    for entry in _logs(driver, "performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    return errors, requested


def _screenshot(driver: Any, name: str) -> Path:
    """A screenshot of the whole page (up to 5,000 pixels high) in ``reports/screenshots/NAME.png``."""
    height, chrome = driver.execute_script(
        "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
    )
    driver.set_window_size(1280, max(600, min(int(height), 5000)) + int(chrome))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)
    return path


@dataclass
class Visit:
    """What one page did in the browser."""

    url: str
    title: str
    text_length: int
    errors: list[str]
    requested: list[str]
    links: list[str]
    missing_anchors: list[str]


@pytest.fixture(scope="module")
def crawl(browser: Any, server: str) -> list[Visit]:
    """Every page of the site's navigation, loaded once in the browser."""
    browser.get(server)
    links = browser.execute_script(
        "return [...document.querySelectorAll('nav.md-nav a.md-nav__link[href]')].map(a => a.href)"
    )
    pages = sorted({urldefrag(u)[0] for u in links if u.startswith(server)} | {server})
    visits = []
    for url in pages:
        errors, requested = _open(browser, url)
        title, length, hrefs = browser.execute_script(
            "const a = document.querySelector('article');"
            "return [a?.querySelector('h1')?.textContent || '', a?.innerText.length || 0,"
            " [...document.querySelectorAll('a[href], img[src]')].map(e => e.href || e.src)]"
        )
        anchors = sorted({urldefrag(h)[1] for h in hrefs if urldefrag(h)[0] == url and urldefrag(h)[1]})
        missing = browser.execute_script(
            "return arguments[0].filter(id => !document.getElementById(decodeURIComponent(id)))", anchors
        )
        visits.append(Visit(url, title.strip(), int(length), errors, requested, hrefs, missing))
    return visits


def test_every_page_renders_without_console_errors_or_outside_requests(crawl: list[Visit], server: str) -> None:
    urls = [v.url for v in crawl]
    assert any("/components/state.redis/" in u for u in urls), urls
    assert len(crawl) > 35, urls  # home, guides, contracts, 30+ components, conformance, benchmarks
    problems = [
        f"{v.url}: title={v.title!r} text={v.text_length} errors={v.errors} outside={outside}"
        for v in crawl
        for outside in [[u for u in v.requested if not u.startswith((server, "data:"))]]
        if v.errors or outside or not v.title or v.text_length < 200
    ]
    assert not problems, "\n".join(problems)


def test_internal_links_resolve(crawl: list[Visit], server: str) -> None:
    targets: dict[str, str] = {}
    for v in crawl:
        for href in v.links:
            if href.startswith(server):
                targets.setdefault(urldefrag(href)[0], v.url)
    broken = _broken(targets)
    assert len(targets) > 40, targets
    assert not broken, "\n".join(broken)
    missing = [f"{v.url}#{a}" for v in crawl for a in v.missing_anchors]
    assert not missing, missing


def _broken(targets: dict[str, str]) -> list[str]:
    """The ``targets`` (URL -> the page linking it) that do not answer 200."""
    broken = []
    for target, source in sorted(targets.items()):
        try:
            with urllib.request.urlopen(target, timeout=10) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            broken.append(f"{target} (from {source}): {exc.code}")
    return broken


def test_the_checks_catch_planted_defects(browser: Any, server: str) -> None:
    """Self-test: a broken link, a console error and an outside request are each caught."""
    assert _broken({server + "no-such-page/": server}) == [f"{server}no-such-page/ (from {server}): 404"]
    errors, _ = _open(browser, "data:text/html,<script>console.error('planted')</script>")
    assert any("planted" in e for e in errors), errors
    _, requested = _open(browser, "data:text/html,<img src='http://127.0.0.1:9/planted.png'>")
    assert "http://127.0.0.1:9/planted.png" in requested, requested


def test_screenshots_of_the_site(browser: Any, server: str, crawl: list[Visit]) -> None:
    for name, path in (
        ("docs-home", ""),
        ("docs-component-state-redis", "components/state.redis/"),
        ("docs-benchmarks", "benchmarks/"),
    ):
        browser.get(server + path)
        assert _screenshot(browser, name).stat().st_size > 10_000


def test_conformance_page_shows_the_matrix(browser: Any, server: str, report_dir: Path) -> None:
    errors, _ = _open(browser, server + "conformance/")
    assert not errors
    cases = [c["case"] for c in json.loads((report_dir / "report.json").read_text())["cases"]]
    tables = browser.find_elements("css selector", "article table")
    assert tables
    assert all(t.is_displayed() for t in tables)
    text = browser.find_element("css selector", "article").text
    assert all(case in text for case in cases), (cases, text[:2000])
    headers = browser.execute_script(
        "return [...document.querySelectorAll('article table th')].map(t => t.textContent)"
    )
    assert {"case", "backend", "core", "lifecycle"} <= set(headers), headers
    assert "passed" in text
    _screenshot(browser, "docs-conformance")
    link = browser.find_element("partial link text", "HTML report")
    assert urlsplit(link.get_attribute("href")).path.endswith("/conformance/report.html")


def test_html_report_is_self_contained_and_shows_the_matrix(browser: Any, report_dir: Path) -> None:
    report = report_dir / "report.html"
    errors, requested = _open(browser, report.as_uri())
    assert not errors
    assert report.as_uri() in requested
    assert all(u == report.as_uri() or u.startswith("data:") for u in requested), requested
    cases = json.loads((report_dir / "report.json").read_text())["cases"]
    rows = browser.find_elements("css selector", "table:first-of-type tr")
    assert len(rows) == len(cases) + 1
    matrices = browser.find_elements("css selector", "h2 + table")
    assert matrices
    assert all(m.is_displayed() and m.size["height"] > 0 for m in matrices)
    passed = browser.find_elements("css selector", "td.passed")
    assert passed
    assert passed[0].value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"
    _screenshot(browser, "conformance-report")


def test_report_check_catches_an_outside_request(browser: Any, report_dir: Path, tmp_path: Path) -> None:
    """Self-test: a report that loads a stylesheet from elsewhere is caught by the check above."""
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    planted = tmp_path / "report.html"
    planted.write_text(html.replace("<style>", "<link rel='stylesheet' href='http://127.0.0.1:9/x.css'><style>", 1))
    _, requested = _open(browser, planted.as_uri())
    assert any(u.startswith("http://127.0.0.1:9/") for u in requested), requested
