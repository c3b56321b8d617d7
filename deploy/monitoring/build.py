"""Generate hookgate's Grafana dashboards from code (grafana-foundation-sdk) and copy the monitoring files
into the Helm chart.

    python deploy/monitoring/build.py           # write the JSON and the chart's copies (`make dashboards`)
    python deploy/monitoring/build.py --check   # exit 1 when a committed file differs from what this generates

The JSON is committed twice: ``deploy/monitoring/dashboards/`` for users without Helm and
``deploy/helm/hookgate/files/dashboards/`` for the chart (``.Files.Get``); ``alerts.yaml`` is copied to
``deploy/helm/hookgate/files/alerts.yaml`` the same way. Edit this file or ``alerts.yaml``, never the copies.

Conventions every panel follows (tests/unit/test_dashboards.py checks them on the JSON): the ``datasource``
variable, ``namespace`` and ``job`` selectors on every series, ``$__rate_interval`` in every range, a unit
and a description, legends made of bounded labels only (never pod, instance or ids).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grafana_foundation_sdk.builders import common, dashboard, prometheus, statetimeline, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHART_FILES = REPO / "deploy" / "helm" / "hookgate" / "files"

DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
RANGE = "[$__rate_interval]"
TAGS = ["hookgate", "generated"]


def series(metric: str, *matchers: str) -> str:
    """A selector of ``metric`` limited to the dashboard's namespace and job, plus ``matchers``."""
    return metric + "{" + ", ".join(['namespace=~"$namespace"', 'job=~"$job"', *matchers]) + "}"


def rate(metric: str, *matchers: str) -> str:
    return f"rate({series(metric, *matchers)}{RANGE})"


def quantile(q: float, metric: str, *matchers: str, by: str = "") -> str:
    """``histogram_quantile`` of a histogram's ``_bucket`` series, summed by ``le`` (and ``by``)."""
    keys = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({keys}) ({rate(metric + '_bucket', *matchers)}))"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Chart:
    """One panel: a title, what it shows (the description), its unit and its queries."""

    title: str
    description: str
    unit: str
    queries: Sequence[Query]
    width: int = 12
    states: dict[str, str] = field(default_factory=dict)  # value -> text: a state timeline, not a graph
    min_zero: bool = True


def _panel(chart: Chart, panel_id: int) -> timeseries.Panel | statetimeline.Panel:
    built: timeseries.Panel | statetimeline.Panel
    if chart.states:
        built = statetimeline.Panel().mappings(
            [
                models.ValueMap(
                    options={
                        value: models.ValueMappingResult(text=text, color=color, index=i)
                        for i, (value, (text, color)) in enumerate(_coloured(chart.states).items())
                    }
                )
            ]
        )
    else:
        built = (
            timeseries.Panel()
            .line_width(1)
            .fill_opacity(10)
            .tooltip(
                common.VizTooltipOptions()
                .mode(common_models.TooltipDisplayMode.MULTI)
                .sort(common_models.SortOrder.DESCENDING)
            )
        )
        if chart.min_zero:
            built = built.min(0)
    built = (
        built.id(panel_id)
        .title(chart.title)
        .description(chart.description)
        .unit(chart.unit)
        .datasource(DATASOURCE)
        .span(chart.width)
        .height(8)
        .legend(
            common.VizLegendOptions()
            .display_mode(common_models.LegendDisplayMode.LIST)
            .placement(common_models.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
    for ref, query in zip("ABCDEFGH", chart.queries, strict=False):
        built = built.with_target(
            prometheus.Dataquery().ref_id(ref).expr(query.expr).legend_format(query.legend).range()
        )
    return built


def _coloured(states: dict[str, str]) -> dict[str, tuple[str, str]]:
    colours = ["green", "yellow", "red", "purple"]
    return {value: (text, colours[i % len(colours)]) for i, (value, text) in enumerate(states.items())}


def _variable(name: str, label: str, query: str, description: str) -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")  # also matches series without the label (Prometheus outside Kubernetes)
        .current(models.VariableOption(selected=True, text="All", value="$__all"))
    )


def build_dashboard(
    uid: str,
    title: str,
    description: str,
    anchor: str,
    rows: Sequence[tuple[str, Sequence[Chart]]],
    extra_variables: Sequence[dashboard.QueryVariable] = (),
) -> dict[str, object]:
    """A dashboard with the datasource, namespace and job variables and ``rows`` of panels, as JSON data.

    ``anchor`` is a metric every instance exports from start, used to list the namespaces and jobs.
    """
    board = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .editable()
        .refresh("30s")
        .time("now-3h", "now")
        .timezone(common_models.TimeZoneBrowser)
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dashboard.DatasourceVariable("datasource")
            .label("Data source")
            .description("The Prometheus that scrapes hookgate.")
            .type("prometheus")
        )
        .with_variable(
            _variable(
                "namespace",
                "Namespace",
                f"label_values({anchor}, namespace)",
                "Kubernetes namespace(s) of the hookgate pods (All also matches series without the label).",
            )
        )
        .with_variable(
            _variable(
                "job",
                "Job",
                f'label_values({anchor}{{namespace=~"$namespace"}}, job)',
                "Prometheus job(s): one per Deployment when scraped by the chart's ServiceMonitor.",
            )
        )
    )
    for variable in extra_variables:
        board = board.with_variable(variable)
    panel_id = 1
    for row_title, charts in rows:
        board = board.with_row(dashboard.Row(row_title).id(panel_id))
        panel_id += 1
        for chart in charts:
            board = board.with_panel(_panel(chart, panel_id))
            panel_id += 1
    data: dict[str, object] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return data


