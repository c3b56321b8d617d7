"""Test a team's hookgate workflows without Kafka: build events, run the handlers, see what happened.

::

    from hookgate.testing import github_event, run_sync

    from myteam.handlers import app

    def test_a_push_to_main_deploys() -> None:
        result = run_sync(app, github_event("push", {"ref": "refs/heads/main"}, variables={"ref": "refs/heads/main"}))
        assert result.matched == ["deploy"]
        assert result["deploy"].succeeded

A supported public module: :func:`make_event`, :func:`github_event`, :func:`stripe_event` and
:func:`sender_event` build an :class:`~hookgate.consumer.Event` as the gateway would have published it;
:func:`run` / :func:`run_sync` run an app's workflows against it in memory and return a :class:`Result`
(which workflows matched, what each returned or raised, what the runner would do next);
:func:`yaml_matches` says which YAML workflows of a consumer config an event would go to. The pytest
plugin (:mod:`hookgate.testing.pytest_plugin`, loaded automatically once hookgate is installed) adds the
``hookgate_app`` and ``run_workflows`` fixtures. See docs/consumers.md.
"""

from hookgate.testing.events import github_event, make_event, sender_event, stripe_event
from hookgate.testing.runs import Result, WorkflowRun, run, run_sync, yaml_matches

__all__ = [
    "Result",
    "WorkflowRun",
    "github_event",
    "make_event",
    "run",
    "run_sync",
    "sender_event",
    "stripe_event",
    "yaml_matches",
]
