"""S3: buckets in moto; the local cloud delivers their event notifications."""

from localcloud.core.service import Service
from localcloud.services.s3 import observe, provision

SERVICE = Service.of("s3", provision, observe, state=observe.Buckets)
