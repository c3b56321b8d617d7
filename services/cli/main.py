"""``hookgate gateway``, ``consumer``, ``gen-id``, ``check-config``.

``send``, ``tail``, ``inspect``, ``replay`` and ``triggers`` live in their own modules, imported only when
one of them is looked up or the command list is shown (:class:`Commands`).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.main import get_command

from hookgate.core.config import ConfigError, load_yaml
from hookgate.core.logging import configure_logging
from hookgate.core.runtime import run

SERVICE_COMMANDS = frozenset({"gateway", "consumer", "gen-id", "check-config"})
"""The commands defined in this module; any other name is looked up among the operator tools."""


def tools() -> typer.Typer:
    """The operator tools' commands, in the order ``hookgate --help`` lists them (after the services')."""
    from hookgate.cli import inspect_event, replay, send, tail, triggers

    group = typer.Typer(add_completion=False)
    group.command("send")(send.send)
    group.command("tail")(tail.tail)
    group.command("inspect")(inspect_event.inspect_event)
    group.command("replay")(replay.replay)
    group.add_typer(triggers.app, name="triggers")
    return group


class ToolCommands(MutableMapping[str, Any]):
    """A group's commands: the services' at once, the tools' added on the first lookup of another name, or
    when the commands are listed or counted (the help, a typo's suggestions)."""

    def __init__(self, services: MutableMapping[str, Any]) -> None:
        self._commands = services
        self._complete = False

    def _all(self) -> MutableMapping[str, Any]:
        if not self._complete:
            group = get_command(tools())
            assert isinstance(group, TyperGroup)
            for name, command in group.commands.items():
                self._commands.setdefault(name, command)
            self._complete = True
        return self._commands

    def __getitem__(self, name: str) -> Any:
        commands = self._commands if name in SERVICE_COMMANDS else self._all()
        return commands[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._commands[name] = command

    def __delitem__(self, name: str) -> None:
        del self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class Commands(TyperGroup):
    """The ``hookgate`` group. Its tools (Kafka readers, webhook signers, the admin API client) are imported
    the first time a name other than a service command is looked up, or the commands are listed:
    ``hookgate gateway`` and ``hookgate consumer`` do not load their modules (issue 10: the gateway's RSS)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = ToolCommands(self.commands)


app = typer.Typer(
    cls=Commands, no_args_is_help=True, add_completion=False, help="hookgate: Kafka-backed webhook gateway."
)

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
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="Ops port (/healthz, /readyz, /metrics) instead of consumer.listen.port; 0 picks a free one",
            show_default=False,
        ),
    ] = None,
    reload: Annotated[
        bool,
        typer.Option(
            "--reload",
            help="Local development: restart when the handler modules or the config change (needs watchfiles)",
        ),
    ] = False,
) -> None:
    """Run a consumer group that fans events out to workflows (SIGHUP reloads workflows:)."""
    from hookgate.consumer.app import serve
    from hookgate.consumer.config import ConsumerConfig
    from hookgate.consumer.workflows.sdk import collect, load_consumer

    try:
        cfg = load_yaml(ConsumerConfig, config)
    except ConfigError as exc:
        if not reload:
            raise _fail(str(exc)) from None
        typer.echo(f"reload: {exc}", err=True)  # fixed on the next save
        cfg = None
    if reload:
        raise typer.Exit(_reload(config, handlers or [], port, cfg))
    assert cfg is not None
    if port is not None:
        listen = cfg.consumer.listen.model_copy(update={"port": port})
        cfg = cfg.model_copy(update={"consumer": cfg.consumer.model_copy(update={"listen": listen})})
    try:
        extra = collect(load_consumer(spec) for spec in handlers or ())
    except ValueError as exc:
        raise _fail(str(exc)) from None
    configure_logging(cfg.consumer.log_level)
    raise typer.Exit(run(lambda stop: serve(cfg, stop, extra_workflows=extra, config_path=config)))


def _reload(config: Path, handlers: list[str], port: int | None, cfg: Any) -> int:
    from hookgate.cli.dev_reload import child_command, pick_port, run_with_reload
    from hookgate.cli.errors import CliError, exit_with
    from hookgate.consumer.config import ConsumerSettings

    settings = cfg.consumer if cfg is not None else None
    host = settings.listen.host if settings is not None else "127.0.0.1"
    wanted = port if port is not None else settings.listen.port if settings is not None else 0
    chosen, as_wanted = pick_port(host, wanted)
    note = "" if as_wanted else f" ({wanted} is in use)" if wanted else " (a free port)"
    typer.echo(f"reload: consumer ops routes on http://{host}:{chosen}{note}", err=True)
    grace = (
        settings.shutdown_grace_seconds
        if settings is not None
        else ConsumerSettings.model_fields["shutdown_grace_seconds"].default
    )
    try:
        return run_with_reload(child_command(config, handlers, chosen), config, handlers, float(grace))
    except CliError as exc:
        raise exit_with(exc) from None


@app.command("gen-id")
def gen_id() -> None:
    """Print a new unguessable trigger id (192 random bits, URL-safe)."""
    from hookgate.gateway.catalog.spec import new_trigger_id

    typer.echo(new_trigger_id())


@app.command("check-config")
def check_config(
    config: ConfigOpt,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="gateway or consumer (default gateway; consumer with --handlers or --gateway)"),
    ] = None,
    handlers: Annotated[
        list[str] | None,
        typer.Option(
            "--handlers",
            help="Consumer: also import these Python handlers (package.module:consumer, repeatable) and check them",
            show_default=False,
        ),
    ] = None,
    gateway_config: Annotated[
        Path | None,
        typer.Option(
            "--gateway",
            help="Consumer: the gateway's config; every vars.NAME a match uses must be extracted by a trigger",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Validate a config file and exit non-zero naming every bad key (consumer: also its handlers)."""
    from hookgate.consumer.config import ConsumerConfig
    from hookgate.gateway.config import GatewayConfig

    resolved = kind or ("consumer" if handlers or gateway_config else "gateway")
    if resolved not in ("gateway", "consumer"):
        raise _fail("--kind must be gateway or consumer")
    if resolved == "gateway" and (handlers or gateway_config):
        raise _fail("--handlers and --gateway check a consumer: use --kind consumer")
    if resolved == "consumer" and (handlers or gateway_config):
        from hookgate.cli.check_handlers import check
        from hookgate.cli.errors import CliError

        try:
            report = check(config, handlers or (), gateway_config)
        except CliError as exc:
            raise _fail(str(exc)) from None
        typer.echo(f"{config}: {len(report.workflows)} workflow(s)")
        for declared in report.workflows:
            typer.echo(declared.line())
        if report.problems:
            for problem in report.problems:
                typer.echo(f"error: {problem}", err=True)
            raise typer.Exit(2)
        typer.echo(f"{config}: ok")
        return
    try:
        load_yaml(GatewayConfig if resolved == "gateway" else ConsumerConfig, config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{config}: ok")


def main() -> None:
    app(prog_name="hookgate")


if __name__ == "__main__":  # pragma: no cover
    main()
