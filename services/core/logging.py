"""structlog set-up: JSON lines on stdout, one event per line, RFC 3339 UTC timestamps.

The gateway writes a line per request, so rendering is on its hot path: lines are serialized with
orjson (about ten times faster than the standard library's ``json``) and written as bytes.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import orjson
import structlog

from hookgate.core.timestamps import rfc3339_us

_REDACT_KEYS = frozenset({"authorization", "signature", "secret", "password", "token", "body"})


# Which keys of a key set name secrets, per key set seen: a call site logs the same keys every time,
# so the case-insensitive check runs once per call site, not once per line. Cleared when it grows
# past a bound (key sets built from data could otherwise grow it forever).
_SENSITIVE_BY_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}
_SENSITIVE_CACHE_MAX = 1024


def _redact(_: Any, __: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
    # Last line of defence: a key that names a secret never reaches the output, whoever logged it.
    keys = tuple(event_dict)
    sensitive = _SENSITIVE_BY_KEYS.get(keys)
    if sensitive is None:
        sensitive = tuple(key for key in keys if key.lower() in _REDACT_KEYS)
        if len(_SENSITIVE_BY_KEYS) >= _SENSITIVE_CACHE_MAX:
            _SENSITIVE_BY_KEYS.clear()
        _SENSITIVE_BY_KEYS[keys] = sensitive
    for key in sensitive:
        event_dict[key] = "[redacted]"
    return event_dict


def _timestamp(_: Any, __: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
    event_dict["timestamp"] = rfc3339_us()
    return event_dict


def _dumps(obj: Any, **kw: Any) -> bytes:
    try:
        return orjson.dumps(obj, default=kw.get("default"), option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        # What orjson refuses (an integer beyond 64 bits, a key of an odd type) the standard library
        # still renders: a log line is never lost to its serializer.
        return json.dumps(obj, **kw).encode()


def _dumps_text(obj: Any, **kw: Any) -> str:
    return _dumps(obj, **kw).decode()


def configure_logging(level: str = "info", *, json: bool = True) -> None:
    """Route structlog and the standard library (aiohttp, aiokafka) through one JSON renderer."""
    lvl = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _timestamp,
        _redact,
    ]
    # structlog's own events render to bytes straight onto stdout's buffer; the standard library's
    # handler writes text, so its records render to str (same JSON).
    renderer: structlog.typing.Processor
    text_renderer: structlog.typing.Processor
    factory: Callable[..., Any]
    if json:
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
        text_renderer = structlog.processors.JSONRenderer(serializer=_dumps_text)
        factory = structlog.BytesLoggerFactory(sys.stdout.buffer)
    else:
        renderer = text_renderer = structlog.dev.ConsoleRenderer(colors=False)
        factory = structlog.PrintLoggerFactory(sys.stdout)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                text_renderer,
            ],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Library chatter stays at WARNING unless the service itself logs at DEBUG.
    root.setLevel(lvl if lvl <= logging.DEBUG else logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
