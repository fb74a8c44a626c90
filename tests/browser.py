"""A real browser for end-to-end tests: Playwright (async API) driving Debian's chromium, with
axe-core for accessibility, full-page screenshots and keyboard navigation.

Nothing here is downloaded at test time. ``scripts/install`` puts the pieces in place: the
``chromium`` apt package (or any Chromium named by PASSERELLE_CHROMIUM), Playwright from
requirements/dev.txt (its Node driver is in the wheel; it never fetches a browser of its own, as
``launched_chromium`` names the executable), and axe-core from npm in ``.run/node``.

A test module takes one browser for the session and a fresh page (a context of its own) per test::

    browser = browser_fixture()

    @pytest.fixture
    async def page(browser: Browser, dashboard_url: str) -> AsyncIterator[Page]:
        async with opened_page(browser, base_url=dashboard_url) as page:
            yield page

    async def test_the_overview_has_no_serious_accessibility_violation(page: Page) -> None:
        await page.goto("/")
        violations = await axe_violations(page)
        assert not violations, describe_violations(violations)

Without a browser the tests skip, saying why; with PASSERELLE_REQUIRE_BROWSER set, or under CI
(CI=true), they fail instead, so that a broken install cannot pass unnoticed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import pytest
from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_CHROMIUM = "/usr/bin/chromium"

# Running as root in a container: Chromium's sandbox needs user namespaces that containers
# rarely grant, and /dev/shm is often a 64 MiB tmpfs too small for its shared memory.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-dev-shm-usage")

# What axe checks: WCAG 2.0 and 2.1, levels A and AA, and its own best practices.
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice")
SERIOUS = ("serious", "critical")

# What a keyboard user must be able to reach, unless it is disabled or hidden.
INTERACTIVE = (
    "a[href], button, input:not([type=hidden]), select, textarea, summary, "
    "[tabindex]:not([tabindex='-1']), [contenteditable='true']"
)


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def run_dir() -> Path:
    return Path(os.environ.get("PASSERELLE_RUN_DIR") or ROOT / ".run")


def chromium_path() -> str:
    """The Chromium the tests drive: PASSERELLE_CHROMIUM, or Debian's."""
    return os.environ.get("PASSERELLE_CHROMIUM") or DEFAULT_CHROMIUM


def axe_script() -> Path:
    """axe.min.js as ``scripts/install`` puts it (the version is pinned there)."""
    return run_dir() / "node" / "node_modules" / "axe-core" / "axe.min.js"


def screenshots_dir() -> Path:
    return Path(os.environ.get("PASSERELLE_SCREENSHOTS_DIR") or run_dir() / "screenshots")


def browser_required() -> bool:
    """Whether a missing browser fails the tests rather than skipping them."""
    return _truthy("PASSERELLE_REQUIRE_BROWSER") or _truthy("CI")


def _chromium_missing() -> str | None:
    path = chromium_path()
    resolved = shutil.which(path)
    if resolved is None or not os.access(resolved, os.X_OK):
        return f"no Chromium at {path} (install it with scripts/install, or name one with PASSERELLE_CHROMIUM)"
    return None


def require_browser() -> None:
    """Skip the test when there is no Chromium, or fail it when a browser is required (CI=true or
    PASSERELLE_REQUIRE_BROWSER). axe-core missing always fails: whoever has the browser ran
    scripts/install, which installs both."""
    reason = _chromium_missing()
    if reason is not None:
        if browser_required():
            pytest.fail(f"{reason}; a browser is required here (CI or PASSERELLE_REQUIRE_BROWSER)")
        pytest.skip(reason)
    if not axe_script().is_file():
        pytest.fail(f"axe-core is missing ({axe_script()}): run scripts/install")


