"""The snippets of docs/consumers.md's "Delivery guarantees and recovery" section run, and do what it says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.engine.start import GroupStart
from hookgate.consumer.workflows.sdk import Consumer, HandlerWorkflow
from hookgate.core.config import load_model

DOC = Path(__file__).resolve().parents[2] / "docs" / "consumers.md"
SECTION = DOC.read_text(encoding="utf-8").split("## Delivery guarantees and recovery", 1)[1]
YAML = re.findall(r"```yaml\n(.*?)```", SECTION, flags=re.DOTALL)
PYTHON = re.findall(r"```python\n(.*?)```", SECTION, flags=re.DOTALL)


def _consumer_config(doc: dict[str, Any]) -> ConsumerConfig:
    doc.setdefault("consumer", {"topics": ["hookgate.acme"]})
    return load_model(ConsumerConfig, doc, "docs/consumers.md", env={})


def test_the_yaml_snippets_are_valid_consumer_configs() -> None:
    start, statuses = (_consumer_config(yaml.safe_load(block)) for block in YAML)
    assert start.consumer.group.start_position() == GroupStart("latest")
    action = statuses.workflows[0].action
    assert (action.retry_on, action.fail_on) == ([409], [501])


def test_the_python_snippet_retries_a_key_error_and_not_a_permission_error() -> None:
    (block,) = PYTHON
    namespace: dict[str, Any] = {}
    exec(compile(block, str(DOC), "exec"), namespace)  # the doc's own snippet
    app = namespace["app"]
    assert isinstance(app, Consumer)
    (wf,) = app.workflows
    assert isinstance(wf, HandlerWorkflow)
    assert wf.errors.retryable(KeyError("not indexed yet"))
    assert not wf.errors.retryable(PermissionError("denied"))
