"""The System page, for operators: per service and consumer group, the lag; the outbox backlog and
its oldest row's age; the dead letters by reason, and the dead letters themselves with a replay
button; the mail queue.

Where the figures come from
---------------------------
Each service's ``GET /metrics`` (Prometheus text, ``services.runtime.metrics``) and ``GET /ready``
(JSON), at ``DashboardSettings.service_urls``, read concurrently, each within
``metrics_timeout_s``; the dashboard's own from its runtime, in process. A service that does not
answer is shown as unreachable, with the error: it never breaks the page. ``summarise`` turns one
service's exposition into figures (a pure function); ``figures`` gathers them all (JSON-able).

The counters (dead letters by reason, records handled) count since the process started. The dead
letters themselves are read from the dead-letter topics (``services.runtime.dlq``'s reader:
without a consumer group, nothing committed), the newest ``DEAD_LETTERS_SHOWN`` of them. The
dashboard's principal may read them: it consumes every internal topic, and a service gets READ on
the dead-letter topics of the internal topics it consumes (``services.access.principals``).
Whether one was already replayed or discarded is in the audit of the service that owns it (its
own database, which the dashboard does not read): the dead-letter tool says so, and refuses a
second replay, when the button asks it.

Which service a dead letter is
------------------------------
A dead letter names the consumer that wrote it (its name, not its group) and its original topic;
``CONSUMERS`` says which service runs which consumer on which topics. It is a copy of what the
services' composition roots register (``dlq.consumers_of``), kept beside them because building
every service's app in the dashboard would need every service's settings; a unit test checks
that the two agree. Two services run a consumer named ``epn-register`` on the funding topic
(actions and equipment): their dead letters cannot be told apart, and are listed under both.

Replay
------
``POST /system/dead-letters/replay`` runs the dead-letter tool as a subprocess:
``replay_command``, split with ``shlex`` *before* ``{service}``, ``{id}`` and ``{operator}`` are
filled into each word (no shell, and no value can add a word), with the environment of
``replay_env_file`` over the dashboard's, within ``REPLAY_TIMEOUT_S``. The tool writes the audit
and refuses what it should (a dead letter already replayed, an invalid envelope); its output is
shown on the page, and logged. The operator it records is ``dashboard:<organisation>:<key id>``.
Without a ``replay_command`` the button is disabled and the runbook's command line is named.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import TopicPartition
from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from passerelle_contracts import actions_v1, equipment_v1, funding_v1, notifications_v1
from prometheus_client.parser import text_string_to_metric_families

from services.runtime import dlq
from services.runtime.http import api_router
from services.runtime.logs import get_logger
from services.runtime.service import Runtime

from .. import texts
from ..settings import DashboardSettings
from ..viewers import Viewer, check_csrf, operator
from ..web import read_form, render, settings_of

log = get_logger(__name__)

OWN = "dashboard"
DEAD_LETTERS_SHOWN = 200  # the newest, across the dead-letter topics
DEAD_LETTERS_TIMEOUT_S = 10.0  # reading the dead-letter topics, all of them
REPLAY_TIMEOUT_S = 60.0
OUTPUT_KEPT = 8000  # characters of the tool's output shown and logged
ERROR_KEPT = 300  # characters of a dead letter's error shown
# A dead letter's full id: <dead-letter topic>:<partition>:<offset> (Kafka's topic characters).
DEAD_LETTER_ID = re.compile(r"^([A-Za-z0-9._-]{1,249}):([0-9]{1,9}):([0-9]{1,19})$")
OPERATOR_PART = re.compile(r"^[A-Za-z0-9._-]{1,100}$")

# Which service runs which consumer (its name) on which topics (without the topic prefix): what
# each service's composition root registers (tests/unit/dashboard checks it against them).
CONSUMERS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "actions": {
        "indicators": (equipment_v1.TOPIC, funding_v1.TOPIC),
        "epn-register": (funding_v1.TOPIC,),
    },
    "equipment": {"epn-register": (funding_v1.TOPIC,)},
    "notifications": {
        "mailer": (actions_v1.TOPIC, equipment_v1.TOPIC, funding_v1.TOPIC),
        "epn-directory": (funding_v1.TOPIC,),
        "plan-directory": (actions_v1.TOPIC,),
    },
    OWN: {"projector": (actions_v1.TOPIC, equipment_v1.TOPIC, funding_v1.TOPIC, notifications_v1.TOPIC)},
}
MAIL_STATUSES = ("pending", "sent", "failed", "bounced", "suppressed")

texts.register(
    {
        "fr": {
            "sys_title": "État du système",
            "sys_intro": "Lu à l'instant dans les métriques des services (/metrics, /ready) et dans les topics "
            "de lettres mortes. Les compteurs repartent de zéro au redémarrage d'un service.",
            "sys_refresh": "Actualiser",
            "sys_read_at": "Lu le {moment}.",
            "sys_totals": "En bref",
            "sys_lag_total": "Retard des consommateurs (événements)",
            "sys_backlog_total": "Événements en attente de publication",
            "sys_parked_total": "Événements bloqués (à traiter)",
            "sys_dead_letters_total": "Lettres mortes listées",
            "sys_unreachable_total": "Services injoignables",
            "sys_services": "Services",
            "sys_services_caption": "État de chaque service, retard total, file d'envoi et lettres mortes depuis "
            "son démarrage.",
            "sys_service": "Service",
            "sys_state": "État",
            "sys_state_ready": "Prêt",
            "sys_state_degraded": "Dégradé",
            "sys_state_not_ready": "Pas prêt",
            "sys_state_unknown": "Inconnu",
            "sys_state_unreachable": "Injoignable",
            "sys_degraded": "Dégradé : {parts}",
            "sys_relay": "Relais",
            "sys_relay_leader": "Meneur",
            "sys_relay_standby": "En réserve",
            "sys_relay_none": "Sans relais",
            "sys_lag": "Retard",
            "sys_pending": "En attente",
            "sys_oldest": "Plus ancien",
            "sys_parked": "Bloqués",
            "sys_dead_lettered": "Lettres mortes",
            "sys_consumers": "Consommateurs",
            "sys_consumers_caption": "Retard par groupe de consommateurs et par topic, pour les partitions que "
            "les processus joints détiennent.",
            "sys_group": "Groupe",
            "sys_topic": "Topic",
            "sys_partitions": "Partitions",
            "sys_processed": "Traités",
            "sys_no_consumer": "Aucun consommateur ne détient de partition pour l'instant.",
            "sys_by_reason": "Lettres mortes par raison",
            "sys_by_reason_caption": "Lettres mortes écrites depuis le démarrage de chaque service, par raison.",
            "sys_reason": "Raison",
            "sys_count": "Nombre",
            "sys_no_dead_letter_counted": "Aucune lettre morte depuis le démarrage des services joints.",
            "sys_mail": "File d'envoi des messages",
            "sys_mail_caption": "Messages du service notifications (courriels, webhooks, fil) par statut.",
            "sys_mail_status": "Statut",
            "sys_mail_pending": "en attente",
            "sys_mail_sent": "envoyés",
            "sys_mail_failed": "en échec",
            "sys_mail_bounced": "refusés par la boîte",
            "sys_mail_suppressed": "supprimés (adresse bloquée)",
            "sys_mail_oldest": "Plus ancien message dû et non envoyé : {age}",
            "sys_oldest_of": "le plus ancien depuis {age}",
            "sys_mail_unavailable": "Le service notifications n'a pas répondu : file inconnue.",
            "sys_dead_letters": "Lettres mortes",
            "sys_dead_letters_intro": "{shown} lettres mortes affichées (les plus récentes) sur {total} dans les "
            "topics, par service. Une lettre rejouée reste listée (Kafka garde tout) : l'outil refuse de la rejouer une "
            "seconde fois et dit pourquoi.",
            "sys_dead_letters_of": "Lettres mortes de {service}",
            "sys_dead_letters_unowned": "Lettres mortes d'aucun consommateur connu",
            "sys_dead_letters_none": "Aucune lettre morte.",
            "sys_dead_letters_error": "Les topics de lettres mortes n'ont pas pu être lus : {error}",
            "sys_id": "Identifiant",
            "sys_consumer": "Consommateur",
            "sys_event": "Événement",
            "sys_age": "Âge",
            "sys_error": "Erreur",
            "sys_also": "aussi : {services}",
            "sys_replay": "Rejouer",
            "sys_replay_label": "Rejouer la lettre morte {id} ({service})",
            "sys_replay_disabled": "Les rejeux se font avec la commande du runbook : "
            "python -m services.<service> dlq replay <id>.",
            "sys_replay_done": "Lettre morte {id} rejouée ({service}).",
            "sys_replay_failed": "Le rejeu de {id} ({service}) a échoué (code {code}).",
            "sys_replay_timed_out": "Le rejeu de {id} ({service}) n'a pas fini en {seconds} s : il a été arrêté.",
            "sys_replay_output": "Sortie de l'outil",
            "sys_seconds": "{n} s",
            "sys_minutes": "{n} min",
            "sys_hours": "{h} h {m} min",
            "sys_days": "{d} j {h} h",
        },
        "nl": {
            "sys_title": "Systeemstatus",
            "sys_intro": "Zopas gelezen uit de metrieken van de diensten (/metrics, /ready) en uit de "
            "dead-letter-topics. De tellers beginnen opnieuw bij nul wanneer een dienst herstart.",
            "sys_refresh": "Vernieuwen",
            "sys_read_at": "Gelezen op {moment}.",
            "sys_totals": "Kort",
            "sys_lag_total": "Achterstand van de consumers (gebeurtenissen)",
            "sys_backlog_total": "Gebeurtenissen die wachten op publicatie",
            "sys_parked_total": "Geblokkeerde gebeurtenissen (te behandelen)",
            "sys_dead_letters_total": "Getoonde dead letters",
            "sys_unreachable_total": "Onbereikbare diensten",
            "sys_services": "Diensten",
            "sys_services_caption": "Status van elke dienst, totale achterstand, verzendwachtrij en dead letters "
            "sinds de start.",
            "sys_service": "Dienst",
            "sys_state": "Status",
            "sys_state_ready": "Klaar",
            "sys_state_degraded": "Verminderd",
            "sys_state_not_ready": "Niet klaar",
            "sys_state_unknown": "Onbekend",
            "sys_state_unreachable": "Onbereikbaar",
            "sys_degraded": "Verminderd: {parts}",
            "sys_relay": "Relay",
            "sys_relay_leader": "Leider",
            "sys_relay_standby": "Reserve",
            "sys_relay_none": "Zonder relay",
            "sys_lag": "Achterstand",
            "sys_pending": "Wachtend",
            "sys_oldest": "Oudste",
            "sys_parked": "Geblokkeerd",
            "sys_dead_lettered": "Dead letters",
            "sys_consumers": "Consumers",
            "sys_consumers_caption": "Achterstand per consumergroep en per topic, voor de partities die de "
            "bereikte processen houden.",
            "sys_group": "Groep",
            "sys_topic": "Topic",
            "sys_partitions": "Partities",
            "sys_processed": "Verwerkt",
            "sys_no_consumer": "Nog geen enkele consumer houdt een partitie.",
            "sys_by_reason": "Dead letters per reden",
            "sys_by_reason_caption": "Dead letters geschreven sinds de start van elke dienst, per reden.",
            "sys_reason": "Reden",
            "sys_count": "Aantal",
            "sys_no_dead_letter_counted": "Geen dead letters sinds de start van de bereikte diensten.",
            "sys_mail": "Verzendwachtrij van de berichten",
            "sys_mail_caption": "Berichten van de dienst notifications (e-mails, webhooks, feed) per status.",
            "sys_mail_status": "Status",
            "sys_mail_pending": "wachtend",
            "sys_mail_sent": "verzonden",
            "sys_mail_failed": "mislukt",
            "sys_mail_bounced": "geweigerd door de mailbox",
            "sys_mail_suppressed": "onderdrukt (adres geblokkeerd)",
            "sys_mail_oldest": "Oudste bericht dat verzonden moest worden en nog niet is: {age}",
            "sys_oldest_of": "de oudste sinds {age}",
            "sys_mail_unavailable": "De dienst notifications antwoordde niet: wachtrij onbekend.",
            "sys_dead_letters": "Dead letters",
            "sys_dead_letters_intro": "{shown} getoonde dead letters (de recentste) van de {total} in de topics, "
            "per dienst. Een opnieuw afgespeelde dead letter blijft in de lijst (Kafka houdt alles bij): het hulpmiddel "
            "weigert hem een tweede keer af te spelen en zegt waarom.",
            "sys_dead_letters_of": "Dead letters van {service}",
            "sys_dead_letters_unowned": "Dead letters van geen enkele gekende consumer",
            "sys_dead_letters_none": "Geen dead letters.",
            "sys_dead_letters_error": "De dead-letter-topics konden niet gelezen worden: {error}",
            "sys_id": "Id",
            "sys_consumer": "Consumer",
            "sys_event": "Gebeurtenis",
            "sys_age": "Leeftijd",
            "sys_error": "Fout",
            "sys_also": "ook: {services}",
            "sys_replay": "Opnieuw afspelen",
            "sys_replay_label": "Opnieuw afspelen: dead letter {id} ({service})",
            "sys_replay_disabled": "Dead letters worden opnieuw afgespeeld met het commando uit het runbook: "
            "python -m services.<service> dlq replay <id>.",
            "sys_replay_done": "Dead letter {id} opnieuw afgespeeld ({service}).",
            "sys_replay_failed": "Het opnieuw afspelen van {id} ({service}) is mislukt (code {code}).",
            "sys_replay_timed_out": "Het opnieuw afspelen van {id} ({service}) was na {seconds} s niet klaar: "
            "het werd gestopt.",
            "sys_replay_output": "Uitvoer van het hulpmiddel",
            "sys_seconds": "{n} s",
            "sys_minutes": "{n} min",
            "sys_hours": "{h} u {m} min",
            "sys_days": "{d} d {h} u",
        },
    }
)


# -- one service's figures ------------------------------------------------------------------------


def _samples(metrics_text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
    ]


def _whole(value: float) -> int | float:
    return int(value) if value == int(value) else value


def _state(ready: Mapping[str, Any] | None) -> str:
    found = (ready or {}).get("status")
    return found if found in ("ready", "degraded", "not-ready") else "unknown"


def summarise(
    service: str,
    metrics_text: str | None,
    ready_json: Mapping[str, Any] | None,
    *,
    error: str | None = None,
    topic_prefix: str = "",
) -> dict[str, Any]:
    """One service's figures from its Prometheus exposition and its ``/ready`` answer (JSON-able).

    ``metrics_text`` None: the service did not answer (``error`` says why). Consumer groups are
    named as the runtime names them (``<prefix><service>.<consumer>``); topics are shown without
    the prefix."""
    if metrics_text is None:
        return {"service": service, "reachable": False, "state": "unreachable", "error": error or "no answer"}
    lag: dict[tuple[str, str], dict[str, float]] = {}
    outcomes: dict[str, Counter[str]] = {}
    cut_short: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    by_topic_reason: Counter[tuple[str, str]] = Counter()
    outbox: dict[str, int | float | None] = {
        "pending": None,
        "oldest_age_s": None,
        "parked": None,
        "published_since_start": None,
    }
    relay_leader: bool | None = None
    mail: dict[str, int | float] = {}
    mail_oldest: float | None = None
    for name, labels, value in _samples(metrics_text):
        if name == "passerelle_consumer_lag":
            key = (labels.get("consumer", "?"), labels.get("topic", "?").removeprefix(topic_prefix))
            lag.setdefault(key, {})[labels.get("partition", "?")] = value
        elif name == "passerelle_events_consumed_total":
            outcomes.setdefault(labels.get("consumer", "?"), Counter())[labels.get("outcome", "?")] += int(value)
        elif name == "passerelle_consumer_batches_cut_short_total":
            cut_short[labels.get("consumer", "?")] += int(value)
        elif name == "passerelle_dead_letters_total":
            reason, topic = labels.get("reason", "?"), labels.get("topic", "?").removeprefix(topic_prefix)
            by_reason[reason] += int(value)
            by_topic_reason[topic, reason] += int(value)
        elif name == "passerelle_outbox_pending":
            outbox["pending"] = _whole(value)
        elif name == "passerelle_outbox_oldest_age_seconds":
            outbox["oldest_age_s"] = value
        elif name == "passerelle_outbox_parked":
            outbox["parked"] = _whole(value)
        elif name == "passerelle_outbox_published_since_start":
            outbox["published_since_start"] = _whole(value)
        elif name == "passerelle_outbox_relay_leader":
            relay_leader = value >= 1
        elif name == "passerelle_emails":
            mail[labels.get("status", "?")] = _whole(value)
        elif name == "passerelle_emails_oldest_pending_age_seconds":
            mail_oldest = value

    groups: dict[str, dict[str, Any]] = {}
    for (consumer, topic), partitions in sorted(lag.items()):
        group = groups.setdefault(
            consumer,
            {
                "consumer": consumer,
                "group": f"{topic_prefix}{service}.{consumer}",
                "lag": 0,
                "partitions": 0,
                "topics": [],
            },
        )
        topic_lag = _whole(sum(partitions.values()))
        group["topics"].append({"topic": topic, "lag": topic_lag, "partitions": len(partitions)})
        group["lag"] += topic_lag
        group["partitions"] += len(partitions)
    for consumer in sorted(set(outcomes) | set(cut_short)):  # known from their counters, holding no partition
        groups.setdefault(
            consumer,
            {
                "consumer": consumer,
                "group": f"{topic_prefix}{service}.{consumer}",
                "lag": 0,
                "partitions": 0,
                "topics": [],
            },
        )
    for consumer, group in groups.items():
        group["outcomes"] = dict(sorted(outcomes.get(consumer, Counter()).items()))
        group["batches_cut_short"] = cut_short.get(consumer, 0)

    ready = dict(ready_json or {})
    return {
        "service": service,
        "reachable": True,
        "state": _state(ready),
        "error": None,
        "ready": ready,
        "degraded": list(ready.get("degraded") or []),
        "consumer_groups": [groups[c] for c in sorted(groups)],
        "lag_total": _whole(sum(g["lag"] for g in groups.values())),
        "outbox": {**outbox, "relay_leader": relay_leader},
        "dead_letters": {
            "total": sum(by_reason.values()),
            "by_reason": {r: n for r, n in sorted(by_reason.items()) if n},
            "by_topic": [
                {"topic": topic, "reason": reason, "count": n}
                for (topic, reason), n in sorted(by_topic_reason.items())
                if n
            ],
        },
        "mail": (
            {
                "by_status": {s: mail.get(s, 0) for s in (*MAIL_STATUSES, *sorted(set(mail) - set(MAIL_STATUSES)))},
                "oldest_pending_age_s": mail_oldest,
            }
            if mail or mail_oldest is not None
            else None
        ),
    }


# -- every service --------------------------------------------------------------------------------


def _describe(error: BaseException) -> str:
    name, text = type(error).__name__, str(error).strip()
    if not text or text.startswith(name):  # aiokafka's errors name themselves
        return text or name
    return f"{name}: {text}"


async def _fetch(client: httpx.AsyncClient, service: str, base: str, topic_prefix: str) -> dict[str, Any]:
    base = base.rstrip("/")
    metrics_call, ready_call = await asyncio.gather(
        client.get(f"{base}/metrics"), client.get(f"{base}/ready"), return_exceptions=True
    )
    if isinstance(metrics_call, BaseException):
        return summarise(service, None, None, error=_describe(metrics_call))
    if metrics_call.status_code != 200:
        return summarise(service, None, None, error=f"GET /metrics answered {metrics_call.status_code}")
    ready: dict[str, Any]
    if isinstance(ready_call, BaseException):
        ready = {"status": "unknown", "error": _describe(ready_call)}
    else:
        try:  # /ready answers 503 with its JSON when the service is not ready
            parsed = ready_call.json()
            ready = parsed if isinstance(parsed, dict) else {"status": "unknown"}
        except ValueError:
            ready = {"status": "unknown", "error": f"GET /ready answered {ready_call.status_code}, not JSON"}
    try:
        return summarise(service, metrics_call.text, ready, topic_prefix=topic_prefix)
    except ValueError as error:  # not a Prometheus exposition
        return summarise(service, None, None, error=f"unreadable /metrics: {_describe(error)}")


async def _own(runtime: Runtime, timeout_s: float, topic_prefix: str) -> dict[str, Any]:
    """The dashboard's own figures, from its runtime (no HTTP to itself)."""
    try:
        async with asyncio.timeout(timeout_s):
            text = (await runtime.metrics.render()).decode()
        ready: dict[str, Any]
        try:
            async with asyncio.timeout(timeout_s):
                checks = await runtime.readiness()
            ok = checks.pop("ready")
            ready = {"status": ("degraded" if checks["degraded"] else "ready") if ok else "not-ready", **checks}
        except Exception as error:  # noqa: BLE001 - shown, not raised
            ready = {"status": "unknown", "error": _describe(error)}
        return summarise(OWN, text, ready, topic_prefix=topic_prefix)
    except Exception as error:  # noqa: BLE001 - shown, not raised
        return summarise(OWN, None, None, error=_describe(error))


