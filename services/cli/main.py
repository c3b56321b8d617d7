"""``hookgate gateway``, ``consumer``, ``gen-id``, ``check-config``.

``send``, ``tail``, ``inspect`` and ``replay`` live in their own modules and are registered here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hookgate.cli import inspect_event, replay, send, tail, triggers
from hookgate.core.config import ConfigError, load_yaml
from hookgate.core.logging import configure_logging
from hookgate.core.runtime import run

app = typer.Typer(no_args_is_help=True, add_completion=False, help="hookgate: Kafka-backed webhook gateway.")

ConfigOpt = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="HOOKGATE_CONFIG", help="YAML config file", show_default=False),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


@app.command()
def gateway(config: ConfigOpt) -> None:
    """Run the webhook gateway (SIGHUP reloads triggers:)."""
    from hookgate.gateway.config import GatewayConfig
    from hookgate.gateway.http.app import serve

    try:
        cfg = load_yaml(GatewayConfig, config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    configure_logging(cfg.gateway.log_level)
    raise typer.Exit(run(lambda stop: serve(cfg, stop, config_path=config)))


@app.command()
def consumer(
    config: ConfigOpt,
    handlers: Annotated[
        list[str] | None,
        typer.Option(
            "--handlers",
            help="Python handlers to run beside the YAML workflows: package.module:consumer (repeatable)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a consumer group that fans events out to workflows (SIGHUP reloads workflows:)."""
    from hookgate.consumer.app import serve
    from hookgate.consumer.config import ConsumerConfig
    from hookgate.consumer.workflows.sdk import collect, load_consumer

    try:
        cfg = load_yaml(ConsumerConfig, config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    try:
        extra = collect(load_consumer(spec) for spec in handlers or ())
    except ValueError as exc:
        raise _fail(str(exc)) from None
    configure_logging(cfg.consumer.log_level)
    raise typer.Exit(run(lambda stop: serve(cfg, stop, extra_workflows=extra, config_path=config)))


@app.command("gen-id")
def gen_id() -> None:
    """Print a new unguessable trigger id (192 random bits, URL-safe)."""
    from hookgate.gateway.catalog.spec import new_trigger_id

    typer.echo(new_trigger_id())


@app.command("check-config")
def check_config(
    config: ConfigOpt,
    kind: Annotated[str, typer.Option("--kind", help="gateway or consumer")] = "gateway",
) -> None:
    """Validate a config file and exit non-zero naming every bad key."""
    from hookgate.consumer.config import ConsumerConfig
    from hookgate.gateway.config import GatewayConfig

    if kind not in ("gateway", "consumer"):
        raise _fail("--kind must be gateway or consumer")
    try:
        load_yaml(GatewayConfig if kind == "gateway" else ConsumerConfig, config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{config}: ok")


app.command("send")(send.send)
app.command("tail")(tail.tail)
app.command("inspect")(inspect_event.inspect_event)
app.command("replay")(replay.replay)
app.add_typer(triggers.app, name="triggers")


def main() -> None:
    app(prog_name="hookgate")


if __name__ == "__main__":  # pragma: no cover
    main()
