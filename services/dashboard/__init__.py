"""The operator dashboard: a live web view of the plan, the equipment, the funding and the system,
built from the events (see README.md)."""
