"""What the HTTP layer answers when the database refuses a value or is away (the backstops
behind the limits at the edge)."""

from __future__ import annotations

import asyncpg
import httpx

from services.funding.app import create_app


async def call_raising(error: Exception) -> httpx.Response:
    app = create_app()  # not started: the route below touches nothing

    async def failing() -> None:
        raise error

    app.add_api_route("/failing", failing)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://funding") as client:
        return await client.get("/failing")


async def test_a_value_postgresql_refuses_is_a_422_with_its_reason() -> None:
    response = await call_raising(
        asyncpg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')
    )

    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid-request",
        "reason": 'a value cannot be stored: invalid byte sequence for encoding "UTF8": 0x00',
    }


async def test_a_lost_database_connection_is_a_503_to_try_again() -> None:
    response = await call_raising(
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    )

    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"


async def test_a_data_error_of_the_services_own_making_is_a_500_not_blamed_on_the_request() -> None:
    response = await call_raising(asyncpg.DivisionByZeroError("division by zero"))

    assert response.status_code == 500
    assert response.json()["error"] == "internal-error"
