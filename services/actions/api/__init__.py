"""The actions service's HTTP routers: parse, authorise (``unit_of_work(*roles)``), call a use
case, shape the reply. Reads that need no key take the repository (``repository``)."""

from __future__ import annotations

from fastapi import APIRouter

from . import actions, csv_files, governance, planning

ROUTERS: list[APIRouter] = [actions.router, planning.router, governance.router, csv_files.router]
