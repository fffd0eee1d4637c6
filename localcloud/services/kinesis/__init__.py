"""Kinesis data streams, created in moto; Lambda's pollers read them."""

from localcloud.core.service import Service
from localcloud.services.kinesis import provision

SERVICE = Service.of("kinesis", provision)
