"""The equipment repository's contract, run against the fake (tests/fakes/equipment/) and
against PostgreSQL (services/equipment/sql), so that the use cases' unit tests, which run on the
fake, cannot pass on behaviour the database does not have."""