async def services_figures(settings: DashboardSettings, own: Runtime | None = None) -> list[dict[str, Any]]:
    """Every service's ``summarise``, read concurrently; an error is a service's, never the page's."""
    prefix = settings.topic_prefix
    timeout = httpx.Timeout(settings.metrics_timeout_s)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:

        async def one(service: str, base: str) -> dict[str, Any]:
            try:
                async with asyncio.timeout(settings.metrics_timeout_s * 2):
                    return await _fetch(client, service, base, prefix)
            except Exception as error:  # noqa: BLE001 - the service's, shown on its row
                return summarise(service, None, None, error=_describe(error))

        calls = [one(s, base) for s, base in sorted(settings.service_urls.items())]
        if own is not None and OWN not in settings.service_urls:
            calls.append(_own(own, settings.metrics_timeout_s, prefix))
        found = await asyncio.gather(*calls)
    return sorted(found, key=lambda s: s["service"])


# -- the dead letters -----------------------------------------------------------------------------


def scopes(topic_prefix: str) -> dict[str, dlq.Scope]:
    """Each service's ``dlq.Scope``: its consumers and their topics, with the topic prefix."""
    return {
        service: dlq.Scope(
            topic_prefix, {name: tuple(topic_prefix + t for t in topics) for name, topics in consumers.items()}
        )
        for service, consumers in CONSUMERS.items()
    }


