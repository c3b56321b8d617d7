"""The values files in README.md and docs/kubernetes.md install as they are, and the keys the docs name exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.support import chart

DOCS = [chart.ROOT / "README.md", chart.ROOT / "docs" / "kubernetes.md"]
VALUES_BLOCK = re.compile(r"```yaml\n\s*# ([\w-]+-values\.yaml)\n(.*?)```", flags=re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        for name, body in VALUES_BLOCK.findall(doc.read_text(encoding="utf-8")):
            indent = len(body) - len(body.lstrip(" "))
            out.append((f"{doc.name}:{name}", "\n".join(line[indent:] for line in body.splitlines())))
    return out


def test_the_docs_have_values_files() -> None:
    names = [n for n, _ in blocks()]
    assert "README.md:my-values.yaml" in names
    assert "kubernetes.md:monitoring-values.yaml" in names


@pytest.mark.parametrize(("name", "text"), blocks(), ids=[n for n, _ in blocks()])
def test_a_documented_values_file_renders(name: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(text)
    assert yaml.safe_load(text)
    objects = chart.render([path])
    assert chart.of_kind(objects, "Deployment"), name
    chart.helm("lint", "--strict", str(chart.CHART), "-f", str(path))


def test_every_value_the_docs_name_exists() -> None:
    values = yaml.safe_load((chart.CHART / "values.yaml").read_text())
    named = set()
    for doc in DOCS:
        section = doc.read_text(encoding="utf-8")
        if doc.name == "README.md":
            section = section.split("## Install on Kubernetes", 1)[1].split("\n## ", 1)[0]
        named |= set(re.findall(r"`((?:kafka|gateway|consumerDefaults|networkPolicy|metrics|tests)\.[\w.]+)", section))
    assert len(named) >= 20
    for key in sorted(named):
        node = values
        for part in key.rstrip(".").split("."):
            if node == {}:  # hookgate's own section (settings): its keys are hookgate's, checked by the schema
                break
            assert isinstance(node, dict), key
            assert part in node, f"{key} is not a chart value"
            node = node[part]
