"""CloudWatch Logs: log groups in moto; the local cloud delivers subscription filters' matches."""

from localcloud.core.service import Service
from localcloud.services.logs import observe, provision, subscription_filters

SERVICE = Service.of("logs", provision, subscription_filters, observe, state=observe.Subscriptions)
