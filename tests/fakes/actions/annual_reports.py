"""The annual report's sources and files, in memory (``services/actions/sql/annual_reports.py``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.actions.sql import Row

from .base import (
    FakeTables,
    jsonb,
    now,
    pick,
)


class FakeAnnualReports(FakeTables):
    # -- the annual report --------------------------------------------------------------------
    async def report_plan(self) -> list[Row]:
        rows = []
        for number in sorted(self.actions):
            a = self.actions[number]
            if a["lead"] not in self.organisations_:
                continue  # an inner join (the foreign key makes it impossible anyway)
            chantier = self.chantiers[a["chantier"]]
            axis = self.axes[chantier["axis"]]
            rows.append(
                {
                    "number": number,
                    "title_fr": a["title_fr"],
                    "title_nl": a["title_nl"],
                    "chantier": a["chantier"],
                    "weight": a["weight"],
                    "lead": self.organisations_[a["lead"]]["name"],
                    "partners": [
                        self.organisations_[p]["name"] if p in self.organisations_ else p for p in a["partners"]
                    ],
                    "axis": chantier["axis"],
                    "chantier_fr": chantier["title_fr"],
                    "chantier_nl": chantier["title_nl"],
                    "axis_fr": axis["title_fr"],
                    "axis_nl": axis["title_nl"],
                }
            )
        return rows

    async def history_until(self, cutoff: datetime) -> list[Row]:
        return [
            pick(h, ("action_number", "event_type", "data", "changes", "occurred_at"))
            for h in self.history_
            if h["occurred_at"] < cutoff
        ]

    async def meetings_until(self, cutoff: datetime, first: date, last: date) -> list[Row]:
        rows = sorted(
            (
                m
                for m in self.meetings_.values()
                if m["held_recorded_at"] is not None
                and m["held_recorded_at"] < cutoff
                and first <= m["held_on"] <= last
            ),
            key=lambda m: m["held_on"],
        )
        return [
            {
                "held_on": m["held_on"],
                "kind": m["kind"],
                "attendees": len(m["attendees"]),
                "decisions": sum(1 for d in self.decisions if d["meeting_id"] == m["id"]),
            }
            for m in rows
        ]

    async def annual_report_exists(self, report_id: str) -> bool:
        return report_id in self.annual_reports_

    async def insert_annual_report(
        self, report_id: str, year: int, as_of: date, published_by: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> None:
        if report_id in self.annual_reports_:
            raise ValueError(f"{report_id} exists")  # the primary key
        self.annual_reports_[report_id] = {
            "id": report_id,
            "year": year,
            "as_of": as_of,
            "published_at": now(),
            "published_by": jsonb(published_by),
        }
        for name, (sha, content) in files.items():
            self.files[(report_id, name)] = (sha, content)

    async def annual_reports(self, year: int | None = None) -> list[Row]:
        rows = sorted(self.annual_reports_.values(), key=lambda r: (r["year"], r["as_of"]))
        out = []
        for r in rows:
            files = {name: sha for (rid, name), (sha, _) in self.files.items() if rid == r["id"]}
            if files and (year is None or r["year"] == year):  # an inner join on the files
                out.append({**pick(r, ("id", "year", "as_of", "published_at")), "files": files})
        return out

    async def annual_report_file(self, report_id: str, name: str) -> tuple[bytes, str] | None:
        found = self.files.get((report_id, name))
        return None if found is None else (found[1], found[0])