# --- the gateway ----------------------------------------------------------------------------------------

REQUESTS = "hookgate_gateway_requests_total"
REQUEST_SECONDS = "hookgate_gateway_request_duration_seconds"
PRODUCE_SECONDS = "hookgate_gateway_produce_duration_seconds"
REJECTED = 'outcome="rejected"'
FAILED = 'outcome="failed"'
ERROR = 'outcome="error"'
SHED = 'reason=~"overloaded|reading_overloaded"'
NOT_SHED = 'reason!~"overloaded|reading_overloaded"'
RATE_LIMITED = 'reason=~"trigger_rate_limited|tenant_rate_limited"'
STATUS_5XX = 'status_class="5xx"'


def gateway() -> dict[str, object]:
    """The gateway dashboard: traffic, Kafka publishing, capacity and the audit topic."""
    latency = [Query(quantile(q, REQUEST_SECONDS, 'outcome="accepted"'), f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)]
    produce = [Query(quantile(q, PRODUCE_SECONDS, 'outcome="ok"'), f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)]
    rows: list[tuple[str, list[Chart]]] = [
        (
            "Requests",
            [
                Chart(
                    "Requests by outcome and status class",
                    "Webhook replies per second. outcome: accepted (202, event stored), rejected (4xx), ignored"
                    " (filtered, 200), handshake (sender's endpoint check), failed (503, retry later), error"
                    " (500, the handler raised: a bug).",
                    "reqps",
                    [Query(f"sum by (outcome, status_class) ({rate(REQUESTS)})", "{{outcome}} {{status_class}}")],
                ),
                Chart(
                    "Rejections by reason",
                    "Rejected requests per second by reason: signature and timestamp checks, unknown triggers,"
                    " size and media type limits, IP allowlists, rate limits. A new reason usually means a"
                    " sender or secret changed.",
                    "reqps",
                    [Query(f"sum by (reason) ({rate(REQUESTS, REJECTED)})", "{{reason}}")],
                ),
                Chart(
                    "Latency of accepted requests",
                    "p50, p95 and p99 time from request received to the 202, which includes the broker's"
                    " acknowledgement of the event. Alert HookgateGatewayLatencyHigh watches the p99.",
                    "s",
                    latency,
                ),
                Chart(
                    "Server error ratio (5xx)",
                    "Share of replies with a 5xx status: failed publishes (503), shed requests (503) and handler"
                    " errors (500). Alert HookgateGateway5xxRatioHigh fires above 5 %.",
                    "percentunit",
                    [
                        Query(
                            f"sum({rate(REQUESTS, STATUS_5XX)}) / sum({rate(REQUESTS)})",
                            "5xx ratio",
                        ),
                        Query(f"sum({rate(REQUESTS, ERROR)}) / sum({rate(REQUESTS)})", "handler errors"),
                    ],
                ),
            ],
        ),
        (
            "Kafka",
            [
                Chart(
                    "Kafka produce latency",
                    "p50, p95 and p99 time from handing an event to the producer to the broker's"
                    " acknowledgement (events that were acknowledged).",
                    "s",
                    produce,
                ),
                Chart(
                    "Failed publishes (503)",
                    "Requests answered 503 because Kafka did not acknowledge the event, by reason: kafka_unavailable"
                    " (not connected), kafka_timeout_dropped (deadline passed before the producer took it: never"
                    " written), kafka_timeout (deadline passed after: may still be written), kafka_error,"
                    " shutting_down. Senders retry these.",
                    "reqps",
                    [
                        Query(
                            f"sum by (reason) ({rate(REQUESTS, FAILED, NOT_SHED)})",
                            "{{reason}}",
                        )
                    ],
                ),
                Chart(
                    "Kafka readiness",
                    "Gateway replicas whose producer reached the broker at the last probe, against all replicas"
                    " scraped. A replica that is not ready fails /readyz and answers 503.",
                    "short",
                    [
                        Query(f"sum({series('hookgate_gateway_kafka_ready')})", "ready"),
                        Query(f"count({series('hookgate_gateway_kafka_ready')})", "replicas"),
                    ],
                ),
            ],
        ),
        (
            "Capacity",
            [
                Chart(
                    "In flight vs limit",
                    "Requests being handled by the busiest replica, against the per-replica in-flight limit"
                    " (gateway.limits.max_in_flight); at the limit new requests are shed with 503.",
                    "short",
                    [
                        Query(f"max({series('hookgate_gateway_requests_in_flight')})", "in flight (busiest replica)"),
                        Query(f"max({series('hookgate_gateway_in_flight_limit')})", "limit per replica"),
                    ],
                ),
                Chart(
                    "Shed and rate-limited requests",
                    "Requests shed with 503 overloaded (in-flight limit or full produce queue: add replicas or"
                    " raise the limit) and refused with 429 by a trigger's or tenant's rate limit.",
                    "reqps",
                    [
                        Query(f"sum({rate(REQUESTS, SHED)})", "shed (503 overloaded)"),
                        Query(
                            f"sum by (reason) ({rate(REQUESTS, RATE_LIMITED)})",
                            "{{reason}} (429)",
                        ),
                    ],
                ),
            ],
        ),
        (
            "Audit topic",
            [
                Chart(
                    "Audit queue",
                    "Audit records waiting for the audit topic, all replicas (gateway.audit.topic: true; no data"
                    " when it is off). A queue that keeps growing ends in drops.",
                    "short",
                    [Query(f"sum({series('hookgate_gateway_audit_queue_depth')})", "queued")],
                ),
                Chart(
                    "Audit records written and dropped",
                    "Audit records acknowledged on the audit topic, and records dropped by reason (queue_full,"
                    " kafka_error). A dropped record's log line was still written.",
                    "cps",
                    [
                        Query(f"sum({rate('hookgate_gateway_audit_records_written_total')})", "written"),
                        Query(
                            f"sum by (reason) ({rate('hookgate_gateway_audit_records_dropped_total')})",
                            "dropped {{reason}}",
                        ),
                    ],
                ),
            ],
        ),
    ]
    return build_dashboard(
        "hookgate-gateway",
        "hookgate / Gateway",
        "Webhook intake: replies by outcome, rejections, latency, Kafka publishing, capacity and the audit topic."
        " Runbooks: docs/runbooks.md.",
        "hookgate_gateway_kafka_ready",
        rows,
    )


