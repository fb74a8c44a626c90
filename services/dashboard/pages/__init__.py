"""The figure pages: each module has its read of the read models (``figures``, JSON-able, the same
for the page, its ``/api/...`` route and the rebuild's comparison) and its routes."""
