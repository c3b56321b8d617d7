"""Every YAML example in docs/configuration.md is a valid trigger configuration, so the docs stay true."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from hookgate.core.config import load_model
from hookgate.gateway.config import GatewayConfig, TriggerConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
ENV = {
    "GITHUB_WEBHOOK_SECRET": "s",
    "WEBSUB_VERIFY_TOKEN": "t",
    "HOOKGATE_CATALOG_KEY_A": "A" * 43 + "=",  # base64 of 32 bytes
    "HOOKGATE_CATALOG_KEY_B": "B" * 43 + "=",
}
BASE: dict[str, Any] = {"id": "d" * 24, "name": "doc", "tenant": "acme", "verify": {"type": "none"}}
# Fragments that use variables without declaring them (the section about variables declares them).
DECLARED = {name: {"header": f"X-{name}"} for name in ("action", "repo", "branch", "labels")}


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_example_is_valid(block: str) -> None:
    text = block.replace("<hookgate gen-id>", "e" * 24)
    if text.lstrip().startswith("triggers:"):
        load_model(GatewayConfig, yaml.safe_load(text), "docs", env=ENV)
        return
    fragment = yaml.safe_load(textwrap.dedent(text))
    trigger = {**BASE, **fragment}
    trigger.setdefault("variables", DECLARED)
    load_model(TriggerConfig, trigger, "docs", env=ENV)
