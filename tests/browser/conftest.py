"""Browser tests: start the real service in demo mode and drive headless Chromium
through Selenium with the system chromedriver (no browser downloads)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PROVINCE_PASSWORD = "province-browser-test"
OPERATOR_PASSWORD = "operator-browser-test"
DEMO_PASSWORD = "demo-pass"
START_TIMEOUT_S = 180


def _in_ci() -> bool:
    return os.environ.get("CI") == "true"


def _need(condition: bool, why: str) -> None:
    """Skip when a browser is missing on a developer's machine; fail in CI."""
    if condition:
        return
    if _in_ci():
        pytest.fail(f"{why} (CI=true: browser tests must run)")
    pytest.skip(why)


def _emx_command() -> list[str]:
    exe = Path(sys.executable).with_name("emx")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("emx")
    if found:
        return [found]
    return [sys.executable, "-m", "exchange.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, base_url: str, proc: subprocess.Popen, log_path: Path):
        self.base_url = base_url
        self.proc = proc
        self.log_path = log_path

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@pytest.fixture(scope="session")
def service(tmp_path_factory) -> Service:
    _need(Path(CHROMIUM).exists(), "chromium is not installed")
    _need(Path(CHROMEDRIVER).exists(), "chromedriver is not installed")
    work = tmp_path_factory.mktemp("emx-browser")
    port = _free_port()
    env = dict(os.environ)
    env.update(
        EMX_DATABASE_URL=f"sqlite:///{work / 'emx.db'}",
        EMX_PROVINCE_PASSWORD=PROVINCE_PASSWORD,
        EMX_OPERATOR_PASSWORD=OPERATOR_PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    env.pop("EMX_REDIS_URL", None)
    log_path = work / "service.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [*_emx_command(), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    svc = Service(f"http://127.0.0.1:{port}", proc, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"emx serve exited with {proc.returncode}:\n{svc.log_tail()}")
            try:
                with urllib.request.urlopen(svc.base_url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"emx serve not healthy after {START_TIMEOUT_S} s:\n{svc.log_tail()}")
            time.sleep(0.5)
        yield svc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@pytest.fixture(scope="session")
def _chrome_service():
    from selenium.webdriver.chrome.service import Service as ChromeService

    return ChromeService(executable_path=CHROMEDRIVER)


# Chrome logs every 4xx answer as a console error: a test that provokes a refusal on
# purpose (a price outside the band, an approval above the claim) says so with
# allow_refusals(driver), and only those answers are then let through.
_REFUSAL = re.compile(
    r"/api/v1/\S* - Failed to load resource: the server responded with a status of 4\d\d"
)


def allow_refusals(driver) -> None:
    driver.emx_allow_refusals = True


def console_errors(driver) -> list[str]:
    tolerate = getattr(driver, "emx_allow_refusals", False)
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e.get("level") == "SEVERE" and not (tolerate and _REFUSAL.search(e.get("message", "")))
    ]


def open_browser(chrome_service, width: int = 1440, height: int = 900, lang: str | None = None):
    """Headless Chromium with a viewport of exactly width x height (a phone below 500 px)."""
    from selenium import webdriver

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={max(width, 500)},{height + 100}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=chrome_service, options=opts)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500},
    )
    if lang:
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": f"localStorage.setItem('emx.lang', '{lang}');"},
        )
    return driver


def _close(driver, service) -> list[str]:
    errors: list[str] = []
    with contextlib.suppress(Exception):
        errors = console_errors(driver)
    driver.quit()
    if service.proc.poll() is not None:
        pytest.fail(f"emx serve died ({service.proc.returncode}):\n{service.log_tail()}")
    return errors


@pytest.fixture
def browser(service, _chrome_service):
    """A fresh headless Chromium per test at 1440x900 (a clean localStorage, so a clean
    login, in the default language). The test fails on any console error."""
    driver = open_browser(_chrome_service)
    yield driver
    errors = _close(driver, service)
    assert not errors, "browser console errors:\n  " + "\n  ".join(errors)


@pytest.fixture
def phone(service, _chrome_service):
    """The same at 390x844, a phone."""
    driver = open_browser(_chrome_service, 390, 844)
    yield driver
    errors = _close(driver, service)
    assert not errors, "browser console errors:\n  " + "\n  ".join(errors)


SCREENSHOTS = Path(os.environ.get("EMX_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots"))


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter):
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.glob("*.png")):
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS}")


def api(base_url: str, method: str, path: str, body=None, token: str | None = None):
    """Call the service's API directly (to set the scene for a page). Returns (status, body)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base_url + "/api/v1" + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw else None)


def api_login(base_url: str, username: str, password: str) -> dict:
    status, body = api(base_url, "POST", "/session", {"username": username, "password": password})
    assert status == 200, (status, body)
    return body


def login(driver, base_url: str, username: str, password: str, landing: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base_url + "/")
    WebDriverWait(driver, 20).until(ec.element_to_be_clickable((By.ID, "username")))
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, 30).until(ec.url_contains(landing))
