"""A match in plain words (the consumer's ``workflow_match`` log line) and the variables it reads."""

from __future__ import annotations

import pytest

from hookgate.consumer import match
from hookgate.consumer.workflows.match import describe, describe_workflow, variables_used
from hookgate.consumer.workflows.match_config import MatchConfig
from hookgate.consumer.workflows.subscriptions import WorkflowConfig
from hookgate.core.config import load_model
from hookgate.core.predicates import Predicate


@pytest.mark.parametrize(
    ("predicate", "words"),
    [
        (
            match.type("com.github.push") & match.var("ref", "refs/heads/main"),
            "type is com.github.push and vars.ref is refs/heads/main",
        ),
        (match.everything(), "every event"),
        (match.type("com.github.*"), "type starts with com.github."),
        (match.tenant(["acme", "globex"]), "tenant is one of acme, globex"),
        (match.var("pr"), "vars.pr is present"),
        (match.data("$.deleted", exists=False), "data $.deleted is absent"),
        (match.data("$.deleted", True), "data $.deleted is true"),
        (match.data("$.n", 42), "data $.n is 42"),
        (match.subject("hello world"), 'subject is "hello world"'),
        (match.subject("and"), 'subject is "and"'),
        (match.subject(regex=r"^v\d"), r"subject contains a match of /^v\d/"),
        (match.subject(fullmatch=r"v\d+"), r"subject fully matches /v\d+/"),
        (match.data("$.repository.full_name", glob="acme/*"), "data $.repository.full_name matches glob acme/*"),
        (match.source(prefix="/hookgate/", suffix="hub"), "source starts with /hookgate/ and ends with hub"),
        (
            match.type("a") & (match.tenant("x") | match.tenant("y")) & ~match.data("$.deleted", True),
            "type is a and (tenant is x or tenant is y) and not (data $.deleted is true)",
        ),
        (~(match.tenant("x") | match.tenant("y")), "not (tenant is x or tenant is y)"),
    ],
)
def test_describe(predicate: Predicate, words: str) -> None:
    assert describe(predicate) == words


def test_the_yaml_grammar_describes_the_same() -> None:
    yaml_match = load_model(MatchConfig, {"type": "com.github.push", "vars": {"ref": "refs/heads/main"}}, "t")
    python = match.type("com.github.push") & match.var("ref", "refs/heads/main")
    assert describe(yaml_match.predicate()) == describe(python)


def test_a_yaml_workflow_is_described_with_its_tenants() -> None:
    from hookgate.consumer.workflows.actions.client import HttpClients
    from hookgate.consumer.workflows.subscriptions import HttpWorkflow

    cfg = load_model(
        WorkflowConfig,
        {"name": "d", "tenants": ["acme"], "match": {"type": "t"}, "action": {"type": "http", "url": "http://h/x"}},
        "t",
    )
    wf = HttpWorkflow(cfg, HttpClients())
    assert describe_workflow(wf) == "tenant is acme and type is t"
    assert describe_workflow(object()) == "(a custom workflow: its match is code)"


def test_variables_used_reaches_into_every_branch() -> None:
    p = match.var("ref", "x") & (match.var("repo") | ~match.var("action", "closed")) & match.type("t")
    assert variables_used(p) == {"ref", "repo", "action"}
    assert variables_used(match.type("t")) == set()
