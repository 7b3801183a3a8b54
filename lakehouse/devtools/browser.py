"""Open the dashboards in a real browser: Debian's headless Chromium, driven through chromedriver (Selenium).

`check_dashboards` logs in, opens each dashboard, waits until every chart has drawn (a canvas, an SVG, a table or a
big number) and none is loading, and fails a dashboard whose chart shows an error, whose chart-data request fails,
or which never finishes. It measures the time from navigation to the last chart drawn, and can save a screenshot.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.bi.semantic import Dashboard
from lakehouse.errors import UserError

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Without the networking flags Chromium keeps calling Google's services, which this closed network refuses.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)

# Installed in the page once it has loaded: every 25 ms, per chart, whether it has drawn, is still loading, or shows an
# error; the moment all have settled is stamped with the page's own clock (ms since the navigation started). Watching
# from inside the page keeps the measurement from slowing the page down with WebDriver round trips.
_WATCH = """
const expected = arguments[0];
const look = () => [...document.querySelectorAll('[data-test="dashboard-component-chart-holder"]')].map(h => {
  const title = (h.querySelector('[data-test="editable-title"]') || {}).innerText || '';
  const loading = h.querySelector('[data-test="loading-indicator"], .loading') !== null;
  const drawn = h.querySelector(
    'canvas, svg.echarts, .echarts-for-react, table, .superset-legacy-chart-big-number, .big_number') !== null;
  const alert = h.querySelector('[role="alert"], .ant-alert-error, [data-test="error-tooltip"]');
  const text = h.innerText || '';
  const failed = alert !== null || /Unexpected error|An error occurred|No results were returned/.test(text);
  return {title: title.trim(), loading, drawn, failed, text: failed ? text.slice(0, 300) : ''};
});
window.__lakehouseRender = {done: null, charts: []};
const timer = setInterval(() => {
  const charts = look();
  window.__lakehouseRender.charts = charts;
  if (charts.length >= expected && charts.every(c => (c.drawn || c.failed) && !c.loading)) {
    window.__lakehouseRender.done = performance.now();
    clearInterval(timer);
  }
}, 25);
"""


@dataclass
class ChartState:
    title: str
    drawn: bool
    loading: bool
    failed: bool
    text: str


@dataclass
class DashboardCheck:
    slug: str
    title: str
    charts_expected: int
    seconds: float | None  # navigation → every chart drawn; None if it never finished
    charts: list[ChartState] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def problems(self) -> list[str]:
        found = [f"chart {c.title!r} shows an error: {c.text.strip()[:200]}" for c in self.charts if c.failed]
        found += [f"chart {c.title!r} never rendered" for c in self.charts if not c.drawn and not c.failed]
        if len(self.charts) != self.charts_expected:
            found.append(f"{len(self.charts)} charts on the page, {self.charts_expected} defined")
        found += [f"chart data request failed: {r}" for r in self.failed_requests]
        if self.seconds is None and not found:
            found.append("the dashboard never finished rendering")
        return found


class Browser:
    """A headless Chromium session; use as a context manager."""

    def __init__(self, width: int = 1440, height: int = 1000):
        if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
            raise UserError(
                "the dashboard checks need Debian's Chromium: apt-get update && apt-get install -y chromium "
                "chromium-driver (make setup does this when it runs as root)"
            )
        try:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service
        except ImportError:
            raise UserError(
                "the dashboard checks need selenium, in the project's `tools` dependency group: uv sync --group tools"
            ) from None

        self._profile = tempfile.mkdtemp(prefix="lakehouse-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*CHROMIUM_FLAGS, f"--window-size={width},{height}", f"--user-data-dir={self._profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        self.driver.set_page_load_timeout(60)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def login(self, base_url: str, user: str, password: str) -> None:
        """Log in through Superset's login form. A form left unanswered (a click lost while the page was still
        loading, a server busy past the wait) is tried once more; a refusal Superset shows is reported as it says."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        wait = WebDriverWait(self.driver, 30)
        user_field = "input[name=username], #username"

        def refusal() -> str:
            alerts = self.driver.find_elements(By.CSS_SELECTOR, ".alert, .ant-alert, .ant-message, [role=alert]")
            return "; ".join(a.text.strip() for a in alerts if a.text.strip())

        for _ in range(2):
            self.driver.get(f"{base_url}/login/")
            wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, user_field)))
            self.driver.find_element(By.CSS_SELECTOR, user_field).send_keys(user)
            self.driver.find_element(By.CSS_SELECTOR, "input[name=password], #password").send_keys(password)
            self.driver.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]").click()
            try:
                wait.until(lambda d: "/login" not in d.current_url or refusal())
            except TimeoutException:
                continue
            if "/login" not in self.driver.current_url:
                return
            said = refusal()
            raise UserError(f"could not log in to Superset at {base_url} as {user!r}: Superset says {said!r}")
        raise UserError(
            f"could not log in to Superset at {base_url} as {user!r}: the login page did not move on in two tries of "
            "30 s and showed no error (is Superset still starting, or the machine overloaded?)"
        )

    def _failed_chart_requests(self) -> list[str]:
        """Return the chart-data requests of the page that failed (the performance log since the last call)."""
        failed, chart_requests = [], set()
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            method = message.get("method")
            if method == "Network.requestWillBeSent" and "/api/v1/chart/data" in params["request"]["url"]:
                chart_requests.add(params["requestId"])
            elif method == "Network.responseReceived" and params.get("requestId") in chart_requests:
                response = params["response"]
                if response.get("status", 200) >= 400:
                    failed.append(f"{response['status']} {response['url']}")
        return failed

    def check_dashboard(
        self, base_url: str, slug: str, title: str, charts: int, timeout: float = 60, screenshot: Path | None = None
    ) -> DashboardCheck:
        """Open one dashboard and wait for all of its charts; return what was seen and how long it took."""
        self.driver.get_log("performance")  # forget earlier pages' requests
        start = time.perf_counter()
        self.driver.get(f"{base_url}/superset/dashboard/{slug}/?standalone=0")
        check = DashboardCheck(slug=slug, title=title, charts_expected=charts, seconds=None)
        self.driver.execute_script(_WATCH, charts)
        deadline = start + timeout
        while time.perf_counter() < deadline:
            time.sleep(0.2)
            seen = self.driver.execute_script("return window.__lakehouseRender")
            check.charts = [ChartState(**state) for state in seen["charts"]]
            if seen["done"] is not None:
                check.seconds = seen["done"] / 1000
                break
        check.failed_requests = self._failed_chart_requests()
        if screenshot is not None:
            time.sleep(0.8)  # let the charts' entry animations finish before the picture
            self._screenshot(screenshot)
            check.screenshot = screenshot
        return check

    def _screenshot(self, path: Path) -> None:
        """Save the whole dashboard as a compact JPEG (PNG if the name says so)."""
        height = self.driver.execute_script(
            "const charts = [...document.querySelectorAll('[data-test=\"dashboard-component-chart-holder\"]')];"
            "const bottom = Math.max(0, ...charts.map(c => c.getBoundingClientRect().bottom));"
            "return Math.ceil(Math.min(bottom + window.scrollY + 24, document.documentElement.clientHeight));"
        )
        fmt = "png" if path.suffix.lower() == ".png" else "jpeg"
        params = {"format": fmt, "captureBeyondViewport": False}
        if fmt == "jpeg":
            params["quality"] = 72
        width = self.driver.execute_script("return document.documentElement.clientWidth")
        params["clip"] = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        data = self.driver.execute_cdp_cmd("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))


def check_dashboards(
    base_url: str,
    user: str,
    password: str,
    dashboards: Sequence[Dashboard],
    screenshots: Path | None = None,
) -> list[DashboardCheck]:
    """Open every dashboard once and check it; with `screenshots`, save a picture of each there as <slug>.jpg."""
    results = []
    with Browser(height=2400 if screenshots else 1000) as browser:  # tall enough to picture a whole dashboard
        browser.login(base_url, user, password)
        for dashboard in dashboards:
            shot = screenshots / f"{dashboard.slug}.jpg" if screenshots else None
            results.append(
                browser.check_dashboard(
                    base_url, dashboard.slug, dashboard.title, len(dashboard.charts), screenshot=shot
                )
            )
    return results
