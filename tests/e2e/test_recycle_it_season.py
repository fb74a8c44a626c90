"""A "Recycle IT" season end to end, with the services running as processes: three donors,
2,000 devices imported, wiped (a few failing), refurbished, allocated to 30 recipients under
caps, delivered, a few returned and disposed. Checks the stock figures, the sanitisation rule,
the actions service's indicators, and that each donor hears of its own batch only."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import httpx
import pytest

from services.runtime.inputs import brussels_today
from tests.e2e.conftest import Inbox
from tests.support import ServiceProcess, eventually

pytestmark = pytest.mark.infra

DONORS = {"cirb-paradigm": 800, "easy-brussels": 700, "actiris": 500}
PUBLIC_BODIES = ("cirb-paradigm", "actiris")  # their donations count for action 57; easy.brussels is an administration
REFURBISHER = "asbl-reconditionnement-exemple"
RECIPIENTS = (
    [("secondary-school", "laptop", 45, "young-people")] * 10
    + [("pupils-association", "laptop", 40, "young-people")] * 8
    + [("retirement-home", "tablet", 30, "seniors")] * 6
    + [("epn", "desktop", 35, None)] * 6
)
TABLET_CAP = 100  # retirement homes may get at most 100 tablets this year: 6 x 30 asked
FAILING = 20
TODAY = brussels_today()  # the services check dates in Brussels days (a delivery cannot precede its intake)
YEAR = str(TODAY.year)


def device_csv(donor: str, n: int, rng: random.Random) -> str:
    kinds = ["laptop"] * 5 + ["desktop"] * 2 + ["tablet"] * 2 + ["screen"]
    lines = ["asset_tag,serial,kind,make,model,cpu,ram_gb,storage,year"]
    for i in range(n):
        kind = rng.choice(kinds)
        storage = {"laptop": "ssd:256", "desktop": "ssd:128;hdd:500", "tablet": "emmc:64", "screen": ""}[kind]
        lines.append(f"{donor[:3].upper()}-{i:05},SN{donor[:2]}{i:06},{kind},Dell,M{i % 7},i5,8,{storage},2017")
    return "\n".join(lines) + "\n"


async def gather_limited(calls: list[Any], limit: int = 8) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(call: Any) -> Any:
        async with gate:
            return await call

    return await asyncio.gather(*(run(c) for c in calls))


@pytest.mark.timeout(900)
async def test_a_recycle_it_season(system: dict[str, ServiceProcess], smtp: tuple[Inbox, int]) -> None:
    rng = random.Random(2024)
    equipment, actions, notifications = system["equipment"], system["actions"], system["notifications"]
    coordination = {
        "Authorization": "Bearer "
        + equipment.cli(
            "create-api-key", "--organisation", "coordination-inclusion-numerique", "--role", "coordination"
        )
    }
    refurbisher = {
        "Authorization": "Bearer "
        + equipment.cli("create-api-key", "--organisation", REFURBISHER, "--role", "refurbisher")
    }
    notify = {
        "Authorization": "Bearer "
        + notifications.cli(
            "create-api-key", "--organisation", "coordination-inclusion-numerique", "--role", "coordination"
        )
    }
    async with httpx.AsyncClient(base_url=equipment.url, timeout=120) as eq, httpx.AsyncClient(timeout=30) as plain:
        # Donors subscribe to their batches' milestones in the notifications service.
        for donor in DONORS:
            await plain.put(
                f"{notifications.url}/partners/{donor}",
                headers=notify,
                json={"name": donor, "email": f"{donor}@donors.passerelle.example", "language": "fr"},
            )
            await plain.put(
                f"{notifications.url}/partners/{donor}/subscriptions",
                headers=notify,
                json={"event_types": ["BatchMilestoneReached"]},
            )

        # Intake: three batches from CSV.
        for donor, n in DONORS.items():
            report = (
                await eq.post(
                    f"/batches/{donor}/RIT-{YEAR}/devices.csv", content=device_csv(donor, n, rng), headers=coordination
                )
            ).json()
            assert (report["created"], report["errors"]) == (n, [])
        devices = (await eq.get("/devices", params={"limit": 5000}, headers=coordination)).json()
        assert len(devices) == 2000

        # Custody: each donor's batch to the refurbisher, who confirms.
        for donor in DONORS:
            ids = [d["id"] for d in devices if d["donor"] == donor]
            transfer = (
                await eq.post("/transfers", json={"to": REFURBISHER, "devices": ids}, headers=coordination)
            ).json()
            assert (await eq.post(f"/transfers/{transfer['id']}/confirm", headers=refurbisher)).status_code == 200

        # Wiping, in bulk from the wiping station's log: a few devices fail one medium.
        failing = set(rng.sample([d["id"] for d in devices if d["kind"] != "screen"], FAILING))
        lines = [
            "device,medium_id,method,tool,tool_version,passes,verification,operator,started_at,ended_at,result,warnings"
        ]
        media = {"laptop": ["m1"], "desktop": ["m1", "m2"], "tablet": ["m1"], "screen": []}
        for d in devices:
            for medium in media[d["kind"]]:
                result = "failed" if d["id"] in failing and medium == "m1" else "passed"
                lines.append(
                    f"{d['short_code']},{medium},purge,nwipe,0.35,1,full,op-1,"
                    f"{YEAR}-02-01T09:00:00+01:00,{YEAR}-02-01T10:00:00+01:00,{result},"
                )
        wiped = (await eq.post("/sanitisations.csv", content="\n".join(lines) + "\n", headers=refurbisher)).json()
        assert wiped["errors"] == [] and wiped["devices"] == 2000 - sum(d["kind"] == "screen" for d in devices)

        # Refurbishing: every device that passed gets a grade.
        good = [d["id"] for d in devices if d["id"] not in failing]
        answers = await gather_limited(
            [
                eq.post(
                    f"/devices/{i}/condition",
                    json={"physical": "refurbished", "grade": rng.choice("ABC")},
                    headers=refurbisher,
                )
                for i in good
            ]
        )
        assert {a.status_code for a in answers} == {200}

        # The rule, whatever the order of commands: one failed device is even marked refurbished.
        bad = sorted(failing)[0]
        marked = await eq.post(
            f"/devices/{bad}/condition", json={"physical": "refurbished", "grade": "A"}, headers=refurbisher
        )
        assert marked.status_code == 200

        # Thirty recipients ask; the Coordination reviews; caps apply to retirement homes' tablets.
        await eq.put(f"/caps/{YEAR}/retirement-home/tablet", json={"max_devices": TABLET_CAP}, headers=coordination)
        requests = []
        for n, (kind, device, count, public) in enumerate(RECIPIENTS):
            code = f"{kind}-{n:02}"
            await eq.put(
                f"/organisations/{code}",
                json={"name": code, "kind": kind, "commune": rng.choice(["Anderlecht", "Ixelles", "Schaerbeek"])},
                headers=coordination,
            )
            body = {"recipient": code, "devices": {device: count}, "public": public, "beneficiaries": count * 3}
            requests.append((await eq.post("/requests", json=body, headers=coordination)).json())
        for request in requests:
            review = await eq.post(
                f"/requests/{request['id']}/review", json={"decision": "accepted"}, headers=coordination
            )
            assert review.status_code == 200

        preview = (await eq.get("/allocation/preview", params={"period": YEAR}, headers=coordination)).json()
        confirmed = (
            await eq.post(
                "/allocation/confirm",
                json={"period": YEAR, "preview_token": preview["preview_token"]},
                headers=coordination,
            )
        ).json()
        allocated_ids = {d for a in confirmed["allocations"] for d in a["device_ids"]}
        assert not allocated_ids & failing, "no device without a passing wipe of every medium is allocated"
        assert bad not in allocated_ids
        tablets_to_homes = sum(
            a["devices"].get("tablet", 0) for a in confirmed["allocations"] if a["recipient"].startswith("retirement")
        )
        assert tablets_to_homes == TABLET_CAP

        # Deliveries, each acknowledged by its recipient.
        delivered: Counter[str] = Counter()
        returning = next(a for a in confirmed["allocations"] if a["recipient"].startswith("secondary-school"))
        for n, line in enumerate(confirmed["allocations"]):
            # The first recipients acknowledge with their own key; the Coordination does it for the others.
            recipient_key = (
                {
                    "Authorization": "Bearer "
                    + equipment.cli("create-api-key", "--organisation", line["recipient"], "--role", "recipient")
                }
                if n < 3
                else coordination
            )
            handover = (
                await eq.post(
                    "/handovers",
                    json={
                        "recipient": line["recipient"],
                        "devices": line["device_ids"],
                        "delivered_on": TODAY.isoformat(),
                    },
                    headers=refurbisher,
                )
            ).json()
            ack = await eq.post(f"/handovers/{handover['id']}/acknowledge", headers=recipient_key)
            assert ack.status_code == 200, ack.text
            delivered[line["recipient"].rsplit("-", 1)[0]] += len(line["device_ids"])
            if line is returning:
                for device_id in line["device_ids"][:3]:  # a few come back
                    back = await eq.post(
                        f"/devices/{device_id}/return",
                        json={"returned_to": REFURBISHER, "reason": "Défectueux"},
                        headers=recipient_key,
                    )
                    assert back.status_code == 200

        # End of life for ten of the devices that failed their wipe; a delivered one cannot be disposed of.
        disposal: dict[str, str] = {}
        for device_id in sorted(failing)[:10]:
            disposal = {
                "recycler": "recycler-exemple",
                "disposed_on": TODAY.isoformat(),
                "method": "destruction",
                "certificate_reference": f"DEST-{device_id[:8]}",
            }
            assert (
                await eq.post(f"/devices/{device_id}/disposal", json=disposal, headers=refurbisher)
            ).status_code == 200
        in_use = confirmed["allocations"][-1]["device_ids"][0]
        assert (await eq.post(f"/devices/{in_use}/disposal", json=disposal, headers=coordination)).status_code == 409
        weee = (await eq.get(f"/weee/{YEAR}.csv", headers=coordination)).text.strip().splitlines()
        assert len(weee) == 1 + 10

        figures = (await eq.get("/figures")).json()
        total_delivered = sum(delivered.values())
        assert figures["flow"]["declared"] == figures["flow"]["received"] == 2000
        assert (figures["flow"]["wiped"], figures["flow"]["failed"]) == (2000 - FAILING, FAILING)
        assert figures["flow"]["delivered"] == total_delivered
        assert (figures["flow"]["returned"], figures["flow"]["disposed"]) == (3, 10)
        assert sum(figures["stock"].values()) == 2000
        assert figures["stock"]["disposed"] == 10
        assert figures["stock"]["with recipients"] == total_delivered - 3
        assert figures["delivered_by"]["recipient_kind"]["retirement-home"] == TABLET_CAP
        assert sum(figures["by_donor"][d]["delivered"] for d in DONORS) == total_delivered

        # The actions service counted the deliveries for its indicators, through events.
        def indicator(number: int, code: str) -> float:
            detail = httpx.get(f"{actions.url}/actions/{number}", timeout=10).json()
            return next(i["current_value"] for i in detail["indicators"] if i["code"] == code)

        await eventually(
            lambda: indicator(47, "a47-devices-schools") == delivered["secondary-school"],
            timeout=60,
            what="schools' deliveries counted for action 47",
        )
        assert indicator(46, "a46-devices-pupils") == delivered["pupils-association"]
        assert indicator(52, "a52-devices-retirement-homes") == delivered["retirement-home"] == TABLET_CAP
        assert indicator(30, "a30-devices-epn") == delivered["epn"]
        public_share = sum(figures["by_donor"][d]["delivered"] for d in PUBLIC_BODIES)
        assert indicator(57, "a57-devices-public-donations") == public_share, "only regional public bodies' donations"

        # The dashboard, built from the same events, shows the equipment service's own figures
        # (the steps the events determine: services/dashboard/read_models/equipment.py).
        dashboard = system["dashboard"]
        viewer = {
            "Authorization": "Bearer "
            + dashboard.cli(
                "keys", "create", "--organisation", "coordination-inclusion-numerique", "--role", "operator"
            )
        }
        same = ("declared", "received", "wiped", "failed", "refurbished", "returned", "disposed")

        def dashboard_flow() -> dict[str, int]:
            shown = httpx.get(f"{dashboard.url}/api/equipment", headers=viewer, timeout=10).json()["flow"]
            return {step: shown[step] for step in same}

        await eventually(
            lambda: dashboard_flow() == {step: figures["flow"][step] for step in same},
            timeout=60,
            what="the dashboard's funnel equal to GET /figures",
        )

    # Each donor heard of its own batch: received and sanitised, as counts.
    inbox, _ = smtp
    for donor in DONORS:

        def told(donor: str = donor) -> bool:
            return len(inbox.to(f"{donor}@donors.passerelle.example")) >= 2

        await eventually(told, timeout=30, what=f"{donor} told of its batch")
        subjects = sorted(m["Subject"] for m in inbox.to(f"{donor}@donors.passerelle.example"))
        assert subjects == [f"[Passerelle] Votre lot RIT-{YEAR} : effacé", f"[Passerelle] Votre lot RIT-{YEAR} : reçu"]
