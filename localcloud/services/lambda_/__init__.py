"""Lambda: functions run in-process from their asset folders, with the Invoke API, asynchronous
retries and destinations, event source mappings, and the function role's own use (logs, X-Ray)."""

from localcloud.core.service import Service
from localcloud.services.lambda_ import provision, stream_origins
from localcloud.services.lambda_.service import Lambda, answer_invoke

SERVICE = Service.of(
    "lambda",
    provision,
    stream_origins,
    state=Lambda,
    answers={"lambda.Invoke": answer_invoke},
)
