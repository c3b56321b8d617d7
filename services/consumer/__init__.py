"""Consumer groups that read tenant topics and fan each event out to the workflows subscribed to it.

The public SDK for Python handlers (see ``docs/consumers.md``)::

    from hookgate.consumer import Consumer, Event, Fail, Retry, match

    app = Consumer("team-deploys")

    @app.workflow("deploy", match=match.type("com.github.push") & match.var("ref", "refs/heads/main"))
    async def deploy(event: Event) -> None: ...

``model=`` validates the body with a pydantic model first (the handler then takes it as a second argument);
:mod:`hookgate.testing` runs the handlers in a team's unit tests, without Kafka.
"""

from hookgate.consumer.workflows import match
from hookgate.consumer.workflows.event import Event
from hookgate.consumer.workflows.sdk import Consumer, Fail, Retry
from hookgate.consumer.workflows.workflow import ActionResult, Workflow
from hookgate.core.predicates import Predicate

__all__ = ["ActionResult", "Consumer", "Event", "Fail", "Predicate", "Retry", "Workflow", "match"]
