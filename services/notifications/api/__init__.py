"""HTTP API of the notifications service: routers that parse, authorise, call a use case and shape the reply."""

from fastapi import APIRouter

from . import deliveries, epns, partners

ROUTERS: list[APIRouter] = [partners.router, deliveries.router, epns.router]