# --- the consumer ---------------------------------------------------------------------------------------

WORKFLOW = 'workflow=~"$workflow"'
DELIVERIES = "hookgate_consumer_deliveries_total"
DEADLETTERED = 'outcome="deadlettered"'


def consumer() -> dict[str, object]:
    """The consumer dashboard: events, deliveries, latency, Kafka, failures and dedupe state."""
    action = [
        Query(quantile(q, "hookgate_consumer_action_duration_seconds", WORKFLOW), f"p{int(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    ]
    e2e = [
        Query(quantile(q, "hookgate_consumer_end_to_end_seconds", WORKFLOW), f"p{int(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    ]
    rows: list[tuple[str, list[Chart]]] = [
        (
            "Events and deliveries",
            [
                Chart(
                    "Events consumed, matched and invalid",
                    "Records read from Kafka, events matched to a workflow (one per workflow that wants it),"
                    " and records skipped because they are not hookgate CloudEvents.",
                    "cps",
                    [
                        Query(f"sum({rate('hookgate_consumer_events_consumed_total')})", "consumed"),
                        Query(f"sum({rate('hookgate_consumer_events_matched_total', WORKFLOW)})", "matched"),
                        Query(f"sum({rate('hookgate_consumer_events_invalid_total')})", "invalid"),
                    ],
                ),
                Chart(
                    "Deliveries by outcome and workflow",
                    "Events finished per workflow: succeeded, deadlettered (retries exhausted or not retryable),"
                    " deduplicated (already done before, e.g. after a rebalance).",
                    "cps",
                    [Query(f"sum by (workflow, outcome) ({rate(DELIVERIES, WORKFLOW)})", "{{workflow}} {{outcome}}")],
                ),
                Chart(
                    "Action latency",
                    "p50, p95 and p99 duration of one workflow action attempt (the HTTP call or Python handler).",
                    "s",
                    action,
                ),
                Chart(
                    "End-to-end latency",
                    "p50, p95 and p99 time from the event's CloudEvents time (set by the gateway) to its workflow"
                    " action succeeding: queueing, lag and retries included.",
                    "s",
                    e2e,
                ),
            ],
        ),
        (
            "Kafka",
            [
                Chart(
                    "Lag by topic and partition",
                    "Records of each assigned partition not yet finished (high watermark minus the committable"
                    " offset). Alert HookgateConsumerLagGrowing fires when a topic's lag keeps growing.",
                    "short",
                    [
                        Query(
                            f"max by (topic, partition) ({series('hookgate_consumer_lag_records')})",
                            "{{topic}}/{{partition}}",
                        )
                    ],
                ),
                Chart(
                    "Assigned partitions",
                    "Partitions owned by all members of the group, and members that own none (more replicas than"
                    " partitions, or a group that cannot join).",
                    "short",
                    [
                        Query(f"sum({series('hookgate_consumer_assigned_partitions')})", "assigned"),
                        Query(f"count({series('hookgate_consumer_assigned_partitions')} == 0)", "members with none"),
                    ],
                ),
                Chart(
                    "Rebalances",
                    "Partition assignments and revocations. A steady stream means members keep leaving or"
                    " joining (crash loops, probes, max.poll timeouts).",
                    "short",
                    [
                        Query(
                            f"sum by (kind) (increase({series('hookgate_consumer_rebalances_total')}{RANGE}))",
                            "{{kind}}",
                        )
                    ],
                ),
                Chart(
                    "Offset commits",
                    "Offset commits by outcome; failed commits mean records may be delivered again after a"
                    " restart (deduplication absorbs them).",
                    "cps",
                    [Query(f"sum by (outcome) ({rate('hookgate_consumer_commits_total')})", "{{outcome}}")],
                ),
            ],
        ),
        (
            "Failures",
            [
                Chart(
                    "Retries",
                    "Attempts scheduled again after a failure, by workflow and reason: retry_requested (the"
                    " handler raised Retry), exception, status_5xx, status_4xx, error, circuit_open.",
                    "cps",
                    [
                        Query(
                            f"sum by (workflow, reason) ({rate('hookgate_consumer_retries_total', WORKFLOW)})",
                            "{{workflow}} {{reason}}",
                        )
                    ],
                ),
                Chart(
                    "Dead letters",
                    "Events written to the dead-letter topic per workflow. Alert HookgateConsumerDeadLetters"
                    " fires while they keep coming; re-drive them once the target is fixed.",
                    "cps",
                    [Query(f"sum by (workflow) ({rate(DELIVERIES, WORKFLOW, DEADLETTERED)})", "{{workflow}}")],
                ),
                Chart(
                    "Dead letters waiting",
                    "Events with a dead letter not yet resolved by a successful re-drive, per workflow (every"
                    " member reports its group's count, so the maximum is shown). hookgate replay --dead-letter"
                    " re-drives them; resolved letters leave this count.",
                    "short",
                    [
                        Query(
                            f"max by (workflow) ({series('hookgate_consumer_dead_letters_waiting', WORKFLOW)})",
                            "{{workflow}}",
                        )
                    ],
                ),
                Chart(
                    "Re-drives",
                    "Re-driven dead letters per workflow by outcome: succeeded, deadlettered (failed again),"
                    " deduplicated, other_workflow (the re-drive was for another workflow).",
                    "cps",
                    [
                        Query(
                            f"sum by (workflow, outcome) ({rate('hookgate_consumer_redrives_total', WORKFLOW)})",
                            "{{workflow}} {{outcome}}",
                        )
                    ],
                ),
                Chart(
                    "Circuit state",
                    "Circuit breaker per target (scheme://host:port of a workflow's URL), worst over the members:"
                    " closed, half-open (probing), open (attempts rejected until the reset time).",
                    "none",
                    [Query(f"max by (target) ({series('hookgate_consumer_circuit_state')})", "{{target}}")],
                    states={"0": "closed", "1": "half-open", "2": "open"},
                ),
            ],
        ),
        (
            "Dedupe state",
            [
                Chart(
                    "Dedupe table size",
                    "Finished runs held in memory by the dedupe store, all members: what makes redelivered events"
                    " run once. It grows with traffic until entries expire.",
                    "short",
                    [Query(f"sum({series('hookgate_consumer_dedupe_entries')})", "entries")],
                ),
                Chart(
                    "Dedupe restore",
                    "Changelog records read while restoring dedupe state on a partition assignment; a burst"
                    " after each rebalance is expected.",
                    "cps",
                    [Query(f"sum({rate('hookgate_consumer_dedupe_restored_records_total')})", "restored")],
                ),
            ],
        ),
    ]
    workflow = _variable(
        "workflow",
        "Workflow",
        f'label_values({DELIVERIES}{{namespace=~"$namespace", job=~"$job"}}, workflow)',
        "Workflow(s) shown by the per-workflow panels.",
    )
    return build_dashboard(
        "hookgate-consumer",
        "hookgate / Consumer",
        "Workflow delivery: events, outcomes, latency, lag, retries, dead letters, re-drives, circuit breakers,"
        " rebalances and dedupe state. Runbooks: docs/runbooks.md.",
        "hookgate_consumer_assigned_partitions",
        rows,
        [workflow],
    )


# --- files ----------------------------------------------------------------------------------------------

DASHBOARDS = {"gateway": gateway, "consumer": consumer}


def render(data: dict[str, object]) -> str:
    """The committed form: sorted keys, two-space indent, one trailing newline (stable diffs)."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def outputs() -> dict[Path, str]:
    """Every generated or copied file and the text it must have."""
    files: dict[Path, str] = {}
    for name, make in DASHBOARDS.items():
        text = render(make())
        files[HERE / "dashboards" / f"{name}.json"] = text
        files[CHART_FILES / "dashboards" / f"{name}.json"] = text
    files[CHART_FILES / "alerts.yaml"] = (HERE / "alerts.yaml").read_text()
    return files


def main(argv: Sequence[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, text in outputs().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(path.relative_to(REPO))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO)}")
    if stale:
        print("out of date (run `make dashboards`): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
