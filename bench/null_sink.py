"""The gateway's own per-request work: the real gateway application and server, with no Kafka.

The same ``create_app`` as ``hookgate gateway`` (verification, admission, limits, parsing, the envelope,
metrics, the audit line, the connection guard), the same logging set-up, interpreter and uvloop loop,
served the same way (``GuardedSite``, backlog 1024); only the event sink acknowledges each event at
once instead of producing it to Kafka. Under the same load, its CPU per request minus the bare
ceiling's (``bench/ceiling.py``) is what hookgate itself costs per request, apart from the produce path.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from aiohttp import web

from hookgate.core.config import load_yaml
from hookgate.core.envelope import Envelope
from hookgate.core.logging import configure_logging
from hookgate.core.runtime import freeze_startup_heap, run
from hookgate.gateway.config import GatewayConfig
from hookgate.gateway.http.app import CONNECTIONS, create_app
from hookgate.gateway.intake.connections import GuardedSite
from hookgate.gateway.publish.sink import Ack, PublishResult


class NullSink:
    """Acknowledges every event at once and keeps nothing."""

    def __init__(self) -> None:
        self._offset = 0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def readiness(self) -> tuple[bool, dict[str, str]]:
        return True, {"sink": "null"}

    async def publish(self, topic: str, key: bytes, envelope: Envelope) -> PublishResult:
        self._offset += 1
        return Ack(topic, 0, self._offset)


async def serve(config: GatewayConfig, stop: asyncio.Event) -> int:
    app = create_app(config, sink=NullSink())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listen = config.gateway.listen
    await GuardedSite(runner, app[CONNECTIONS], listen.host, listen.port, backlog=1024).start()
    freeze_startup_heap()
    await stop.wait()
    await runner.cleanup()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--config", type=Path, required=True, help="a gateway config (as hookgate gateway -c)")
    args = parser.parse_args()
    config = load_yaml(GatewayConfig, args.config)
    configure_logging(config.gateway.log_level)
    raise SystemExit(run(lambda stop: serve(config, stop)))


if __name__ == "__main__":
    main()
