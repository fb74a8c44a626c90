"""What a dead letter carries: the headers ``consumer._dead_letter`` writes on a record of
``<topic>.dlq`` and ``dlq`` reads back (list, show, replay), and the reasons it gives. Named once,
here, so that the writer and the reader cannot drift apart; this module imports nothing."""

from __future__ import annotations

PREFIX = "x-dlq-"  # every header below but REPLAYED_FROM: a replay drops them
REASON = "x-dlq-reason"  # one of REASONS
ERROR = "x-dlq-error"
CONSUMER = "x-dlq-consumer"  # the consumer's name (indicators), not its group
ATTEMPTS = "x-dlq-attempts"
ORIGINAL_TOPIC = "x-dlq-original-topic"
ORIGINAL_PARTITION = "x-dlq-original-partition"
ORIGINAL_OFFSET = "x-dlq-original-offset"
FAILED_AT = "x-dlq-failed-at"  # ISO 8601, UTC
VALUE_DROPPED = "x-dlq-value-dropped"  # written without its value: why (its size)
REPLAYED_FROM = "x-replayed-from"  # on a replayed record: the id of the dead letter it comes from

# Why a record was dead-lettered.
INVALID_ENVELOPE = "invalid-envelope"  # not an envelope at all: no consumer can read it
INVALID_DATA = "invalid-data"  # an envelope whose data its event type refuses
HANDLER_FAILED = "handler-failed"  # the handler failed on every attempt
# An envelope its topic's producer would not write: another ``source`` than the topic's producer,
# or an event type the topic does not carry (the contracts' registry). Checked before any
# handler, for every record: a forgery (a stolen principal writing lies on its own topic) or a
# producer's bug, never applied, always worth an operator's look; replayed, it would come back.
WRONG_PRODUCER = "wrong-producer"
REASONS = (INVALID_ENVELOPE, INVALID_DATA, HANDLER_FAILED, WRONG_PRODUCER)
