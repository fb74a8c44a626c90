"""Use cases of the actions service. Commands take ``(uow, command)``, event handlers
``(uow, envelope, data)``; each runs in ``async with uow:``, one transaction for the state, the
action's history and the outbox."""