# --- the browser --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def launched_chromium(*, args: Sequence[str] = (), **options: Any) -> AsyncIterator[Browser]:
    """Chromium, headless, launched by Playwright from ``chromium_path()`` and closed afterwards.
    Skips or fails the calling test as ``require_browser`` says when there is none."""
    require_browser()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=shutil.which(chromium_path()) or chromium_path(),
            headless=True,
            args=[*CHROMIUM_ARGS, *args],
            **options,
        )
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def opened_page(browser: Browser, *, base_url: str | None = None, **options: Any) -> AsyncIterator[Page]:
    """A page in a context of its own (no cookies or storage shared with another test)."""
    options.setdefault("viewport", {"width": 1280, "height": 800})
    if base_url is not None:
        options["base_url"] = base_url
    context = await browser.new_context(**options)
    try:
        yield await context.new_page()
    finally:
        await context.close()


def browser_fixture(*, scope: Any = "session", **launch: Any) -> Any:
    """A fixture launching one Chromium for the session (or ``scope``); assign it to a module
    name: ``browser = browser_fixture()``."""

    @pytest.fixture(scope=scope, name="browser")
    async def browser() -> AsyncIterator[Browser]:
        async with launched_chromium(**launch) as launched:
            yield launched

    return browser


# --- accessibility ------------------------------------------------------------------------------


class Violation(TypedDict):
    id: str
    impact: str
    help: str
    help_url: str
    targets: list[str]  # a CSS selector per failing node (frames and shadow roots joined by " >>> ")
    summaries: list[str]  # axe's explanation per node: what to fix (the contrast ratio found…)


_AXE_RUN = """async ({tags, impacts}) => {
    const results = await window.axe.run(document, {runOnly: {type: 'tag', values: tags}});
    const selector = (target) => target.map((t) => Array.isArray(t) ? t.join(' >>> ') : t).join(' >>> ');
    return results.violations
        .filter((v) => impacts.includes(v.impact))
        .map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            help_url: v.helpUrl,
            targets: v.nodes.map((n) => selector(n.target)),
            summaries: v.nodes.map((n) => n.failureSummary || ''),
        }));
}"""


async def axe_violations(
    page: Page, *, impacts: Sequence[str] = SERIOUS, tags: Sequence[str] = AXE_TAGS
) -> list[Violation]:
    """Run axe-core on the page as it is now and return its violations of these impacts
    (``("minor", "moderate", "serious", "critical")`` for all)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        script = axe_script()
        if not script.is_file():
            raise AssertionError(f"axe-core is missing ({script}): run scripts/install")
        try:
            await page.add_script_tag(path=script)
        except PlaywrightError as e:
            if "Content Security Policy" not in str(e):
                raise
            # The page's CSP refuses inline scripts (as the services' pages should): evaluate the
            # script through the DevTools protocol instead, which the CSP does not govern, rather
            # than test every page with its CSP turned off (bypass_csp).
            await page.evaluate(script.read_text(encoding="utf-8"))
    violations: list[Violation] = await page.evaluate(_AXE_RUN, {"tags": list(tags), "impacts": list(impacts)})
    return violations


def describe_violations(violations: Sequence[Violation]) -> str:
    """The violations, readably, for an assertion message."""
    if not violations:
        return "no accessibility violation"
    lines = [f"{len(violations)} accessibility violation(s):"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}  <{v['help_url']}>")
        for target, summary in zip(v["targets"], v["summaries"], strict=False):
            detail = " ".join(summary.split())
            lines.append(f"    {target}" + (f"  — {detail}" if detail else ""))
    return "\n".join(lines)


# --- screenshots --------------------------------------------------------------------------------


async def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of the page, as ``<screenshots dir>/<name>.png`` (PASSERELLE_SCREENSHOTS_DIR,
    by default .run/screenshots); returns its path."""
    safe = re.sub(r"[^\w.-]+", "-", name).strip("-.") or "page"
    directory = screenshots_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{safe}.png"
    await page.screenshot(path=path, full_page=True)
    return path


