"""The operator dashboard as a person uses it: a real Chromium (Debian's, driven by Playwright)
signs in with an API key, watches the pages while the other services' APIs cause events, and
reads the same numbers those APIs give, in French and in Dutch, without reloading. Every page is
checked with axe-core (no serious or critical violation) and with the keyboard alone, and
photographed (``.run/screenshots``, or PASSERELLE_SCREENSHOTS_DIR) for a reviewer's eyes."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page

from services.dashboard.pages import equipment as equipment_page
from services.dashboard.pages import funding as funding_page
from services.dashboard.pages import plan as plan_page
from services.dashboard.web import today
from tests.browser import axe_violations, browser_fixture, describe_violations, opened_page, screenshot, unreachable
from tests.e2e.conftest import call
from tests.support import ServiceProcess

pytestmark = pytest.mark.infra

browser = browser_fixture(scope="module")
PAGES = ("/", "/equipment", "/funding", "/feed", "/system")
SEED = json.loads((Path(__file__).resolve().parents[2] / "services/actions/seed/plan.json").read_text("utf-8"))


@pytest.fixture
async def page(browser: Browser, system: dict[str, ServiceProcess]) -> AsyncIterator[Page]:
    async with opened_page(browser, base_url=system["dashboard"].url) as page:
        yield page


def coordination_key(process: ServiceProcess) -> str:
    return process.cli("keys", "create", "--organisation", "coordination-inclusion-numerique", "--role", "coordination")


async def sign_in(page: Page, key: str) -> None:
    await page.goto("/")
    assert "/login" in page.url, "a page without a session leads to the sign-in form"
    await page.get_by_label("Clé d'API").fill(key)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url("**/")


async def all_actions_shown(page: Page) -> None:
    async def count() -> int:
        await page.goto("/")
        return await page.locator("tr[data-action]").count()

    deadline = time.monotonic() + 60
    while await count() < 66:
        assert time.monotonic() < deadline, "the dashboard did not show the 66 actions within 60 s"
        await page.wait_for_timeout(500)


async def test_the_plan_page_shows_what_the_actions_service_says_and_follows_a_delivery_without_reloading(
    system: dict[str, ServiceProcess], page: Page
) -> None:
    dashboard, actions, equipment = system["dashboard"], system["actions"], system["equipment"]
    await sign_in(page, coordination_key(dashboard))
    await all_actions_shown(page)

    listed = call(actions.url + "/actions")[1]
    by_status = Counter(a["status"] for a in (listed["actions"] if isinstance(listed, dict) else listed))
    for status, count in by_status.items():
        assert await page.locator(f'[data-status="{status}"]').inner_text() == str(count)

    await page.evaluate("window.__stayed = true")  # gone if the page reloads
    token = equipment.cli("create-api-key", "--organisation", "caban", "--role", "refurbisher")
    delivery = {
        "recipient": "asbl-devoirs-exemple",
        "recipient_kind": "pupils-association",
        "devices": {"laptop": 20, "tablet": 5},
        "public": "young-people",
        "beneficiaries": 25,
        "commune": "Anderlecht",
        "delivered_on": "2026-11-20",
    }
    status, body = call(equipment.url + "/deliveries", delivery, token)
    assert status == 201, body

    value = page.locator('[data-indicator="a46-devices-pupils"] [data-field="value"]')
    await value.filter(has_text=re.compile(r"^\s*25\s*$")).wait_for(timeout=30_000)
    assert await page.evaluate("window.__stayed === true"), "the figure changed without a reload"
    detail = call(actions.url + "/actions/46")[1]
    api_value = next(i["current_value"] for i in detail["indicators"] if i["code"] == "a46-devices-pupils")
    assert api_value == 25

    # The flow of the delivery, across the services: the equipment's event and the indicator it moved.
    await page.goto("/feed?type=IndicatorMeasured")
    await page.locator("#feed-rows tr").first.get_by_role("link").click()
    trail = page.get_by_test_id("trail")
    await trail.wait_for()
    text = await trail.inner_text()
    assert "DevicesDelivered" in text and "IndicatorMeasured" in text, text


async def test_the_feed_shows_an_event_within_a_second_of_its_publication(
    system: dict[str, ServiceProcess], page: Page
) -> None:
    dashboard, actions = system["dashboard"], system["actions"]
    await sign_in(page, coordination_key(dashboard))
    await all_actions_shown(page)
    await page.goto("/feed?topic=passerelle.actions.v1")
    await page.get_by_text("Mises à jour en direct actives.").wait_for()
    await page.evaluate("window.__stayed = true")

    key = actions.cli("create-api-key", "--organisation", "coordination-inclusion-numerique", "--role", "coordination")
    status, body = call(actions.url + "/actions/12/status", {"status": "in_progress", "traffic_light": "on_track"}, key)
    assert status == 200, body
    row = page.locator('#feed-rows tr[data-type="ActionStatusChanged"]')
    await row.first.wait_for(timeout=10_000)
    occurred = await row.first.locator("time").get_attribute("datetime")
    shown_at = await page.evaluate("Date.now()")
    assert occurred is not None
    latency_s = shown_at / 1000 - datetime.fromisoformat(occurred).timestamp()
    assert latency_s < 1.0 + 0.5, f"shown {latency_s:.2f} s after it happened (1 s, with this machine's jitter)"
    assert await page.evaluate("window.__stayed === true")


async def test_every_page_in_french_and_dutch_is_accessible_usable_by_keyboard_and_photographed(
    system: dict[str, ServiceProcess], page: Page
) -> None:
    await sign_in(page, coordination_key(system["dashboard"]))
    await all_actions_shown(page)
    problems: list[str] = []
    for lang in ("fr", "nl"):
        for path in PAGES:
            await page.goto(f"{path}?lang={lang}")
            assert await page.locator("html").get_attribute("lang") == lang
            name = path.strip("/") or "plan"
            await screenshot(page, f"dashboard-{name}-{lang}")  # before the keyboard walk moves the focus
            violations = await axe_violations(page)
            if violations:
                problems.append(f"{path} ({lang}):\n{describe_violations(violations)}")
            missed = await unreachable(page)
            if missed:
                problems.append(f"{path} ({lang}): not reachable with Tab: {missed}")
    assert not problems, "\n".join(problems)


async def test_the_partner_view_is_accessible_and_has_no_system_page(
    system: dict[str, ServiceProcess], page: Page
) -> None:
    partner = system["dashboard"].cli("keys", "create", "--organisation", "bruxelles-formation", "--role", "partner")
    await sign_in(page, partner)
    assert await page.get_by_role("link", name="Système").count() == 0
    problems: list[str] = []
    for path in ("/", "/equipment", "/funding", "/feed"):
        await page.goto(f"{path}?lang=nl")
        await screenshot(page, f"dashboard-partner-{path.strip('/') or 'plan'}-nl")
        violations = await axe_violations(page)
        if violations:
            problems.append(f"{path} (partner):\n{describe_violations(violations)}")
    assert not problems, "\n".join(problems)
    answer = await page.goto("/system")
    assert answer is not None and answer.status == 403


async def test_no_dutch_view_shows_a_french_title(system: dict[str, ServiceProcess], page: Page) -> None:
    await sign_in(page, coordination_key(system["dashboard"]))
    await all_actions_shown(page)
    await page.goto("/?lang=nl")
    text = await page.locator("main").inner_text()
    french = [a["title_fr"] for a in SEED["actions"] if a["title_fr"] in text]
    french += [c["title_fr"] for c in SEED["chantiers"] if c["title_fr"] in text]
    assert not french, f"French titles on the Dutch plan page: {french}"
    for axis in SEED["axes"]:  # "Sensibiliser" is the start of "Sensibiliseren": the headings whole
        heading = await page.locator(f"#axis-{axis['number']}").inner_text()
        assert heading == f"As {axis['number']} — {axis['title_nl']}"
    for action in SEED["actions"]:
        assert f"{action['number']}. {action['title_nl']}" in text


async def test_a_rebuild_from_the_topics_gives_the_same_figures_as_the_live_read_models(
    system: dict[str, ServiceProcess], page: Page, create_database: Any
) -> None:
    dashboard, actions = system["dashboard"], system["actions"]
    await sign_in(page, coordination_key(dashboard))
    await all_actions_shown(page)
    key = actions.cli("create-api-key", "--organisation", "coordination-inclusion-numerique", "--role", "coordination")
    status, body = call(actions.url + "/actions/3/status", {"status": "in_progress", "traffic_light": "at_risk"}, key)
    assert status == 200, body
    await page.goto("/feed?type=ActionStatusChanged")
    try:
        await page.locator('#feed-rows tr[data-type="ActionStatusChanged"]').first.wait_for(timeout=10_000)
    except Exception:
        print("PAGE", page.url, (await page.content())[:3000])
        raise

    live_url = dashboard.env["PASSERELLE_DASHBOARD_DATABASE_URL"]
    rebuilt_url = await create_database("dashboard_rebuilt")

    async def figures(url: str) -> dict[str, Any]:
        conn = await asyncpg.connect(url)
        try:
            return {
                "plan": await plan_page.figures(conn, today()),
                "equipment": await equipment_page.figures(conn, today()),
                "funding": await funding_page.figures(conn, today()),
                "feed": [
                    dict(r)
                    for r in await conn.fetch(
                        "SELECT event_id, topic, event_type, organisations, action_number, data FROM feed_events "
                        "ORDER BY event_id"
                    )
                ],
            }
        finally:
            await conn.close()

    # The other services keep writing for a while (the e-mails sent for the status change): a
    # rebuild reads up to the end it found when it started, so it is done again until the live
    # read models have nothing it lacks.
    live: dict[str, Any] = {}
    rebuilt: dict[str, Any] = {"not": "rebuilt"}
    for _ in range(5):
        said = dashboard.cli("rebuild", "--into", rebuilt_url)
        assert "events/s" in said, said
        live, rebuilt = await figures(live_url), await figures(rebuilt_url)
        if rebuilt == live:
            break
        await asyncio.sleep(2)
    assert live["plan"]["by_status"].get("in_progress", 0) >= 1
    assert len(live["feed"]) >= 66 + 1
    assert rebuilt == live


PUBLIC = {"/login", "/health", "/ready", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
PUBLIC |= {"/asyncapi.json"}


async def test_every_page_and_route_but_the_public_ones_needs_a_session_or_a_key(
    system: dict[str, ServiceProcess],
) -> None:
    from fastapi.routing import APIRoute

    from services.dashboard.app import create_app
    from services.dashboard.settings import DashboardSettings

    dashboard = system["dashboard"]
    app = create_app(DashboardSettings(kafka_security_protocol="PLAINTEXT"))
    routes: list[APIRoute] = []
    for item in app.router.routes:  # the routers are included as routers (FastAPI 0.16x)
        inner = getattr(item, "original_router", None)
        routes += (
            [item]
            if isinstance(item, APIRoute)
            else [r for r in getattr(inner, "routes", ()) if isinstance(r, APIRoute)]
        )
    checked = 0
    async with httpx.AsyncClient(base_url=dashboard.url, follow_redirects=False, timeout=10) as client:
        for route in routes:
            if route.path in PUBLIC:
                continue
            path = route.path.replace("{correlation_id}", "00000000-0000-0000-0000-000000000000")
            for method in (route.methods or set()) - {"HEAD"}:
                as_page = await client.request(method, path, headers={"Accept": "text/html"})
                as_script = await client.request(method, path, headers={"Accept": "application/json"})
                if method == "GET" and not path.startswith(("/api/", "/ops/")) and path != "/live":
                    assert (as_page.status_code, as_page.headers.get("location", "")[:12]) == (303, "/login?next="), (
                        path
                    )
                else:  # a form posted without a session leads to the sign-in form too
                    refused = as_page.status_code in (401, 403)
                    assert refused or as_page.headers.get("location", "").startswith("/login"), (method, path)
                assert as_script.status_code in (401, 403), (method, path, as_script.status_code)
                bad_key = await client.request(method, path, headers={"Authorization": "Bearer psk_nope_nope"})
                assert bad_key.status_code in (303, 401, 403), (method, path, bad_key.status_code)
                checked += 1
    assert checked >= 12, f"only {checked} routes checked: the app's routes were not found"
