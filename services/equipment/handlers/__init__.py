"""The equipment service's use cases, one module per part of a device's life: commands take
``(uow, command)`` and run in one unit of work (state, history and events commit together);
reads take the repository. Each command locks the rows it changes (a device, a batch, a request,
a handover) before it emits, so one aggregate's events keep their order in the outbox."""