# --- the keyboard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FocusStop:
    """One element the Tab key reached: how it reads (``a[href="/x"] "Plan"``) and whether its
    focus shows (an outline or a box-shadow; a focus shown otherwise, by a border or a colour,
    does not count)."""

    description: str
    focus_visible: bool


# Prepares the page for a walk with the Tab key: a function describing an element
# (``a[href="/x"] "Plan"``), an empty list of the elements reached, and the focus moved to the top
# of the page (a focusable element put first, focused, then removed: Chromium then starts the
# next Tab from where it was, as it would for a page just loaded).
_START = """() => {
    window.__passerelleDescribe = (el) => {
        let d = el.tagName.toLowerCase();
        if (el.id) d += '#' + el.id;
        for (const name of ['href', 'type', 'name', 'role']) {
            const value = el.getAttribute(name);
            if (value) d += `[${name}="${value}"]`;
        }
        const label = (el.getAttribute('aria-label') || el.innerText || el.value || el.title || '').trim();
        return label ? `${d} "${label.replace(/\\s+/g, ' ').slice(0, 60)}"` : d;
    };
    window.__passerelleTabbed = [];
    const start = document.createElement('span');
    start.tabIndex = -1;
    document.body.prepend(start);
    start.focus();
    start.remove();
}"""

# The element the last Tab focused: null when the focus is on the body or left the page, "again"
# when it was reached before (the walk went round), else how it reads, whether its focus shows,
# and whether it matches the selector given. Remembered in the page for unreachable().
_FOCUSED = """(selector) => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    if (window.__passerelleTabbed.includes(el)) return 'again';
    window.__passerelleTabbed.push(el);
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const shadow = style.boxShadow !== 'none' && style.boxShadow !== '';
    return {
        description: window.__passerelleDescribe(el),
        visible: outline || shadow,
        matches: selector !== null && el.matches(selector),
    };
}"""


async def _walk(page: Page, selector: str | None, max_tabs: int) -> AsyncGenerator[tuple[FocusStop, bool]]:
    """Press Tab from the top of the page until the focus leaves the page or comes back to an
    element it reached (at most ``max_tabs`` times): each element reached, and whether it matches
    ``selector``."""
    await page.evaluate(_START)
    reached = False
    for _ in range(max_tabs):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(_FOCUSED, selector)
        if focused == "again" or (focused is None and reached):
            return  # round the page, or past its last element into the browser's own controls
        if focused is None:
            continue
        reached = True
        yield FocusStop(focused["description"], bool(focused["visible"])), bool(focused["matches"])


async def tab_order(page: Page, *, max_tabs: int = 100) -> list[FocusStop]:
    """The elements Tab reaches from the top of the page, in order, until the focus leaves the
    page or goes round (at most ``max_tabs`` presses)."""
    return [stop async for stop, _ in _walk(page, None, max_tabs)]


async def keyboard_reachable(page: Page, selector: str, *, max_tabs: int = 100) -> bool:
    """Whether pressing Tab from the top of the page (at most ``max_tabs`` times) focuses an
    element matching ``selector``."""
    async with contextlib.aclosing(_walk(page, selector, max_tabs)) as walk:
        async for _, matches in walk:
            if matches:
                return True
    return False


async def unreachable(page: Page, selector: str = INTERACTIVE, *, max_tabs: int = 200) -> list[str]:
    """The visible, enabled elements matching ``selector`` (by default every link, button and form
    field) that Tab never focuses, described as in ``tab_order``."""
    await tab_order(page, max_tabs=max_tabs)
    missed: list[str] = await page.evaluate(
        """(s) => Array.from(document.querySelectorAll(s))
            .filter((el) => !el.disabled && !el.closest('[inert]') && el.getClientRects().length > 0
                && getComputedStyle(el).visibility !== 'hidden')
            .filter((el) => !window.__passerelleTabbed.includes(el))
            .map((el) => window.__passerelleDescribe(el))""",
        selector,
    )
    return missed
