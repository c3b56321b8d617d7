"""The trigger catalog on Kafka: every replica follows ``{prefix}._triggers`` and serves what it read.

- **Follow.** At start-up the replica assigns itself every partition of the compacted topic (no consumer
  group: each replica reads all of it), notes the end offsets, and reads from the beginning. It is
  *caught up* (and ``/readyz`` can pass) once it has read to those offsets. It then keeps polling, so a
  change written by any replica is live here one short poll (``poll_interval_ms``) after it is stored.
- **Apply.** After each batch of records the merged trigger set (:class:`LiveTriggers`) is handed to
  ``apply``, which prepares what the new triggers need (their topics) and swaps the registry.
- **Write.** A write produces one record (acks=all, idempotent) and returns once this replica applied
  it: read-your-writes on the replica that wrote. Writes are serialized per replica.
- **Rotate.** A rotation's record holds the replaced secrets and the absolute time their overlap ends;
  every replica drops them at that time by itself (a timer here), with no further record.

Nothing else is stored: no database, no file written at run time.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from prometheus_client import CollectorRegistry, Counter, Gauge

from hookgate.core.backoff import RECONNECT
from hookgate.core.kafka import TopicAdmin, make_consumer, make_producer, start_producer, stop_consumer
from hookgate.core.logging import get_logger
from hookgate.core.outage import DependencyWatch
from hookgate.core.settings import KafkaSettings
from hookgate.core.topics import internal_prefix, triggers_topic
from hookgate.gateway.catalog.crypto import KeyRing
from hookgate.gateway.catalog.live import LiveTriggers
from hookgate.gateway.catalog.model import (
    CatalogUnavailable,
    FieldError,
    InvalidTrigger,
    Issued,
    ReadOnlyTrigger,
    State,
    TriggerCatalog,
    TriggerExists,
    TriggerView,
    UnknownTrigger,
)
from hookgate.gateway.catalog.record import RecordError, Rotation, TriggerRecord, decode, encode
from hookgate.gateway.catalog.settings import CatalogSettings
from hookgate.gateway.catalog.spec import (
    ROTATABLE,
    Path,
    RuntimeRules,
    generated_secret_field,
    get_path,
    json_copy,
    new_secret,
    new_trigger_id,
    preset_of,
    secret_fields,
    set_path,
    validate,
)
from hookgate.gateway.config import TriggerConfig

log = get_logger("hookgate.gateway.catalog")

Apply = Callable[[list[TriggerConfig]], Awaitable[bool]]
"""Serve these triggers (prepare, then swap); False when some could not be prepared yet (retried later)."""

COMPACTED = {"cleanup.policy": "compact"}
RETRY_APPLY_SECONDS = 5.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class KafkaTriggerCatalog:
    """The :class:`~hookgate.gateway.catalog.model.TriggerCatalog` of a gateway replica, on Kafka.

    ``apply`` gets the complete set of triggers to serve whenever it changes (the YAML ones first).
    With ``settings.enabled`` false the catalog only lists the YAML triggers and refuses writes.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        settings: CatalogSettings,
        yaml: Sequence[TriggerConfig],
        *,
        base_url: str | None = None,
        apply: Apply | None = None,
        clock: Callable[[], datetime] = utc_now,
        keys: KeyRing | None = None,
        registry: CollectorRegistry | None = None,
        client_ca: bool = False,
    ) -> None:
        self.topic = triggers_topic(kafka.topics)
        self.settings = settings
        self.apply = apply
        self._kafka = kafka
        self._clock = clock
        self._keys = keys if keys is not None else KeyRing.from_settings(settings.encryption)
        self._rules = RuntimeRules(internal_prefix(kafka.topics), client_ca=client_ca)
        self._live = LiveTriggers(list(yaml), base_url, rules=self._rules)
        self._admin = TopicAdmin(kafka)
        self._watch = DependencyWatch("trigger_topic")
        self._caught_up = not settings.enabled
        self._applied: dict[int, int] = {}
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._swap = asyncio.Lock()
        self._writes = asyncio.Lock()
        self._wake = asyncio.Event()
        self._retry_apply = False
        registry = registry if registry is not None else CollectorRegistry()
        self._served = Gauge(
            "hookgate_gateway_triggers",
            "Triggers this replica serves (enabled ones), by origin: yaml or runtime.",
            ["origin"],
            registry=registry,
        )
        self._unreadable = Counter(
            "hookgate_gateway_trigger_records_unreadable",
            "Trigger records this replica could not read (unknown key id, damaged), so did not serve.",
            registry=registry,
        )
        self._count(self._live.served(clock()))

    # -- reading ---------------------------------------------------------------------------------

    def readiness(self) -> tuple[bool, dict[str, str]]:
        """Ready once the topic was read up to the end offsets seen at start (always, when disabled)."""
        if not self.settings.enabled:
            return True, {}
        return self._caught_up, {"triggers": "ok" if self._caught_up else "loading"}

    @property
    def caught_up(self) -> bool:
        return self._caught_up

    def get(self, trigger_id: str) -> TriggerView | None:
        return self._live.view(trigger_id, self._clock())

    @property
    def yaml(self) -> list[TriggerConfig]:
        """The YAML triggers in force (as of the last reload)."""
        return self._live.yaml

    def runtime_shadowed(self) -> list[TriggerRecord]:
        """Runtime triggers not served because a YAML trigger has their id or name (YAML wins)."""
        ids = self._live.yaml_ids
        names = {t.name for t in self._live.yaml}
        return [r for r in self._live.runtime.values() if r.id in ids or r.name in names]

    def served(self) -> list[TriggerConfig]:
        """The trigger configs this replica serves now (YAML and runtime, the conflict rule applied)."""
        return self._live.served(self._clock())

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start following the topic and connecting the writer; returns at once."""
        if not self.settings.enabled:
            return
        self._tasks = [
            asyncio.create_task(self._follow(), name="catalog-follow"),
            asyncio.create_task(self._connect_writer(), name="catalog-writer"),
            asyncio.create_task(self._timers(), name="catalog-timers"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for waiter in self._waiters:
            if not waiter[2].done():
                waiter[2].set_exception(CatalogUnavailable("the gateway is stopping"))
        self._waiters = []
        if self._consumer is not None:
            await stop_consumer(self._consumer)
            self._consumer = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def set_yaml(self, triggers: Sequence[TriggerConfig]) -> None:
        """Replace the YAML triggers (a reload) and serve the new set."""
        self._live.set_yaml(triggers)
        await self._refresh()

    def _count(self, configs: Sequence[TriggerConfig]) -> None:
        yaml_ids = self._live.yaml_ids
        enabled = [c for c in configs if c.enabled]
        from_yaml = sum(1 for c in enabled if c.id in yaml_ids)
        self._served.labels("yaml").set(from_yaml)
        self._served.labels("runtime").set(len(enabled) - from_yaml)

    # -- following -------------------------------------------------------------------------------

    async def _ensure_topic(self) -> None:
        await self._admin.ensure([self.topic], partitions=self.settings.partitions, config=COMPACTED)

    async def _connect_writer(self) -> None:
        self._producer = await start_producer(lambda: make_producer(self._kafka), self._ensure_topic, self._watch)

    async def _start_consumer(self) -> tuple[AIOKafkaConsumer, dict[TopicPartition, int]]:
        async for _ in RECONNECT.attempts():
            consumer = make_consumer(
                self._kafka,
                group_id=None,
                offset_reset="earliest",  # every replica reads the whole topic
                fetch_max_wait_ms=self.settings.poll_interval_ms,
                isolation_level="read_uncommitted",
            )
            try:
                await self._ensure_topic()
                await consumer.start()
                # A consumer with no subscription has no metadata yet (aiokafka has no public refresh). Ask
                # for this topic's only: a plain refresh would fetch every topic of the cluster, held until
                # assign() narrows it (~0.7 KiB per partition: MiBs of peak RSS on a large cluster).
                await consumer._client.set_topics([self.topic])
                parts = consumer.partitions_for_topic(self.topic)
                if not parts:
                    raise RuntimeError(f"no partitions known for {self.topic}")
                tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                targets = await consumer.end_offsets(tps)
            except (KafkaError, OSError, RuntimeError) as exc:
                self._watch.down(type(exc).__name__, str(exc) or None)
                with contextlib.suppress(Exception):
                    await consumer.stop()
                continue
            except asyncio.CancelledError:  # stopped while connecting: close what was opened
                with contextlib.suppress(Exception):
                    await asyncio.shield(consumer.stop())
                raise
            self._watch.up()
            return consumer, targets
        raise AssertionError("RECONNECT.attempts() without a stop event never ends")  # pragma: no cover

    async def _follow(self) -> None:
        consumer, targets = await self._start_consumer()
        self._consumer = consumer
        log.info(
            "trigger_topic_following", topic=self.topic, end_offsets={tp.partition: o for tp, o in targets.items()}
        )
        pending = dict(targets)
        read = 0
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=self.settings.poll_interval_ms, max_records=1000)
            except KafkaError as exc:
                self._watch.down(type(exc).__name__, str(exc) or None)
                await asyncio.sleep(RECONNECT.base)
                continue
            read_to: dict[int, int] = {}
            for tp, records in batch.items():
                for rec in records:
                    self._ingest(rec)
                    read += 1
                if records:
                    read_to[tp.partition] = records[-1].offset + 1
            if not self._caught_up:
                for tp in list(pending):
                    if await consumer.position(tp) >= pending[tp]:
                        del pending[tp]
            if batch or (not self._caught_up and not pending):
                await self._refresh()
            # Only now, once served: a write waiting for its offset returns when it is live here.
            self._applied.update(read_to)
            if not self._caught_up and not pending:
                self._caught_up = True
                log.info("trigger_topic_caught_up", topic=self.topic, records=read, triggers=len(self._live.runtime))
            self._resolve_waiters()

    def _ingest(self, rec: ConsumerRecord[bytes, bytes]) -> None:
        tid = rec.key.decode("utf-8", "replace") if rec.key is not None else ""
        if rec.value is None:
            self._live.remove(tid)
            return
        try:
            record = decode(rec.key, rec.value, self._keys)
        except RecordError as exc:
            # A record this replica cannot read is not served (never half of it); the others are.
            log.error("trigger_record_unreadable", trigger_id=tid, offset=rec.offset, error=str(exc))
            self._unreadable.inc()
            self._live.remove(tid)
            return
        self._live.put(record)

    async def _refresh(self) -> None:
        """Hand the current set to ``apply``, one swap at a time, in order."""
        async with self._swap:
            configs = self._live.served(self._clock())
            self._count(configs)
            complete = True
            if self.apply is not None:
                try:
                    complete = await self.apply(configs)
                except Exception:  # a bug must not stop the follower: keep serving the old set, retry
                    log.exception("triggers_apply_failed", triggers=len(configs))
                    complete = False
            self._retry_apply = not complete
            self._wake.set()

    async def _timers(self) -> None:
        """Drop replaced secrets when their overlap ends (and retry an incomplete apply)."""
        while True:
            now = self._clock()
            due = self._live.next_expiry(now)
            wait = None if due is None else max((due - now).total_seconds(), 0.0) + 0.001
            if self._retry_apply:
                wait = RETRY_APPLY_SECONDS if wait is None else min(wait, RETRY_APPLY_SECONDS)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=None if wait is None else min(wait, 60.0))
            except TimeoutError:
                await self._refresh()

    def _resolve_waiters(self) -> None:
        keep = []
        for partition, offset, fut in self._waiters:
            if fut.done():
                continue
            if self._applied.get(partition, 0) > offset:
                fut.set_result(None)
            else:
                keep.append((partition, offset, fut))
        self._waiters = keep

    # -- writing ---------------------------------------------------------------------------------

    async def _write(self, trigger_id: str, value: bytes | None) -> None:
        """Produce the record and wait until this replica serves it. ``CatalogUnavailable`` when either
        takes longer than ``write_timeout_seconds``: Kafka did not take the write, or (rarely) took it so
        late that it may still apply."""
        producer = self._producer
        if producer is None:
            raise CatalogUnavailable("not connected to Kafka")
        timeout = self.settings.write_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                md = await producer.send_and_wait(self.topic, key=trigger_id.encode(), value=value)
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._waiters.append((md.partition, md.offset, fut))
                self._resolve_waiters()
                await fut
        except TimeoutError:
            raise CatalogUnavailable(f"the write was not stored and applied within {timeout:g} s") from None
        except KafkaError as exc:
            raise CatalogUnavailable(f"Kafka refused the write ({type(exc).__name__})") from None

    def _writable(self) -> None:
        if not self.settings.enabled:
            raise CatalogUnavailable("runtime triggers are off (gateway.catalog.enabled: false)")
        if not self._caught_up:
            raise CatalogUnavailable("the trigger topic is still being read")

    def _runtime(self, trigger_id: str) -> TriggerRecord:
        if trigger_id in self._live.yaml_ids:
            raise ReadOnlyTrigger(f"trigger {trigger_id} is defined in the YAML file")
        record = self._live.runtime.get(trigger_id)
        if record is None:
            raise UnknownTrigger(trigger_id)
        return record

    def _encode(self, record: TriggerRecord) -> bytes:
        try:
            return encode(record, self._keys)
        except RecordError as exc:
            raise CatalogUnavailable(str(exc)) from None

    def _check_name(self, name: str, trigger_id: str) -> None:
        owner = self._live.name_owner(name)
        if owner is not None and owner != trigger_id:
            raise TriggerExists(f"a trigger named {name!r} exists")

    def _view(self, trigger_id: str) -> TriggerView:
        view = self.get(trigger_id)
        if view is None:  # deleted again by another replica in the meantime
            raise UnknownTrigger(trigger_id)
        return view

    async def create(self, spec: Mapping[str, Any]) -> Issued:
        """Create a runtime trigger; the id, and the secret of a preset that needs one, are generated when
        absent (the secret is returned once, in :class:`Issued`)."""
        async with self._writes:
            self._writable()
            data = json_copy(spec)
            if data.get("id") is None:
                data["id"] = new_trigger_id()
            generated = None
            field = generated_secret_field(data)
            if field is not None:
                generated = new_secret(preset_of(data) or "")
                data["verify"] = {**data["verify"], field: [generated]}
            config = self._rules.check(validate(data))
            if config.id in self._live.yaml_ids:
                raise ReadOnlyTrigger(f"trigger {config.id} is defined in the YAML file")
            if config.id in self._live.runtime:
                raise TriggerExists(f"trigger {config.id} exists")
            self._check_name(config.name, config.id)
            data.pop("enabled", None)  # kept as the record's state (as the model read it: "false" is false)
            state: State = "enabled" if config.enabled else "disabled"
            now = self._clock()
            record = TriggerRecord(config.id, data, state, now, now)
            await self._write(config.id, self._encode(record))
            log.info("trigger_created", trigger_id=config.id, trigger=config.name, tenant=config.tenant)
            _warn(config)
            return Issued(self._view(config.id), generated)

    async def update(self, trigger_id: str, spec: Mapping[str, Any]) -> TriggerView:
        """Replace a runtime trigger's spec; secret fields absent from ``spec`` keep their values (those
        under ``verify`` only while the preset stays the same)."""
        async with self._writes:
            self._writable()
            old = self._runtime(trigger_id)
            data = json_copy(spec)
            if data.setdefault("id", trigger_id) != trigger_id:
                raise InvalidTrigger([FieldError("id", "a trigger's id cannot change")])
            kept = self._keep_secrets(old, data)
            config = self._rules.check(validate(data))
            self._check_name(config.name, trigger_id)
            given = data.pop("enabled", None) is not None
            state: State = old.state if not given else "enabled" if config.enabled else "disabled"
            now = self._clock()
            rot = old.rotation
            rotation = rot if rot is not None and rot.active(now) and rot.field in kept else None
            record = old.with_changes(spec=data, state=state, updated_at=now, rotation=rotation)
            await self._write(trigger_id, self._encode(record))
            log.info("trigger_updated", trigger_id=trigger_id, trigger=config.name, tenant=config.tenant)
            _warn(config)
            return self._view(trigger_id)

    @staticmethod
    def _keep_secrets(old: TriggerRecord, data: dict[str, Any]) -> list[Path]:
        same_preset = preset_of(old.spec) == preset_of(data)
        kept = []
        for path in secret_fields(validate(old.spec), old.spec):
            if path[0] == "verify" and not same_preset:
                continue
            if get_path(data, path) is None and set_path(data, path, copy.deepcopy(get_path(old.spec, path))):
                kept.append(path)
        return kept

    async def set_enabled(self, trigger_id: str, enabled: bool) -> TriggerView:
        async with self._writes:
            self._writable()
            old = self._runtime(trigger_id)
            state: State = "enabled" if enabled else "disabled"
            now = self._clock()
            record = old.with_changes(state=state, updated_at=now, rotation=_still_overlapping(old, now))
            await self._write(trigger_id, self._encode(record))
            log.info("trigger_state_changed", trigger_id=trigger_id, trigger=old.name, state=state)
            return self._view(trigger_id)

    async def delete(self, trigger_id: str) -> None:
        async with self._writes:
            self._writable()
            old = self._runtime(trigger_id)
            await self._write(trigger_id, None)
            log.info("trigger_deleted", trigger_id=trigger_id, trigger=old.name, tenant=old.tenant)

    async def rotate(self, trigger_id: str, *, grace_seconds: int, secret: str | None = None) -> Issued:
        """A new secret (or token), returned once; the replaced ones are accepted for ``grace_seconds``
        more by every replica. A rotation during another's overlap ends that overlap.

        ``secret``: the new value when the sender issues it (Stripe, Slack, Twilio roll their own signing
        secrets); generated when None."""
        async with self._writes:
            self._writable()
            if grace_seconds < 0:
                raise InvalidTrigger([FieldError("grace_seconds", "expected 0 or more seconds")])
            old = self._runtime(trigger_id)
            field = rotatable_field(old.spec)
            if field is None:
                preset = preset_of(old.spec)
                raise InvalidTrigger([FieldError("verify", f"preset {preset} has no secrets or tokens to rotate")])
            current = [str(s) for s in get_path(old.spec, field)]
            if secret is None:
                secret = new_secret(preset_of(old.spec) or "")
            data = copy.deepcopy(old.spec)
            set_path(data, field, [secret])
            validate(data)  # a given secret must suit the preset (errors name the field, never the value)
            now = self._clock()
            rotation = (
                Rotation(field, tuple(current), now + timedelta(seconds=grace_seconds)) if grace_seconds else None
            )
            record = old.with_changes(spec=data, updated_at=now, rotation=rotation)
            await self._write(trigger_id, self._encode(record))
            log.info("trigger_secret_rotated", trigger_id=trigger_id, trigger=old.name, grace_seconds=grace_seconds)
            return Issued(self._view(trigger_id), secret)

    async def reseal(self) -> int:
        """Rewrite every runtime record sealed with a key other than the active one (after an encryption
        key rotation); returns how many were rewritten."""
        count = 0
        async with self._writes:
            self._writable()
            for record in list(self._live.runtime.values()):
                if record.key_id is None or record.key_id == self._keys.active:
                    continue
                resealed = record.with_changes(rotation=_still_overlapping(record, self._clock()))
                await self._write(record.id, self._encode(resealed))
                count += 1
        log.info("trigger_records_resealed", records=count, key=self._keys.active)
        return count

    # Last in the class: the name shadows the builtin for annotations below it.
    def list(self, *, tenant: str | None = None, preset: str | None = None) -> list[TriggerView]:
        """Every trigger (YAML and runtime), sorted by id, optionally of one tenant and/or preset."""
        return self._live.views(self._clock(), tenant=tenant, preset=preset)


def _still_overlapping(record: TriggerRecord, now: datetime) -> Rotation | None:
    """The record's rotation while its overlap lasts; None after (a rewrite then drops the old secrets)."""
    rot = record.rotation
    return rot if rot is not None and rot.active(now) else None


def _warn(config: TriggerConfig) -> None:
    """The start-up warnings a YAML trigger would get (e.g. a replay window switched off), for a runtime one."""
    for w in config.verify.startup_warnings():
        log.warning(w.event, trigger=config.name, trigger_id=config.id, key=f"verify.{w.key}", message=w.message)


def rotatable_field(spec: Mapping[str, Any]) -> Path | None:
    """``("verify", "secrets")`` or ``("verify", "tokens")``: the non-empty list a rotation replaces."""
    for name in ROTATABLE:
        value = get_path(spec, ("verify", name))
        if isinstance(value, list) and value:
            return ("verify", name)
    return None


def _conforms(catalog: KafkaTriggerCatalog) -> TriggerCatalog:
    """Never called: mypy checks here that the class implements the protocol the admin API uses."""
    return catalog
