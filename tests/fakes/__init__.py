"""Fake repositories of the services, for use-case unit tests and the shared repository suites."""
