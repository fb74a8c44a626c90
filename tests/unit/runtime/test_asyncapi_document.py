"""The AsyncAPI document a service serves at /asyncapi.json."""

from __future__ import annotations

from services.notifications.app import create_app
from services.notifications.settings import NotificationsSettings


def test_a_service_whose_topics_carry_a_prefix_still_describes_them() -> None:
    """Found by fuzzing (issue 10): with a topic prefix (one per environment or test run), the
    consumed channels' addresses carry it, and the document failed with 500 looking them up."""
    app = create_app(NotificationsSettings(topic_prefix="staging.run7."))

    document = app.state.asyncapi()

    addresses = {channel["address"] for channel in document["channels"].values()}
    assert "staging.run7.passerelle.actions.v1" in addresses
    payloads = [m["payload"] for m in document["components"]["messages"].values()]
    assert all(p for p in payloads)
