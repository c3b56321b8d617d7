"""``gateway.workers``: what the config refuses, and what a supervised worker does differently."""

from __future__ import annotations

import socket

import pytest

from hookgate.core.config import ConfigError, load_model
from hookgate.core.workers import Supervisor, WorkerContext
from hookgate.gateway.config import GatewayConfig, ListenSettings
from hookgate.gateway.http.workers import WORKER_OPS, WorkerRole, supervisor


def _config(**gateway: object) -> GatewayConfig:
    return load_model(GatewayConfig, {"gateway": gateway}, "gw.yaml", env={})


def test_workers_default_to_one_process() -> None:
    assert _config().gateway.workers == 1


def test_more_than_one_worker_needs_the_ops_listener() -> None:
    with pytest.raises(ConfigError, match=r"gateway.*workers: more than 1 needs ops_listen"):
        _config(workers=2)


def test_more_than_one_worker_needs_a_fixed_port() -> None:
    with pytest.raises(ConfigError, match=r"workers: more than 1 needs a fixed listen\.port"):
        _config(workers=2, listen={"port": 0}, ops_listen={"port": 9090})


def test_more_than_one_worker_cannot_serve_the_admin_api() -> None:
    admin = {"listen": {"port": 9091}, "tokens": [{"name": "ops", "scope": "admin", "token": "a" * 40}]}
    _config(workers=1, ops_listen={"port": 9090}, admin=admin)  # one process: fine
    with pytest.raises(ConfigError, match=r"gateway.*workers: more than 1 cannot serve admin"):
        _config(workers=2, ops_listen={"port": 9090}, admin=admin)


def test_workers_are_bounded() -> None:
    with pytest.raises(ConfigError, match=r"gateway\.workers"):
        _config(workers=0, ops_listen={"port": 9090})


def test_the_process_the_user_started_supervises_the_workers() -> None:
    config = _config(workers=3, ops_listen={"host": "127.0.0.1", "port": 9090})
    parent = supervisor(config, WorkerRole(None))
    assert isinstance(parent, Supervisor)
    assert parent.name == "gateway"
    assert supervisor(_config(), WorkerRole(None)) is None  # one process: no supervisor


def test_a_worker_shares_the_port_and_serves_its_ops_routes_on_loopback() -> None:
    config = _config(workers=2, ops_listen={"host": "0.0.0.0", "port": 9090})
    ours, theirs = socket.socketpair()
    with ours, theirs:
        role = WorkerRole(WorkerContext(1, theirs))
        assert supervisor(config, role) is None  # a worker never supervises workers of its own
        assert role.reuse_port
        assert role.ops_address(ListenSettings(host="0.0.0.0", port=9090)) == WORKER_OPS
    single = WorkerRole(None)
    assert not single.reuse_port
    assert single.ops_address(ListenSettings(port=9090)).port == 9090
