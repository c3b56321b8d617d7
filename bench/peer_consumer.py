"""The hand-written consumer peer: aiokafka ``getmany`` + one pooled aiohttp session, no dedupe.

Each batch's records are POSTed to the target (body byte-exact, ``ce-id`` header), at most
``--in-flight`` at once; the batch's offsets are committed after every request of it finished. This is
the plain at-least-once loop a team could write instead of running ``hookgate consumer``.
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiokafka import AIOKafkaConsumer

from hookgate.core.runtime import run


async def consume(bootstrap: str, topic: str, group: str, url: str, in_flight: int, stop: asyncio.Event) -> int:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    slots = asyncio.Semaphore(in_flight)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session:

        async def post(value: bytes, event_id: str) -> None:
            async with slots, session.post(url, data=value, headers={"ce-id": event_id}) as resp:
                await resp.read()

        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                posts = []
                for records in batches.values():
                    for r in records:
                        ce_id = next((v.decode() for k, v in r.headers if k == "ce_id"), "")
                        posts.append(post(r.value, ce_id))
                if posts:
                    await asyncio.gather(*posts)
                    await consumer.commit()
        finally:
            await consumer.stop()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--in-flight", type=int, default=64)
    args = parser.parse_args()
    raise SystemExit(run(lambda stop: consume(args.bootstrap, args.topic, args.group, args.url, args.in_flight, stop)))


if __name__ == "__main__":
    main()