def dead_letter_topics(topic_prefix: str) -> tuple[str, ...]:
    return tuple(sorted({t for scope in scopes(topic_prefix).values() for t in scope.dlq_topics}))


def describe_dead_letter(dead: dlq.DeadLetter, topic_prefix: str, now: datetime) -> dict[str, Any]:
    """What the page shows of a dead letter, and which services it is (JSON-able)."""
    owners = [s for s, scope in scopes(topic_prefix).items() if scope.owns(dead)]
    shown = scopes(topic_prefix)[owners[0]].short_id(dead) if owners else dead.id
    error = " ".join(dead.error.split())
    return {
        "id": dead.id,
        "short_id": shown,
        "services": owners,
        "reason": dead.reason,
        "consumer": dead.consumer,
        "topic": dead.original_topic.removeprefix(topic_prefix),
        "original": dead.original_position,
        "event_type": dead.event_type,
        "event_id": dead.event_id,
        "failed_at": dead.failed_at.isoformat(),
        "age_s": max(0.0, (now - dead.failed_at).total_seconds()),
        "error": error if len(error) <= ERROR_KEPT else error[: ERROR_KEPT - 1] + "…",
    }


class _NewestReader(dlq.Reader):
    """The dead-letter tool's reader (no group, nothing committed), reading the newest records."""

    async def newest(self, topics: Sequence[str], limit: int) -> tuple[list[dlq.DeadLetter], int]:
        """The ``limit`` newest records of ``topics`` (by failure time), and how many they hold."""
        partitions = await self.partitions(topics)
        tps = [TopicPartition(t, p) for t, ps in sorted(partitions.items()) for p in ps]
        if not tps:
            return [], 0
        starts = await self._consumer.beginning_offsets(tps)
        ends = await self._consumer.end_offsets(tps)
        found: list[dlq.DeadLetter] = []
        for tp in tps:  # the newest ``limit`` of all are among the newest ``limit`` of each partition
            if ends[tp] > starts[tp]:
                found.extend(await self._read(tp, max(starts[tp], ends[tp] - limit), ends[tp]))
        found.sort(key=lambda d: (d.failed_at, d.topic, d.partition, d.offset), reverse=True)
        return found[:limit], sum(ends[tp] - starts[tp] for tp in tps)


