"""The fuzzing run uses the end-to-end fixtures: the four services as processes, real SMTP."""

from tests.e2e.conftest import service_env, smtp, system

__all__ = ["service_env", "smtp", "system"]
