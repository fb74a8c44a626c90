"""The shared runtime of Passerelle's services: settings, logging, Kafka, PostgreSQL, outbox,
inbox, dead letters and HTTP. It never imports a service's domain."""
