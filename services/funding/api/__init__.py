"""HTTP API of the funding service: routers that parse, authorise, call a use case and shape the reply."""

from fastapi import APIRouter

from . import cadastre, calls, epns, grants, returns

ROUTERS: list[APIRouter] = [grants.router, calls.router, epns.router, cadastre.router, returns.router]
