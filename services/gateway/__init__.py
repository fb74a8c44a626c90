"""The gateway: the partner topics as an HTTP stream (Server-Sent Events), for partners without a Kafka client."""
