"""The actions repository's contract, run against the fake (``tests/fakes/actions/``) and against
PostgreSQL (``services/actions/sql``): what the use-case unit tests rely on the fake for must be
what the SQL does."""
