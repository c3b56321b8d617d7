"""The chart's tests need helm and the CRD schemas: deploy/tools/install.sh provides them, or the tests fail."""

from __future__ import annotations

import pytest

from tests.support import chart


@pytest.fixture(scope="session", autouse=True)
def chart_tools() -> None:
    """Install helm and download the CRD modules once (cached under .tools/ and the Go module cache)."""
    try:
        chart.helm_binary()
        chart.crd_schemas()
    except chart.ToolMissing as exc:
        pytest.fail(str(exc), pytrace=False)
