"""The produce path alone (aiokafka issue 528): acknowledged events/s with many concurrent senders.

``direct``: every sender coroutine awaits ``producer.send_and_wait()`` itself (the pattern that
collapses); ``pump``: senders go through the gateway's :class:`Publisher`, which funnels them into one
task feeding the producer with ``send()`` per record; ``batch``: a prototype of the other pump the issue
names (:class:`BatchPump`): one task takes everything queued, partitions it with the producer's own
partitioner and hands each partition's records over as one ``create_batch()``/``send_batch()``. Same
producer settings (idempotent, acks=all), same 1 KB value and headers. Prints one JSON object on stdout;
each row has events/s, latency and the process's CPU time per event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from hookgate.core.envelope import EXT_TENANT, EXT_TRIGGER, Envelope
from hookgate.core.kafka import TopicAdmin, make_producer
from hookgate.core.runtime import run
from hookgate.core.settings import KafkaSettings, TopicSettings
from hookgate.gateway.config import ProducerSettings
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.publish.publisher import Publisher
from hookgate.gateway.publish.sink import PublishFailure

Send = Callable[[], Awaitable[object]]


def envelope(size: int) -> Envelope:
    return Envelope(
        id="00000000-0000-0000-0000-000000000000",
        source="/hookgate/bench",
        type="com.github.push",
        data=b"x" * size,
        time="2026-01-01T00:00:00.000Z",
        datacontenttype="application/json",
        extensions={EXT_TENANT: "produce", EXT_TRIGGER: "bench"},
    )


async def drive(send: Send, concurrency: int, seconds: float) -> dict[str, Any]:
    """``concurrency`` coroutines sending in a loop for ``seconds``; acknowledged events/s and latency."""
    done = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            await send()
            latencies.append(time.perf_counter() - t)
            done += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    latencies.sort()
    return {
        "concurrency": concurrency,
        "events_per_second": round(done / elapsed, 1),
        "cpu_us_per_event": round(cpu / done * 1e6, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


class BatchPump:
    """The ``create_batch``/``send_batch`` pump, as a prototype to measure against the Publisher's ``send()``.

    Records keep their partition (the producer's own partitioner on the key); each round takes everything
    queued, builds one batch per partition and awaits ``send_batch`` (which waits while that partition's
    previous batch has not left), then resolves every record's future from its batch's.
    """

    def __init__(self, producer: AIOKafkaProducer, topic: str, headers: list[tuple[str, bytes]]) -> None:
        self._producer = producer
        self._topic = topic
        self._headers = headers
        self._queue: asyncio.Queue[tuple[bytes, bytes, asyncio.Future[None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def publish(self, key: bytes, value: bytes) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((key, value, fut))
        await fut

    async def _pump(self) -> None:
        producer, topic = self._producer, self._topic
        await producer.client._wait_on_metadata(topic)
        partitions = list(producer.client.cluster.partitions_for_topic(topic) or [])
        while True:
            items = [await self._queue.get()]
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            groups: dict[int, list[tuple[bytes, bytes, asyncio.Future[None]]]] = {}
            for item in items:
                p = producer._partitioner(item[0], partitions, partitions)
                groups.setdefault(p, []).append(item)
            for p, group in groups.items():
                while group:
                    batch = producer.create_batch()
                    taken = 0
                    for key, value, _ in group:
                        if batch.append(key=key, value=value, timestamp=None, headers=self._headers) is None:
                            break
                        taken += 1
                    fut = await producer.send_batch(batch, topic, partition=p)
                    futures = [f for _, _, f in group[:taken]]
                    fut.add_done_callback(lambda f, fs=futures: [x.set_result(None) for x in fs if not x.done()])
                    group = group[taken:]


async def main_async(args: argparse.Namespace, stop: asyncio.Event) -> int:
    del stop
    kafka = KafkaSettings(bootstrap_servers=args.bootstrap, topics=TopicSettings(prefix=args.prefix, partitions=3))
    topic = kafka.topics.topic_for("produce")
    ev = envelope(args.size)
    headers = ev.to_headers()
    results: dict[str, Any] = {"direct": [], "pump": [], "batch": []}

    await TopicAdmin(kafka).ensure([topic])
    producer = make_producer(kafka)
    await producer.start()
    try:
        for c in args.concurrency if "direct" in args.modes else []:

            async def direct() -> object:
                return await producer.send_and_wait(topic, ev.data, key=b"produce", headers=headers)

            await drive(direct, c, 1.0)  # warm-up: metadata, connections, topic creation
            results["direct"].append(await drive(direct, c, args.seconds))
        pump = BatchPump(producer, topic, headers)
        pump.start()
        keys = [f"key-{i}".encode() for i in range(1024)]
        counter = iter(range(1 << 62))
        for c in args.concurrency if "batch" in args.modes else []:

            async def batched() -> object:
                await pump.publish(keys[next(counter) % 1024], ev.data)
                return None

            await drive(batched, c, 1.0)
            results["batch"].append(await drive(batched, c, args.seconds))
        await pump.stop()
    finally:
        await producer.stop()

    publisher = Publisher(kafka, ProducerSettings(), GatewayMetrics(), [topic], timeout=10.0)
    await publisher.start()
    try:
        deadline = time.monotonic() + 30
        while not publisher.readiness()[0]:
            if time.monotonic() > deadline:
                raise RuntimeError("publisher did not connect")
            await asyncio.sleep(0.1)
        for c in args.concurrency if "pump" in args.modes else []:

            async def pumped() -> object:
                result = await publisher.publish(topic, keys[next(counter) % 1024], ev)
                if isinstance(result, PublishFailure):
                    raise RuntimeError(f"publish failed: {result.reason}")
                return result

            await drive(pumped, c, 1.0)
            results["pump"].append(await drive(pumped, c, args.seconds))
    finally:
        await publisher.stop()
    print(json.dumps(results))
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--concurrency", type=int, nargs="+", default=[64, 512, 4096])
    p.add_argument("--modes", nargs="+", choices=["direct", "pump", "batch"], default=["direct", "pump", "batch"])
    args = p.parse_args()
    sys.exit(run(lambda stop: main_async(args, stop)))


if __name__ == "__main__":
    main()
