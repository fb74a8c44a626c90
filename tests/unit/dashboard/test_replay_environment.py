"""The dead-letter tool the replay button runs gets its credentials from the replay's env file, never
the dashboard's own (its database, its Kafka principal)."""

from __future__ import annotations

from services.dashboard.pages.system import inherited


def test_the_tool_inherits_how_to_run_python_and_the_deployment_s_prefix_but_no_credential() -> None:
    environ = {
        "PATH": "/usr/bin",
        "LC_ALL": "C.UTF-8",
        "PASSERELLE_TOPIC_PREFIX": "prod.",
        "PASSERELLE_DASHBOARD_DATABASE_URL": "postgresql://dashboard:secret@db/passerelle_dashboard",
        "PASSERELLE_KAFKA_USERNAME": "service-dashboard",
        "PASSERELLE_KAFKA_PASSWORD": "secret",
    }

    assert inherited(environ) == {"PATH": "/usr/bin", "LC_ALL": "C.UTF-8", "PASSERELLE_TOPIC_PREFIX": "prod."}
