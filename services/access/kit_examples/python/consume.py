"""Read the kit's topics with aiokafka and check every event against the contracts package.

    pip install aiokafka <passerelle>/contracts   (the contracts package: contracts/ in Passerelle's repository)
    python examples/python/consume.py [--group-suffix python] [--until-end]

Prints one line per event; with --until-end, stops once every partition has been read to its end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from passerelle_contracts import Envelope
from passerelle_contracts.partners import parse_partner_data

KIT = Path(__file__).resolve().parents[2]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--group-suffix", default="python")
    parser.add_argument("--until-end", action="store_true")
    args = parser.parse_args()
    kit = json.loads((KIT / "kit.json").read_text())
    context = ssl.create_default_context(cafile=str(KIT / kit["ca_file"]))
    consumer = AIOKafkaConsumer(
        *kit["topics"],
        bootstrap_servers=kit["bootstrap"],
        security_protocol="SASL_SSL",
        sasl_mechanism=kit["sasl_mechanism"],
        sasl_plain_username=kit["username"],
        sasl_plain_password=(KIT / kit["password_file"]).read_text().strip(),
        ssl_context=context,
        group_id=kit["consumer_group_prefix"] + args.group_suffix,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=2000, max_records=500)
            for records in batch.values():
                for record in records:
                    envelope = Envelope.model_validate_json(record.value)
                    data = parse_partner_data(envelope)  # raises if the event breaks its contract
                    print(f"{record.topic}:{record.partition}:{record.offset} {envelope.event_type} {data!r}")
            if batch:
                await consumer.commit()
            elif args.until_end and consumer.assignment():  # none yet: the group is still joining
                ends = await consumer.end_offsets(list(consumer.assignment()))
                positions = {tp: await consumer.position(tp) for tp in ends}
                if all(positions[tp] >= end for tp, end in ends.items()):
                    return
    finally:
        await consumer.stop()


if __name__ == "__main__":
    asyncio.run(main())
