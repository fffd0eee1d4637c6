"""Data Firehose: delivery streams buffered and delivered to S3 by the local cloud, on its clock."""

from localcloud.core.service import Service
from localcloud.services.firehose import observe, provision

SERVICE = Service.of("firehose", provision, observe, state=observe.Firehose)
