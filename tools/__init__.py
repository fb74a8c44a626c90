"""Developer tools: the local infrastructure, containers, generated documents."""
