"""All of the equipment service's SQL, as named methods of one repository on an ``Executor``
(a transaction's connection, or the pool for single reads). One class, written in parts along
the service's seams: intake, the device record, redistribution, and the figures' query."""

from __future__ import annotations

from .devices import DeviceQueries
from .figures import FigureQueries
from .intake import IntakeQueries
from .redistribution import RedistributionQueries


class EquipmentRepository(IntakeQueries, DeviceQueries, RedistributionQueries, FigureQueries):
    pass


__all__ = ["EquipmentRepository"]
