"""``hookgate check-config --kind consumer --handlers mod:app [--gateway gateway.yaml]``: the whole consumer.

Loads the consumer config, imports every handler module, and checks what a consumer would only find out
at start-up or never: a workflow name used twice (YAML and handlers, or two handler apps), a handler
module that does not import or registers a bad workflow, and (with the gateway's config) a match on a
variable that no trigger extracts, which would silently match nothing. It prints each workflow with its
match in plain words, as the consumer logs it at start-up (``workflow_match``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hookgate.cli.errors import CliError
from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.workflows.match import describe, variables_used
from hookgate.consumer.workflows.sdk import Consumer, load_consumer
from hookgate.core.config import ConfigError, load_yaml
from hookgate.core.predicates import Predicate


@dataclass(frozen=True, slots=True)
class Declared:
    """One workflow as the check sees it: where it was declared and what it matches."""

    name: str
    origin: str  # "yaml" or "python <consumer> (<spec>)"
    predicate: Predicate
    model: str | None = None

    def line(self) -> str:
        model = f", model {self.model}" if self.model else ""
        return f"  {self.name} ({self.origin}{model}): {describe(self.predicate)}"


@dataclass
class Report:
    """What the check found: one line per workflow, and every problem (empty when all is well)."""

    workflows: list[Declared] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _import(spec: str) -> Consumer:
    try:
        return load_consumer(spec)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:  # the team's module raised while registering its workflows
        raise CliError(f"{spec}: importing it raised {type(exc).__name__}: {exc}") from None


def check(config_path: Path, specs: Sequence[str], gateway: Path | None = None) -> Report:
    """Everything ``check-config`` checks for a consumer; raises :class:`CliError` for a file that fails to load."""
    try:
        config = load_yaml(ConsumerConfig, config_path)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    report = Report()
    owner: dict[str, str] = {}
    for i, wf in enumerate(config.workflows):
        report.workflows.append(Declared(wf.name, "yaml", wf.predicate()))
        owner[wf.name] = f"{config_path}: workflows[{i}]"
    for spec in specs:
        app = _import(spec)
        for h in app.handlers:
            where = f"{spec} (consumer {app.name!r})"
            if h.name in owner:
                report.problems.append(f"workflow {h.name!r} is defined twice: in {owner[h.name]} and in {where}")
            else:
                owner[h.name] = where
            report.workflows.append(Declared(h.name, f"python {app.name}, {spec}", h.predicate, h.model_name))
    if gateway is not None:
        report.problems.extend(_unextracted(report.workflows, gateway))
    return report


def _unextracted(workflows: list[Declared], gateway: Path) -> list[str]:
    from hookgate.gateway.config import GatewayConfig

    try:
        gw = load_yaml(GatewayConfig, gateway)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    extracted = {name for t in gw.triggers for name in t.variables}
    problems = []
    for wf in workflows:
        for name in sorted(variables_used(wf.predicate) - extracted):
            have = ", ".join(sorted(extracted)) or "none"
            problems.append(
                f"workflow {wf.name!r} matches on vars.{name}, but no trigger in {gateway} extracts {name!r} "
                f"(the triggers extract: {have}); add it to a trigger's variables: or the match never sees it"
            )
    return problems
