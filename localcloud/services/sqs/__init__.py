"""SQS: queues in moto; each message sent is traced so what it causes hangs under its sender."""

from localcloud.core.service import Service
from localcloud.services.sqs import observe, provision
from localcloud.services.sqs.queues import Queues

SERVICE = Service.of("sqs", provision, observe, state=Queues)
