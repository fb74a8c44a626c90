"""HTTP API of the notifications service: routers that parse, authorise, call a use case and shape the reply."""

from fastapi import APIRouter

from . import contacts, deliveries, epns, partners, unsubscribe

ROUTERS: list[APIRouter] = [partners.router, contacts.router, deliveries.router, epns.router, unsubscribe.router]
