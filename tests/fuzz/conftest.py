"""The fuzzing run uses the end-to-end fixtures: the four services as processes, real SMTP."""

from tests.e2e.conftest import smtp, system

__all__ = ["smtp", "system"]
