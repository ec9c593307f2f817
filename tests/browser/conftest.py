"""The built book served on localhost and one headless Chromium for tests/browser (``make browser-test``).

Chromium and its driver are Debian's (``make browser-deps``); nothing is downloaded. Every host but
the local server resolves to nothing (--host-resolver-rules), so external assets fail at once and
the same way on every machine; they are listed at the end of the run, not counted as failures.
"""
import functools
import http.server
import json
import os
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("LTH_BOOK_HTML", ROOT / "_build" / "html"))
SCREENSHOTS = Path(os.environ.get("LTH_SCREENSHOTS", ROOT / "_build" / "screenshots"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1024",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]



def book_pages() -> list:
    """Every HTML page of the book (not Sphinx's _static, _sources, _images folders)."""
    return sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*.html")
                  if not any(part.startswith("_") for part in p.relative_to(SITE).parts))


def pytest_generate_tests(metafunc):
    if "page" in metafunc.fixturenames:
        metafunc.parametrize("page", book_pages())


def pytest_configure(config):
    config.external_failures = {}  # page -> what outside the book failed to load on it


@pytest.fixture(scope="session")
def site_dir():
    return SITE


@pytest.fixture(scope="session")
def external_failures(pytestconfig):
    return pytestconfig.external_failures


# Installed before any script of the page runs: records uncaught errors, rejected promises and
# elements whose resource failed to load (an <img>, <script> or <link> error event does not bubble).
RECORDER = """
window.__pageErrors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  if (t && t !== window && (t.src || t.href)) {
    window.__pageErrors.push({kind: 'resource', url: t.src || t.href, tag: t.tagName});
  } else {
    window.__pageErrors.push({kind: 'script', message: String(e.message), url: e.filename || '', line: e.lineno});
  }
}, true);
window.addEventListener('unhandledrejection', function (e) {
  window.__pageErrors.push({kind: 'script', message: 'unhandled rejection: ' + String(e.reason), url: ''});
});
"""

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def base_url():
    if not (SITE / "index.html").exists():
        pytest.fail(f"no book at {SITE}: run `make book` first")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    (SCREENSHOTS / "external-failures.json").unlink(missing_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    profile = tempfile.mkdtemp(prefix="lth-chromium-")
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(120)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
    yield driver
    driver.quit()


def pytest_terminal_summary(terminalreporter, config):
    failures = config.external_failures
    if not failures:
        return
    (SCREENSHOTS / "external-failures.json").write_text(json.dumps(failures, indent=1, sort_keys=True))
    assets = sorted({item for items in failures.values() for item in items})
    terminalreporter.write_sep("-", f"not counted: {len(assets)} external links or assets failed to load "
                                    f"(no network here) on {len(failures)} pages; "
                                    f"{SCREENSHOTS.name}/external-failures.json lists them by page")
    for item in assets:
        terminalreporter.write_line(f"  {item}")
