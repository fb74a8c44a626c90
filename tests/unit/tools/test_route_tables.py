"""Each service's README says who may call each route, and says it as the code does."""

from __future__ import annotations

import pytest

from tools import routes


@pytest.mark.parametrize("service", routes.SERVICES)
def test_the_readme_route_table_matches_the_service(service: str) -> None:
    text = routes.readme(service).read_text("utf-8")

    assert routes.rendered(service) in text, (
        f"services/{service}/README.md: the route table is out of date: run python -m tools.routes write"
    )


def test_the_table_names_the_roles_a_command_allows() -> None:
    table = routes.rendered("funding")

    assert "| POST | `/grants` | key: coordination |" in table
    assert "| GET | `/health` | public |" in table
    assert "| GET | `/ops/outbox` | key: coordination, operator |" in table
