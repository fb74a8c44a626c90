"""The funding service: the funding register of the EPNs, calls, grants and payments."""
