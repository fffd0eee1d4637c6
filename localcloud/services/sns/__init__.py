"""SNS: topics in moto; the local cloud delivers their messages to subscribers."""

from localcloud.core.service import Service
from localcloud.services.sns import observe, provision

SERVICE = Service.of("sns", provision, observe, state=observe.Topics)
