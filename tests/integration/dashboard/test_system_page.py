"""The System page against services that answer over HTTP (a small server on a loopback port
serving what the runtime's ``Metrics`` renders, and a ``/ready``), services that do not, the
dead-letter topics of the session's broker, and the replay button running a harmless command
instead of the dead-letter tool. The routes are called through ASGI with the operator dependency
given (the session lookup needs the dashboard's database, which is not what is tested here)."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.dashboard.app import create_app
from services.dashboard.pages import system
from services.dashboard.settings import DashboardSettings
from services.dashboard.viewers import Viewer, operator
from services.runtime import dead_letter_headers as h
from services.runtime.metrics import Metrics
from tests.support import free_port, kafka

PREFIX = "tsys."
SLOW_S = 1.5


async def exposition(service: str) -> bytes:
    m = Metrics(service)
    m.consumer_lag.labels("mailer", f"{PREFIX}passerelle.actions.v1", "0").set(4)
    m.consumer_lag.labels("mailer", f"{PREFIX}passerelle.funding.v1", "0").set(1)
    m.dead_letters(f"{PREFIX}passerelle.actions.v1", h.INVALID_DATA).inc(2)
    m.outbox_pending.set(3)
    m.outbox_oldest_age_s.set(12)
    emails = m.gauge("passerelle_emails", "Messages by delivery status.", ["status"])
    emails.labels("pending").set(5)
    m.gauge("passerelle_emails_oldest_pending_age_seconds", "Oldest due.", []).set(600)
    return await m.render()


class Services(ThreadingHTTPServer):
    daemon_threads = True
    pages: dict[str, tuple[int, str, bytes]]  # path -> status, content type, body

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the slow page's client has gone at its timeout: nothing to report


class Handler(BaseHTTPRequestHandler):
    server: Services

    def do_GET(self) -> None:
        if self.path.startswith("/slow/"):
            time.sleep(SLOW_S)
        status, content_type, body = self.server.pages.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
async def services() -> AsyncIterator[str]:
    """A loopback server: /notifications/ answers like the service, /slow/ too late, /broken/ with
    a page that is not metrics; returns its base URL."""
    server = Services(("127.0.0.1", 0), Handler)
    ready = {"status": "degraded", "database": "ok", "broker": "unavailable", "relay": "leader", "degraded": ["broker"]}
    text = await exposition("notifications")
    server.pages = {
        "/notifications/metrics": (200, "text/plain; version=0.0.4", text),
        "/notifications/ready": (200, "application/json", json.dumps(ready).encode()),
        "/slow/metrics": (200, "text/plain", text),
        "/slow/ready": (200, "application/json", json.dumps(ready).encode()),
        "/broken/metrics": (500, "text/plain", b"boom"),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def settings_for(base: str | None = None, **overrides: Any) -> DashboardSettings:
    urls = (
        {
            "notifications": f"{base}/notifications",
            "slow": f"{base}/slow",
            "broken": f"{base}/broken",
            "funding": f"http://127.0.0.1:{free_port()}",  # nobody listens
        }
        if base
        else {"funding": f"http://127.0.0.1:{free_port()}"}
    )
    options: dict[str, Any] = {
        "service_urls": urls,
        "metrics_timeout_s": 0.5,
        "topic_prefix": PREFIX,
        "kafka_bootstrap": f"127.0.0.1:{free_port()}",  # no broker: the dead letters cannot be read
        **overrides,
    }
    return DashboardSettings(**options)


async def test_the_figures_are_read_from_each_service_and_the_silent_ones_are_unreachable(services: str) -> None:
    started = time.monotonic()
    f = await system.figures(settings_for(services))
    elapsed = time.monotonic() - started

    by_name = {s["service"]: s for s in f["services"]}
    assert list(by_name) == ["broken", "funding", "notifications", "slow"]
    notifications = by_name["notifications"]
    assert (notifications["reachable"], notifications["state"], notifications["degraded"]) == (
        True,
        "degraded",
        ["broker"],
    )
    assert [(g["group"], g["lag"]) for g in notifications["consumer_groups"]] == [("tsys.notifications.mailer", 5)]
    assert notifications["outbox"]["pending"] == 3
    assert notifications["dead_letters"]["by_reason"] == {"invalid-data": 2}
    assert f["mail"]["by_status"]["pending"] == 5 and f["mail"]["oldest_pending_age_s"] == 600
    assert f["totals"]["lag"] == 5 and f["totals"]["outbox_pending"] == 3
    assert f["totals"]["unreachable"] == ["broken", "funding", "slow"]
    assert by_name["broken"]["error"] == "GET /metrics answered 500"
    assert "ConnectError" in by_name["funding"]["error"]
    assert "Timeout" in by_name["slow"]["error"]
    assert elapsed < SLOW_S, "the services are read at once, each within the timeout"
    assert f["dead_letters"]["error"] and f["dead_letters"]["items"] == []
    json.dumps(f)  # JSON-able


async def test_the_newest_dead_letters_are_read_from_the_dead_letter_topics(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    access = kafka(kafka_bootstrap)
    producer = AIOKafkaProducer(**access.aiokafka())
    await producer.start()
    try:
        for minute, consumer, topic in [
            (1, "mailer", "passerelle.actions.v1"),
            (2, "epn-register", "passerelle.funding.v1"),
            (3, "indicators", "passerelle.equipment.v1"),
        ]:
            failed_at = datetime.now(UTC) - timedelta(minutes=10 - minute)
            headers = [
                (h.CONSUMER, consumer.encode()),
                (h.ORIGINAL_TOPIC, f"{topic_prefix}{topic}".encode()),
                (h.ORIGINAL_PARTITION, b"0"),
                (h.ORIGINAL_OFFSET, str(minute).encode()),
                (h.REASON, h.HANDLER_FAILED.encode()),
                (h.FAILED_AT, failed_at.isoformat().encode()),
                (h.ERROR, b"RuntimeError('down')"),
            ]
            value = json.dumps({"event_type": f"{topic}.Something", "event_id": str(uuid.uuid4())}).encode()
            await producer.send_and_wait(f"{topic_prefix}{topic}.dlq", value, key=b"k", partition=0, headers=headers)
    finally:
        await producer.stop()
    settings = DashboardSettings(service_urls={}, topic_prefix=topic_prefix, **access.settings())

    letters = await system.dead_letters(settings, limit=2)

    assert letters["error"] is None
    assert (letters["total"], letters["shown"]) == (3, 2)
    newest, older = letters["items"]
    assert (newest["consumer"], newest["services"], newest["short_id"]) == ("indicators", ["actions"], "equipment:0:0")
    assert (older["consumer"], older["services"]) == ("epn-register", ["actions", "equipment"])
    assert 6 * 60 < newest["age_s"] < 8 * 60


# -- replay -----------------------------------------------------------------------------------------

ECHO = (
    f"{sys.executable} -c 'import json, os, sys; "
    'open(sys.argv[1], "w").write(json.dumps({{"argv": sys.argv[2:], "secret": os.environ.get("REPLAY_SECRET")}})); '
    'print("replayed", sys.argv[3])\' {out} {service} {id} --operator {operator}'
)
ID = f"{PREFIX}passerelle.funding.v1.dlq:0:12"


def test_a_replay_is_refused_for_an_unknown_service_a_malformed_id_or_another_services_topic() -> None:
    settings = settings_for(replay_command="true")
    for service, dead_letter_id, says in [
        ("billing", ID, "unknown service 'billing'"),
        (None, ID, "unknown service None"),
        ("actions", "funding:0:12; rm -rf /", "is not a dead-letter id"),
        ("actions", f"{PREFIX}passerelle.funding.v1.dlq:0:-1", "is not a dead-letter id"),
        ("actions", f"{PREFIX}passerelle.actions.v1.dlq:0:1", "is not a dead-letter topic of actions"),
        ("funding", ID, "unknown service 'funding'"),  # it consumes nothing: no dead letters
    ]:
        with pytest.raises(system.ReplayRefused) as refused:
            system.check_replay(settings, service, dead_letter_id)
        assert refused.value.status_code == 422
        assert says in refused.value.reason
    assert system.check_replay(settings, "equipment", ID) == ("equipment", ID)


def test_without_a_replay_command_a_replay_is_refused_with_the_runbooks_command() -> None:
    with pytest.raises(system.ReplayRefused) as refused:
        system.check_replay(settings_for(), "actions", ID)

    assert refused.value.status_code == 409
    assert f"python -m services.actions dlq replay {ID}" in refused.value.reason


def test_the_command_is_split_before_it_is_filled_in_so_that_no_value_adds_a_word() -> None:
    words = system.replay_command("tool {service} dlq replay {id} --operator {operator}", "actions", "a b; c", "x y")

    assert words == ["tool", "actions", "dlq", "replay", "a b; c", "--operator", "x y"]


def test_the_operator_is_the_dashboard_key_and_a_strange_one_is_refused() -> None:
    assert system.operator_of(Viewer("coordination", "operator", "k1x")) == "dashboard:coordination:k1x"
    with pytest.raises(system.ReplayRefused):
        system.operator_of(Viewer("co ordination", "operator", "k1x"))


@pytest.fixture
def env_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "replay.env"
    path.write_text("# the tool's credentials\n\nexport REPLAY_SECRET='s3cret'\nIGNORED LINE\n")
    yield path


async def test_a_replay_runs_the_command_with_its_words_and_the_env_file_and_returns_its_output(
    tmp_path: Path, env_file: Path
) -> None:
    out = tmp_path / "argv.json"
    settings = settings_for(replay_command=ECHO.replace("{out}", str(out)), replay_env_file=str(env_file))

    result = await system.run_replay(settings, "equipment", ID, "dashboard:coordination:k1")

    assert result.ok and result.returncode == 0
    assert result.output.strip() == f"replayed {ID}"
    assert json.loads(out.read_text()) == {
        "argv": ["equipment", ID, "--operator", "dashboard:coordination:k1"],
        "secret": "s3cret",
    }


async def test_a_failing_or_endless_replay_is_reported_with_its_output_and_stopped_at_the_timeout() -> None:
    failing = settings_for(replay_command=f"{sys.executable} -c 'import sys; sys.exit(\"no dead letter {{id}}\")'")
    endless = settings_for(replay_command=f"{sys.executable} -c 'import time; time.sleep(30)'")

    failed = await system.run_replay(failing, "actions", ID, "op")
    started = time.monotonic()
    stopped = await system.run_replay(endless, "actions", ID, "op", timeout_s=0.5)

    assert (failed.ok, failed.returncode) == (False, 1)
    assert f"no dead letter {ID}" in failed.output
    assert (stopped.ok, stopped.timed_out, stopped.returncode) == (False, True, None)
    assert time.monotonic() - started < 5


# -- the routes ---------------------------------------------------------------------------------------


def app_for(settings: DashboardSettings, viewer: Viewer) -> FastAPI:
    app = create_app(settings)  # built, not started: no database, no broker
    app.dependency_overrides[operator] = lambda: viewer
    return app


OPERATOR = Viewer("coordination", "operator", "k1", csrf="token")
HTML = {"Accept": "text/html"}


async def post(app: FastAPI, form: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dashboard") as client:
        return await client.post("/system/dead-letters/replay", data=form, headers=headers or {})


async def test_the_page_shows_each_service_and_says_replays_are_done_with_the_runbook_without_a_command(
    services: str,
) -> None:
    app = app_for(settings_for(services), OPERATOR)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dashboard") as client:
        page = await client.get("/system?lang=fr", headers=HTML)
        figures = await client.get("/api/system")

    assert page.status_code == 200
    assert 'data-testid="sys-service" data-service="notifications" data-state="degraded"' in page.text
    assert 'data-testid="sys-service" data-service="dashboard"' in page.text, "its own, in process"
    assert 'data-service="funding" data-state="unreachable"' in page.text
    assert 'data-testid="sys-lag-total">5<' in page.text
    assert "python -m services.&lt;service&gt; dlq replay &lt;id&gt;" in page.text
    assert "<caption>" in page.text and 'scope="col"' in page.text
    assert figures.status_code == 200
    assert figures.json()["replay_enabled"] is False


async def test_the_replay_endpoint_checks_the_form_and_answers_409_without_a_command() -> None:
    app = app_for(settings_for(), OPERATOR)

    forged = await post(app, {"service": "actions", "id": ID, "csrf": "other"})
    unknown = await post(app, {"service": "billing", "id": ID, "csrf": "token"})
    malformed = await post(app, {"service": "equipment", "id": "equipment:0:x", "csrf": "token"})
    disabled = await post(app, {"service": "equipment", "id": ID, "csrf": "token"})

    assert forged.status_code == 403
    assert unknown.status_code == 422 and "unknown service" in unknown.json()["reason"]
    assert malformed.status_code == 422 and "not a dead-letter id" in malformed.json()["reason"]
    assert disabled.status_code == 409
    assert f"python -m services.equipment dlq replay {ID}" in disabled.json()["reason"]


async def test_the_replay_button_runs_the_tool_and_shows_its_output_as_a_status(tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    app = app_for(settings_for(replay_command=ECHO.replace("{out}", str(out))), OPERATOR)

    answer = await post(app, {"service": "equipment", "id": ID, "csrf": "token"})
    page = await post(app, {"service": "equipment", "id": ID, "csrf": "token"}, HTML)

    assert answer.status_code == 200
    assert answer.json()["ok"] is True and answer.json()["output"].strip() == f"replayed {ID}"
    assert json.loads(out.read_text())["argv"] == ["equipment", ID, "--operator", "dashboard:coordination:k1"]
    assert page.status_code == 200
    assert 'role="status" data-testid="sys-replay-result" data-ok="true"' in page.text
    assert f"replayed {ID}" in page.text


def test_the_system_routes_are_for_operators_only() -> None:
    routes = {getattr(route, "path", None): route for route in system.router.routes}

    assert set(routes) == {"/system", "/api/system", "/system/dead-letters/replay"}
    for route in routes.values():
        assert operator in [d.call for d in route.dependant.dependencies]  # type: ignore[attr-defined] # APIRoute
