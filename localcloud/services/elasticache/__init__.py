"""ElastiCache (Redis OSS or Valkey) as real Valkey servers whose TTLs follow virtual time."""

from localcloud.core.service import Service
from localcloud.services.elasticache import provision

SERVICE = Service.of("elasticache", provision, state=provision.Caches)
