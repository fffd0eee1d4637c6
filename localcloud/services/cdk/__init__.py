"""CDK's own resources (its analytics metadata), which have nothing to run offline."""

from localcloud.core.service import Service
from localcloud.services.cdk import provision

SERVICE = Service.of("cdk", provision)
