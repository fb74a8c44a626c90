"""HTTP API of the funding service: routers that parse, authorise, call a use case and shape the reply."""

from fastapi import APIRouter

from . import cadastre, epns, grants

ROUTERS: list[APIRouter] = [grants.router, epns.router, cadastre.router]
