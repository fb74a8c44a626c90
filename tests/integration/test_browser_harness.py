"""The browser harness of the end-to-end tests (tests/browser.py), on pages of its own: Debian's
chromium driven by Playwright, axe-core finding what a page gets wrong, the Tab key walking the
page, and screenshots. No service and no infrastructure: the pages come from a small HTTP server
in a thread of this process.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.browser import (
    axe_violations,
    browser_fixture,
    describe_violations,
    keyboard_reachable,
    opened_page,
    require_browser,
    screenshot,
    tab_order,
    unreachable,
)

ACCESSIBLE = """<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>Tableau de bord</title></head>
<body>
<header><nav aria-label="Principale"><a href="/">Accueil</a> <a href="/rapports">Rapports</a></nav></header>
<main>
  <h1>Tableau de bord</h1>
  <p>Trois actions sont en cours, deux sont terminées.</p>
  <form action="/" method="get">
    <label for="q">Rechercher une action</label> <input id="q" name="q" type="search">
    <button type="submit">Chercher</button>
  </form>
  <table>
    <caption>Actions par commune</caption>
    <thead><tr><th scope="col">Commune</th><th scope="col">Actions</th></tr></thead>
    <tbody><tr><td>Anderlecht</td><td>12</td></tr><tr><td>Schaerbeek</td><td>9</td></tr></tbody>
  </table>
</main>
</body>
</html>"""

# An image without a text alternative, text too pale to read (about 1.6:1 against white, where
# WCAG AA asks 4.5:1), a field without a label, a link whose focus does not show and one that
# Tab skips.
INACCESSIBLE = """<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>Page mal faite</title></head>
<body>
<main>
  <h1>Page mal faite</h1>
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="40" height="40">
  <p style="color: #d0d0d0; background: #ffffff">Texte trop pâle pour être lu.</p>
  <input type="text" name="commune">
  <a id="sans-contour" href="/" style="outline: none">Sans contour</a>
  <a id="hors-parcours" href="/rapports" tabindex="-1">Hors du parcours</a>
</main>
</body>
</html>"""

PAGES = {
    "/": (ACCESSIBLE, {}),
    "/mal-faite": (INACCESSIBLE, {}),
    # The services' pages should refuse inline scripts: axe must load into them all the same.
    "/csp": (ACCESSIBLE, {"Content-Security-Policy": "default-src 'self'"}),
}


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path not in PAGES:
            self.send_error(404)
            return
        html, headers = PAGES[path]
        body = html.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: pytest shows what failed


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, name="browser-harness-pages", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


browser = browser_fixture()


@pytest.fixture
async def page(browser: Browser, site: str) -> AsyncIterator[Page]:
    async with opened_page(browser, base_url=site) as page:
        yield page


# --- accessibility ------------------------------------------------------------------------------


async def test_an_accessible_page_has_no_serious_or_critical_violation(page: Page) -> None:
    await page.goto("/")
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)


async def test_an_image_without_alt_pale_text_and_an_unlabelled_field_are_each_reported(page: Page) -> None:
    await page.goto("/mal-faite")
    violations = await axe_violations(page)
    by_id = {v["id"]: v for v in violations}
    assert {"image-alt", "color-contrast", "label"} <= by_id.keys(), describe_violations(violations)
    assert by_id["image-alt"]["targets"] == ["img"]
    assert by_id["label"]["targets"] == ["input"]  # axe's shortest unique selector
    assert all(v["impact"] in ("serious", "critical") for v in violations)
    message = describe_violations(violations)
    assert "- image-alt (critical): Images must have alternative text" in message
    assert "contrast" in message and "4.5:1" in message  # axe's summary says what ratio is needed


async def test_axe_loads_into_a_page_whose_content_security_policy_refuses_inline_scripts(page: Page) -> None:
    await page.goto("/csp")
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    # The policy is still in force for the page's own inline scripts.
    assert await page.evaluate("typeof window.axe") == "object"
    blocked = await page.evaluate(
        """() => { const s = document.createElement('script'); s.text = 'window.inline = 1';
                   document.head.appendChild(s); return window.inline === undefined; }"""
    )
    assert blocked


# --- the keyboard -------------------------------------------------------------------------------


async def test_the_tab_key_reaches_every_link_field_and_button_in_order_and_their_focus_shows(page: Page) -> None:
    await page.goto("/")
    assert await keyboard_reachable(page, "a[href='/rapports']")
    stops = await tab_order(page)
    assert [s.description for s in stops] == [
        'a[href="/"] "Accueil"',
        'a[href="/rapports"] "Rapports"',
        'input#q[type="search"][name="q"]',
        'button[type="submit"] "Chercher"',
    ]
    assert all(s.focus_visible for s in stops), stops
    assert await unreachable(page) == []


async def test_a_focus_without_outline_and_a_link_out_of_the_tab_order_are_found(page: Page) -> None:
    await page.goto("/mal-faite")
    stops = {s.description: s for s in await tab_order(page)}
    assert stops['a#sans-contour[href="/"] "Sans contour"'].focus_visible is False
    assert stops['input[type="text"][name="commune"]'].focus_visible is True
    assert await unreachable(page) == ['a#hors-parcours[href="/rapports"] "Hors du parcours"']
    assert not await keyboard_reachable(page, "#hors-parcours")


# --- screenshots --------------------------------------------------------------------------------


async def test_a_screenshot_is_a_full_page_png_in_the_screenshots_directory(
    page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSERELLE_SCREENSHOTS_DIR", str(tmp_path / "shots"))
    await page.set_viewport_size({"width": 800, "height": 200})  # shorter than the page
    await page.goto("/")
    path = await screenshot(page, "tableau de bord/accueil")
    assert path == tmp_path / "shots" / "tableau-de-bord-accueil.png"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5_000
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert width == 800 and height > 200  # the whole page, not the viewport


# --- without a browser --------------------------------------------------------------------------


def test_without_chromium_the_browser_tests_skip_saying_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSERELLE_CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PASSERELLE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"no Chromium at /nonexistent/chromium .*scripts/install"):
        require_browser()


@pytest.mark.parametrize("variable", ["CI", "PASSERELLE_REQUIRE_BROWSER"])
def test_without_chromium_the_browser_tests_fail_under_ci_or_when_a_browser_is_required(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSERELLE_CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PASSERELLE_REQUIRE_BROWSER", raising=False)
    monkeypatch.setenv(variable, "true")
    with pytest.raises(pytest.fail.Exception, match="a browser is required here"):
        require_browser()
