"""Consumer groups that read tenant topics and fan each event out to the workflows subscribed to it.

The public SDK for Python handlers (see ``docs/consumers.md``)::

    from hookgate.consumer import Consumer, Event, Fail, Retry, match

    app = Consumer("team-deploys")

    @app.workflow("deploy", match=match.type("com.github.push") & match.var("ref", "refs/heads/main"))
    async def deploy(event: Event) -> None: ...
"""

from hookgate.consumer import match
from hookgate.consumer.event import Event
from hookgate.consumer.predicates import Predicate
from hookgate.consumer.sdk import Consumer, Fail, Retry
from hookgate.consumer.workflows import ActionResult, Workflow

__all__ = ["ActionResult", "Consumer", "Event", "Fail", "Predicate", "Retry", "Workflow", "match"]
