"""Every page of the built book, loaded in headless Chromium as a reader would (``make browser-test``).

A page fails on a JavaScript error, a local asset or image that does not load, a link to a page
or anchor of the book that does not exist, a notebook cell that shows an error, a figure that did
not render, or maths that MathJax did not typeset (from the book's own copy: no CDN). Each page
leaves a screenshot in _build/screenshots/.
"""
import re
import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

MAX_SCREENSHOT_HEIGHT = 16000

INSPECT = """
var images = Array.from(document.images).map(function (i) {
  return {src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0, done: i.complete,
          inOutput: !!i.closest('.cell_output, figure, .figure')};
});
var outputs = Array.from(document.querySelectorAll('.cell_output'));
return {
  errors: window.__pageErrors || [],
  links: Array.from(document.querySelectorAll('a[href]')).map(function (a) { return a.href; }),
  images: images,
  tracebacks: Array.from(document.querySelectorAll('.cell_output .traceback, .output.traceback, .output.error'))
               .map(function (e) { return e.innerText.slice(0, 300); }),
  outputText: outputs.map(function (e) { return e.innerText; }).join('\\n'),
  cells: document.querySelectorAll('.cell').length,
  maths: document.querySelectorAll('.math').length,
  typeset: document.querySelectorAll('mjx-container').length,
  height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight),
  title: document.title
};
"""


def _is_local(url: str, base_url: str) -> bool:
    return url.startswith(base_url) or urlsplit(url).scheme in ("", "data", "blob", "about")


@lru_cache(maxsize=None)
def _anchors(path: Path) -> frozenset:
    text = path.read_text(encoding="utf-8", errors="replace")
    return frozenset(re.findall(r'\b(?:id|name)="([^"]+)"', text))


def _broken_internal_link(url: str, base_url: str, site: Path) -> str | None:
    """Why a link into the book is broken, or None if it resolves to a file (and anchor) that exists."""
    target, fragment = urldefrag(url)
    relative = unquote(urlsplit(target).path)[len(urlsplit(base_url).path):]
    path = site / relative
    if not relative or path.is_dir():
        path = path / "index.html"
    if not path.is_file():
        return f"{url}: no such file {path.relative_to(site)}"
    if fragment and path.suffix == ".html" and unquote(fragment) not in _anchors(path):
        return f"{url}: no anchor #{fragment} in {path.relative_to(site)}"
    return None


def _screenshot(driver, page: str, height: int, folder: Path) -> Path:
    """The whole page (up to MAX_SCREENSHOT_HEIGHT pixels) as a PNG named after it: the viewport is
    stretched to the page's height for the shot, so the layout is the one a reader scrolls through."""
    import base64

    shot = folder / (page.removesuffix(".html").replace("/", "__") + ".png")
    metrics = {"width": 1280, "height": min(height, MAX_SCREENSHOT_HEIGHT), "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        data = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})["data"]
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    shot.write_bytes(base64.b64decode(data))
    return shot


def test_the_book_has_pages(site_dir):
    pages = [str(p.relative_to(site_dir)) for p in site_dir.rglob("*.html")]
    assert "index.html" in pages and any(p.startswith("book/chapters/") for p in pages), pages


def _inspect(browser, deadline: float) -> dict:
    """INSPECT's answer, retried until ``deadline`` while the page has no document body: index.html
    redirects to the introduction, and a slow machine can catch it between the two documents."""
    from selenium.common.exceptions import JavascriptException

    while True:
        try:
            return browser.execute_script(INSPECT)
        except JavascriptException:
            if time.time() >= deadline:
                raise
            time.sleep(0.25)


def test_page_loads_cleanly(page, browser, base_url, site_dir, screenshots, external_failures):
    browser.get_log("browser")  # drop what the previous page left
    browser.get(base_url + page)
    deadline = time.time() + 20
    state = _inspect(browser, deadline)
    # MathJax typesets after the page loads; the book ships its own copy (sphinx-mathjax-offline), and every
    # host but the local server resolves to nothing here, so maths typeset at all means typeset offline
    while time.time() < deadline and (not all(i["done"] for i in state["images"]) or state["maths"] > state["typeset"]):
        time.sleep(0.25)
        state = _inspect(browser, deadline)
    console = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]

    problems, external = [], []
    for error in state["errors"]:
        url = error.get("url", "")
        if error["kind"] == "resource":
            (problems if _is_local(url, base_url) else external).append(f"did not load: {error['tag'].lower()} {url}")
        elif url and not _is_local(url, base_url):
            external.append(f"script error in {url}: {error['message']}")
        else:
            problems.append(f"JavaScript error: {error['message']} ({url}:{error.get('line')})")
    script_errors_seen = any(e["kind"] == "script" for e in state["errors"])
    for entry in console:
        message = entry["message"]
        source = message.split(" ", 1)[0]
        if source == base_url + "favicon.ico":
            continue  # asked for by the browser unprompted; the book has no icon
        if "Failed to load resource" in message or "net::ERR_" in message:
            (problems if _is_local(source, base_url) else external).append(f"did not load: {message}")
        elif not ("Uncaught" in message and script_errors_seen):  # those are listed above already
            (problems if _is_local(source, base_url) else external).append(f"console error: {message}")
    for image in state["images"]:
        if not image["ok"]:
            if _is_local(image["src"], base_url):
                problems.append(f"image did not load: {image['src']}")
            else:
                external.append(f"image {image['src']}")
    for link in sorted(set(state["links"])):
        if link.startswith(base_url):
            broken = _broken_internal_link(link, base_url, site_dir)
            if broken:
                problems.append(f"broken link {broken}")
    problems += [f"error output in a cell: {text}" for text in state["tracebacks"]]
    if state["maths"] > state["typeset"]:
        problems.append(f"{state['maths'] - state['typeset']} of the page's {state['maths']} formulas not typeset "
                        "by MathJax (is its local copy, _static/mathjax, in the build?)")
    unrendered = re.findall(r"<Figure size [^>]+>", state["outputText"])
    problems += [f"figure shown as text, not drawn: {text}" for text in unrendered]
    if page.startswith("book/chapters/") and state["cells"]:
        if not any(i["ok"] and i["inOutput"] for i in state["images"]):
            problems.append("a chapter built from a notebook shows no figure")

    shot = _screenshot(browser, page, state["height"], screenshots)
    if external:
        external_failures[page] = sorted(set(external))
    assert shot.stat().st_size > 0
    assert not problems, f"{page} ({state['title']}):\n  " + "\n  ".join(problems)
