"""The Dagster UI as a person sees it, in headless Debian chromium.

A real webserver + daemon (temporary instance and data root) processes one
good and one bad file through the client; then chromium loads

* the asset graph: the four assets are there;
* region_summary's materialization (partition view): the summary table, the
  revenue-by-region chart, the path of region_summary.csv;
* anomaly_report's and cleaned_sales' materializations: anomaly count with the
  top anomalies, rejected counts by reason;
* the failed run's page: the person's message, as the ERROR line of the step.

Screenshots go to ``test-artifacts/browser/`` (git-ignored). Run alone with
``uv run pytest -m browser``. Without chromium the test tries
``apt-get install -y chromium``; if that is impossible it skips, unless
``$CI`` is set, where it fails.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from datatasker_pipeline.testing.stack import REPO_ROOT, DagsterStack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1800)]

ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
ASSETS = ("raw_csv", "cleaned_sales", "region_summary", "anomaly_report")
GOOD_CSV = (  # revenue per unit 50 everywhere but North (999): one anomaly at the default k = 2
    "region,revenue,quantity,discount,product\n"
    "East,100,2,0.1,Widget\n"
    "West,50,1,0,Gadget\n"
    "East,150,3,0.2,Widget\n"
    "South,50,1,0,Gizmo\n"
    "West,100,2,0,Gadget\n"
    "East,50,1,0,Widget\n"
    "South,100,2,0.1,Gizmo\n"
    "West,50,1,0,Gadget\n"
    "North,999,1,0,Gizmo\n"
    "South,abc,1,0,Gizmo\n"
    "West,5,0,0,Gadget\n"
)
BAD_CSV = "region,product,revenue,quantity\nEast,Widget,100,2\n"
MISSING_DISCOUNT = "missing required column(s): discount; found: region, product, revenue, quantity"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    found = _find_chromium()
    problem = None
    if found is None:
        if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
            try:
                install = subprocess.run(
                    ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
                    env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                    capture_output=True,
                    text=True,
                    timeout=900,
                )
                problem = f"apt-get install -y chromium exited {install.returncode}: {install.stderr[-500:]}"
            except subprocess.TimeoutExpired:
                problem = "apt-get install -y chromium took more than 900 s"
            found = _find_chromium()
        else:
            problem = "chromium is not installed and apt-get is unavailable or this is not root"
    if found is None:
        message = f"headless chromium needed for the UI test: {problem}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    deployment = DagsterStack(tmp_path_factory.mktemp("browser"), daemon=True)
    deployment.start(timeout=400)
    try:
        yield deployment
    finally:
        deployment.stop()


def _submit(stack: DagsterStack, source: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "datatasker_pipeline.cli", "submit", str(source), "--wait",
         "--timeout", "240", "--wait-timeout", "600"],
        cwd=str(REPO_ROOT), env=stack.client_env(), capture_output=True, text=True, timeout=900,
    )
    assert result.returncode in (0, 1), f"{result.stdout}\n{result.stderr}\n{stack.all_log_tails(3000)}"
    return result.stdout.splitlines()[0]


@pytest.fixture(scope="module")
def runs(stack, tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("browser_files")
    (folder / "browser_sales.csv").write_text(GOOD_CSV, encoding="utf-8")
    (folder / "browser_bad.csv").write_text(BAD_CSV, encoding="utf-8")
    return {"good": _submit(stack, folder / "browser_sales.csv"), "bad": _submit(stack, folder / "browser_bad.csv")}


class Browser:
    def __init__(self, binary: str, profile: Path):
        self.binary = binary
        self.profile = profile

    def _run(self, url: str, mode: list[str], budget_ms: int, timeout: float = 240) -> str:
        command = [
            self.binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "--window-size=1600,1000",
            f"--virtual-time-budget={budget_ms}", *mode, url,
        ]
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise AssertionError(f"chromium did not finish {url} within {timeout} s")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # renderer/zygote helpers
        return out

    def page_text(self, url: str, must_contain: list[str], attempts: int = 3) -> str:
        """The visible text of the page once the app has rendered what is expected (bounded retries)."""
        text = ""
        for attempt in range(attempts):
            dom = self._run(url, ["--dump-dom"], budget_ms=15000 * (attempt + 1))
            text = _visible_text(dom)
            if all(item in text for item in must_contain):
                return text
        missing = [item for item in must_contain if item not in text]
        raise AssertionError(f"{url} never showed {missing}; page text:\n{text[:3000]}")

    def screenshot(self, url: str, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        target = ARTIFACTS / name
        target.unlink(missing_ok=True)
        self._run(url, [f"--screenshot={target}"], budget_ms=15000)
        assert target.is_file(), f"no screenshot written for {url}"
        width, height = _png_size(target)
        assert (width, height) == (1600, 1000), (width, height)
        assert target.stat().st_size > 20_000, "screenshot looks blank"
        return target


def _visible_text(dom: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", html.unescape(body)).strip()


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", header[16:24])


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory) -> Browser:
    return Browser(chromium, tmp_path_factory.mktemp("chromium_profile"))


def test_asset_graph_shows_the_four_assets(stack, runs, browser):
    url = f"{stack.url}/asset-groups/sales"
    text = browser.page_text(url, list(ASSETS))
    for asset in ASSETS:
        assert asset in text
    browser.screenshot(url, "asset_graph.png")

    catalog = browser.page_text(f"{stack.url}/assets", list(ASSETS))
    assert all(asset in catalog for asset in ASSETS)


def test_region_summary_materialization_shows_table_and_chart(stack, runs, browser):
    url = f"{stack.url}/assets/region_summary?view=partitions&partition=browser_sales.csv"
    expected = ["summary", "region", "row_count", "revenue_sum", "revenue_mean", "quantity_sum",
                "discount_mean", "East", "North", "South", "West", "revenue_by_region", "region_summary_csv"]
    text = browser.page_text(url, expected)
    # The table: region, row_count and revenue_sum side by side for each region.
    assert re.search(r"East 3 300\b", text), text[:2000]
    assert re.search(r"North 1 999\b", text)
    assert "█" in text  # the markdown bar chart
    assert str(stack.outputs / runs["good"] / "region_summary.csv") in text
    browser.screenshot(url, "region_summary_materialization.png")


def test_anomaly_and_cleaning_metadata_are_shown(stack, runs, browser):
    anomalies = browser.page_text(
        f"{stack.url}/assets/anomaly_report?view=partitions&partition=browser_sales.csv",
        ["anomalies", "threshold", "top_anomalies", "anomalies_csv"],
    )
    assert "z_score" in anomalies and "revenue_per_unit" in anomalies
    url = f"{stack.url}/assets/cleaned_sales?view=partitions&partition=browser_sales.csv"
    cleaned = browser.page_text(url, ["rows_read", "rows_rejected", "rejected_by_reason", "cleaned_parquet"])
    assert "not_a_number" in cleaned and "zero_quantity" in cleaned
    browser.screenshot(url, "cleaned_sales_materialization.png")


def test_failed_run_page_shows_the_persons_message(stack, runs, browser):
    url = f"{stack.url}/runs/{runs['bad']}"
    text = browser.page_text(url, [MISSING_DISCOUNT, "STEP_FAILURE"])
    assert "cleaned_sales" in text
    browser.screenshot(url, "failed_run.png")
