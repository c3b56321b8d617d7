"""Where tests get a real Kafka broker from.

Order: ``KAFKA_BOOTSTRAP_SERVERS`` when set; else testcontainers' Kafka when a Docker engine answers;
else the repo's local KRaft broker (deploy/kafka-local/kafka.sh), started here and stopped after the
session if this session started it. A missing broker is a failure, never a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = ROOT / "deploy" / "kafka-local" / "kafka.sh"


@dataclass
class LocalBroker:
    """A broker run by kafka.sh on its own port and data directory; tests may stop and restart it."""

    port: int
    data_dir: Path
    controller_port: int = 0  # 0: kafka.sh's default, port + 1

    @classmethod
    def started(cls, data_dir: Path, port: int = 0, attempts: int = 3) -> LocalBroker:
        """A broker up on free ports (``port`` when given), its KRaft controller port free too.

        A port found free can be taken by another process before Java binds it (a TOCTOU race other
        test suites on a shared machine lose now and then): on "Address already in use" this tries
        fresh ports, ``attempts`` times in all.
        """
        for attempt in range(attempts):
            broker = cls(port=port or free_port(), data_dir=data_dir, controller_port=free_port())
            try:
                broker.up()
                return broker
            except RuntimeError as exc:
                broker.down()
                if "Address already in use" not in str(exc) or attempt == attempts - 1 or port:
                    raise
                shutil.rmtree(data_dir, ignore_errors=True)  # formatted for the ports that were taken
        raise AssertionError("unreachable")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            **({"KAFKA_CONTROLLER_PORT": str(self.controller_port)} if self.controller_port else {}),
            "KAFKA_DATA_DIR": str(self.data_dir),
            "KAFKA_HEAP_OPTS": "-Xms128m -Xmx512m",
        }

    def up(self) -> None:
        res = subprocess.run(
            ["bash", str(KAFKA_SH), "up"], env=self._env(), capture_output=True, text=True, timeout=600
        )
        if res.returncode != 0:
            raise RuntimeError(f"could not start the local Kafka broker:\n{res.stderr}{res.stdout}")

    def down(self) -> None:
        subprocess.run(["bash", str(KAFKA_SH), "down"], env=self._env(), capture_output=True, timeout=120)

    def running(self) -> bool:
        return subprocess.run(["bash", str(KAFKA_SH), "status"], env=self._env(), capture_output=True).returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reachable(bootstrap: str, timeout: float = 3.0) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout):
                return True
        except OSError:
            continue
    return False


def docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@contextmanager
def provide_broker(tmp_root: Path) -> Iterator[str]:
    """Yield a bootstrap address of a running broker, however it was found or started."""
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        if not reachable(env):
            raise RuntimeError(f"KAFKA_BOOTSTRAP_SERVERS={env} is set but no broker answers there")
        yield env
        return
    if os.environ.get("HOOKGATE_TEST_DOCKER", "auto") != "never" and docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    broker = LocalBroker.started(tmp_root / "kafka", port=int(os.environ.get("HOOKGATE_TEST_KAFKA_PORT", "0")))
    try:
        yield broker.bootstrap
    finally:
        broker.down()


class SharedBroker:
    """One broker for every worker of a parallel run, provided in a thread of the run's controller.

    The thread starts it once a worker asks (a worker that collected a Kafka test creates ``wanted`` in
    ``root`` right after collection, so the broker boots while the first tests run; a run without Kafka
    tests starts none). :func:`provide_broker` runs in the thread; its address, or the reason there is
    none, goes to ``root/address.json``, written whole (a rename), for :func:`wait_shared_broker`.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hookgate-shared-broker", daemon=True)

    @classmethod
    def start(cls, root: Path) -> SharedBroker:
        shared = cls(root)
        shared._thread.start()
        return shared

    def _publish(self, what: dict[str, str]) -> None:
        part = self.root / "address.part"
        part.write_text(json.dumps(what))
        part.replace(self.root / "address.json")

    def _run(self) -> None:
        while not (self.root / "wanted").exists():
            if self._stop.wait(0.1):
                return
        try:
            with provide_broker(self.root) as bootstrap:
                self._publish({"bootstrap": bootstrap})
                self._stop.wait()
        except Exception as exc:  # the workers fail their Kafka tests with it (raised here, it would reach no one)
            if not (self.root / "address.json").exists():
                self._publish({"error": f"{type(exc).__name__}: {exc}"})

    def stop(self) -> None:
        """Stop the broker (when this run started it) and wait until it is down."""
        self._stop.set()
        self._thread.join(timeout=180)


def want_shared_broker(root: Path) -> None:
    """Ask the controller for the run's broker (no-op when asked before)."""
    (root / "wanted").touch()


def wait_shared_broker(root: Path, timeout: float = 900.0) -> str:
    """The shared broker's bootstrap address once the controller has it; its start-up error raised as ours."""
    want_shared_broker(root)
    address = root / "address.json"
    deadline = time.monotonic() + timeout
    while not address.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no broker address in {address} after {timeout:.0f} s")
        time.sleep(0.2)
    got = json.loads(address.read_text())
    if "error" in got:
        raise RuntimeError(f"the test run's broker could not be provided: {got['error']}")
    return str(got["bootstrap"])
