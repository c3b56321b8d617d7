"""pytest fixtures for hookgate workflows: ``hookgate_app`` and ``run_workflows``.

Loaded automatically (a ``pytest11`` entry point) wherever hookgate is installed; with plugin
auto-loading off, add ``pytest_plugins = ["hookgate.testing.pytest_plugin"]`` to a ``conftest.py``.

Name the app once, in ``pyproject.toml``::

    [tool.pytest.ini_options]
    hookgate_app = "myteam.handlers:app"

or per test with ``@pytest.mark.hookgate_app("myteam.other:app")``, or override the ``hookgate_app``
fixture in a ``conftest.py``. Then::

    def test_deploy(run_workflows):
        result = run_workflows(github_event("push", payload))
        assert result["deploy"].succeeded
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hookgate.consumer.workflows.event import Event
from hookgate.consumer.workflows.sdk import Consumer, load_consumer
from hookgate.testing.runs import Result, run_sync

INI = "hookgate_app"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI, "The hookgate Consumer the hookgate_app fixture loads: package.module:attribute", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hookgate_app(spec): the Consumer (package.module:attribute) for this test")


@pytest.fixture
def hookgate_app(request: pytest.FixtureRequest) -> Consumer:
    """The team's :class:`~hookgate.consumer.Consumer`: the ``hookgate_app`` marker's, else the ini option's."""
    marker = request.node.get_closest_marker("hookgate_app")
    spec = str(marker.args[0]) if marker is not None and marker.args else str(request.config.getini(INI) or "")
    if not spec:
        raise pytest.UsageError(
            'hookgate_app: set `hookgate_app = "package.module:app"` under [tool.pytest.ini_options], '
            "mark the test with @pytest.mark.hookgate_app(...), or override the hookgate_app fixture"
        )
    try:
        return load_consumer(spec)
    except ValueError as exc:
        raise pytest.UsageError(f"hookgate_app: {exc}") from None


@pytest.fixture
def run_workflows(hookgate_app: Consumer) -> Callable[[Event], Result]:
    """``run_workflows(event) -> Result``: :func:`hookgate.testing.run_sync` on ``hookgate_app``.

    For ``async def`` tests, ``await hookgate.testing.run(hookgate_app, event)`` instead.
    """

    def run_them(event: Event) -> Result:
        return run_sync(hookgate_app, event)

    return run_them