async def dead_letters(settings: DashboardSettings, limit: int = DEAD_LETTERS_SHOWN) -> dict[str, Any]:
    """The newest dead letters of the services' dead-letter topics (JSON-able); an error is shown."""
    prefix = settings.topic_prefix
    try:
        async with asyncio.timeout(DEAD_LETTERS_TIMEOUT_S), AsyncExitStack() as stack:
            records, total = await _NewestReader(settings.kafka, stack).newest(dead_letter_topics(prefix), limit)
    except Exception as error:  # noqa: BLE001 - shown on the page
        log.warning("dead-letter topics unreadable", error=_describe(error))
        return {"items": [], "total": None, "shown": 0, "error": _describe(error)}
    now = datetime.now(UTC)
    items = [describe_dead_letter(d, prefix, now) for d in records]
    return {"items": items, "total": total, "shown": len(items), "error": None}


async def figures(
    settings: DashboardSettings, *, own: Runtime | None = None, read_dead_letters: bool = True
) -> dict[str, Any]:
    """Everything the System page shows (JSON-able)."""
    services, letters = await asyncio.gather(
        services_figures(settings, own),
        dead_letters(settings) if read_dead_letters else _nothing(),
    )
    reachable = [s for s in services if s["reachable"]]
    reasons: Counter[str] = Counter()
    for s in reachable:
        reasons.update(s["dead_letters"]["by_reason"])
    mail = next((s["mail"] for s in reachable if s.get("mail")), None)
    return {
        "read_at": datetime.now(UTC).isoformat(),
        "services": services,
        "totals": {
            "lag": _whole(sum(s["lag_total"] for s in reachable)),
            "outbox_pending": _whole(sum(s["outbox"]["pending"] or 0 for s in reachable)),
            "outbox_parked": _whole(sum(s["outbox"]["parked"] or 0 for s in reachable)),
            "outbox_oldest_age_s": max((s["outbox"]["oldest_age_s"] or 0 for s in reachable), default=0),
            "dead_letters_counted": sum(reasons.values()),
            "unreachable": [s["service"] for s in services if not s["reachable"]],
        },
        "dead_letters_by_reason": dict(sorted(reasons.items())),
        "mail": mail,
        "dead_letters": letters,
        "replay_enabled": bool(settings.replay_command.strip()),
    }


async def _nothing() -> dict[str, Any]:
    return {"items": [], "total": None, "shown": 0, "error": None}


# -- replay ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayResult:
    service: str
    id: str
    command: list[str]
    returncode: int | None  # None: stopped at the timeout
    output: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


class ReplayRefused(Exception):
    """A replay request the dashboard does not run: its HTTP status and reason."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


def operator_of(viewer: Viewer) -> str:
    """Who the audit says acted: ``dashboard:<organisation>:<key id>``."""
    for part in (viewer.organisation, viewer.key_id):
        if not OPERATOR_PART.fullmatch(part):
            raise ReplayRefused(status.HTTP_400_BAD_REQUEST, "the key's organisation or id cannot name an operator")
    return f"dashboard:{viewer.organisation}:{viewer.key_id}"


def check_replay(settings: DashboardSettings, service: str | None, dead_letter_id: str | None) -> tuple[str, str]:
    """The service and the full dead-letter id of a replay request, or ``ReplayRefused``."""
    if not service or service not in CONSUMERS:
        raise ReplayRefused(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unknown service {service!r}: one of {', '.join(sorted(CONSUMERS))}",
        )
    matched = DEAD_LETTER_ID.fullmatch(dead_letter_id or "")
    if matched is None:
        raise ReplayRefused(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{dead_letter_id!r} is not a dead-letter id: <dead-letter topic>:<partition>:<offset>",
        )
    topics = scopes(settings.topic_prefix)[service].dlq_topics
    if matched.group(1) not in topics:
        raise ReplayRefused(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{matched.group(1)} is not a dead-letter topic of {service} ({', '.join(topics)})",
        )
    if not settings.replay_command.strip():
        raise ReplayRefused(
            status.HTTP_409_CONFLICT,
            "replays are not run from the dashboard here (no replay_command): use the runbook's command, "
            f"python -m services.{service} dlq replay {dead_letter_id}",
        )
    return service, dead_letter_id or ""


# What the tool inherits from the dashboard's environment: how to run Python, and the deployment's
# topic prefix and logging. Not the dashboard's own credentials (its database, its Kafka principal):
# a replay's come from replay_env_file alone.
INHERITED = (
    "PATH",
    "HOME",
    "LANG",
    "TZ",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "PASSERELLE_TOPIC_PREFIX",
    "PASSERELLE_LOG_LEVEL",
)


def inherited(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in environ.items() if name in INHERITED or name.startswith("LC_")}


def read_env_file(path: str | None) -> dict[str, str]:
    """``KEY=value`` lines (blank lines, ``#`` comments and an ``export`` before the key ignored;
    one pair of quotes around a value removed)."""
    if not path:
        return {}
    found: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key.strip()] = value
    return found


def replay_command(template: str, service: str, dead_letter_id: str, operator_name: str) -> list[str]:
    """The words of the command: the template split first, then each word filled in, so that no
    value can add a word (nor reach a shell: there is none)."""
    values = {"service": service, "id": dead_letter_id, "operator": operator_name}
    try:
        return [word.format(**values) for word in shlex.split(template)]
    except (KeyError, IndexError, ValueError) as error:
        raise ReplayRefused(
            status.HTTP_500_INTERNAL_SERVER_ERROR, f"replay_command is not a valid template: {error!r}"
        ) from None


async def run_replay(
    settings: DashboardSettings,
    service: str,
    dead_letter_id: str,
    operator_name: str,
    *,
    timeout_s: float = REPLAY_TIMEOUT_S,
) -> ReplayResult:
    """Run the dead-letter tool for one dead letter (checked by ``check_replay``) and log the outcome."""
    command = replay_command(settings.replay_command, service, dead_letter_id, operator_name)
    if not command:
        raise ReplayRefused(status.HTTP_500_INTERNAL_SERVER_ERROR, "replay_command is empty")
    try:
        env = {**inherited(os.environ), **read_env_file(settings.replay_env_file)}
    except OSError as error:
        raise ReplayRefused(
            status.HTTP_500_INTERNAL_SERVER_ERROR, f"replay_env_file cannot be read: {_describe(error)}"
        ) from None
    started = time.monotonic()
    log.info("dead-letter replay", service=service, dead_letter=dead_letter_id, operator=operator_name)
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    except OSError as error:
        result = ReplayResult(service, dead_letter_id, command, 127, f"the command could not start: {_describe(error)}")
    else:
        timed_out = False
        try:
            async with asyncio.timeout(timeout_s):
                out, _ = await process.communicate()
        except TimeoutError:
            timed_out = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # its own session: the tool and whatever it started
            out, _ = await process.communicate()
        text = (out or b"").decode("utf-8", "replace")
        if len(text) > OUTPUT_KEPT:
            text = "…" + text[-(OUTPUT_KEPT - 1) :]
        result = ReplayResult(
            service, dead_letter_id, command, None if timed_out else process.returncode, text, timed_out
        )
    (log.info if result.ok else log.warning)(
        "dead-letter replay finished",
        service=service,
        dead_letter=dead_letter_id,
        operator=operator_name,
        returncode=result.returncode,
        timed_out=result.timed_out,
        duration_s=round(time.monotonic() - started, 3),
        output=result.output,
    )
    return result


# -- the routes -----------------------------------------------------------------------------------


def _duration(seconds: float | None, t: Mapping[str, str]) -> str:
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return t["sys_seconds"].format(n=s)
    if s < 3600:
        return t["sys_minutes"].format(n=s // 60)
    if s < 86400:
        return t["sys_hours"].format(h=s // 3600, m=s % 3600 // 60)
    return t["sys_days"].format(d=s // 86400, h=s % 86400 // 3600)


def _by_service(items: Iterable[dict[str, Any]]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """The dead letters per service (a shared one under each of its services); unowned ones last."""
    grouped: dict[str | None, list[dict[str, Any]]] = {s: [] for s in CONSUMERS}
    for item in items:
        for service in item["services"] or [None]:
            grouped.setdefault(service, []).append(item)
    return [(s, found) for s, found in grouped.items() if found or s is not None]


async def _page(
    request: Request, viewer: Viewer, result: ReplayResult | None = None, status_code: int = 200
) -> HTMLResponse:
    settings = settings_of(request)
    f = await figures(settings, own=request.app.state.runtime)
    return render(
        request,
        viewer,
        "system.html",
        {
            "f": f,
            "by_service": _by_service(f["dead_letters"]["items"]),
            "duration": _duration,
            "result": result,
            "parse_moment": datetime.fromisoformat,
            "replay_timeout_s": int(REPLAY_TIMEOUT_S),
        },
        title="sys_title",
        status_code=status_code,
    )


OPERATORS_ONLY: dict[int | str, dict[str, Any]] = {
    403: {"description": "The key or session is not the Coordination's or an operator's (the partner view)"}
}
router = api_router()


@router.get(
    "/system",
    response_class=HTMLResponse,
    summary="The system: lag, outbox, dead letters, mail queue",
    responses=OPERATORS_ONLY,
)
async def system_page(request: Request, viewer: Viewer = Depends(operator)) -> HTMLResponse:
    return await _page(request, viewer)


@router.get("/api/system", summary="The System page's figures as JSON", responses=OPERATORS_ONLY)
async def system_json(request: Request, viewer: Viewer = Depends(operator)) -> JSONResponse:
    return JSONResponse(await figures(settings_of(request), own=request.app.state.runtime))


@router.post(
    "/system/dead-letters/replay",
    summary="Replay one dead letter with the dead-letter tool (form: service, id, csrf)",
    include_in_schema=False,
)
async def replay(request: Request, viewer: Viewer = Depends(operator)) -> Response:
    form = await read_form(request)
    check_csrf(viewer, form.get("csrf"))
    settings = settings_of(request)
    try:
        service, dead_letter_id = check_replay(settings, form.get("service"), form.get("id"))
        result = await run_replay(settings, service, dead_letter_id, operator_of(viewer))
    except ReplayRefused as refused:
        raise HTTPException(refused.status_code, refused.reason) from None
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse(result.as_json(), status_code=200 if result.ok else 502)
    return await _page(request, viewer, result, status_code=200 if result.ok else 502)
