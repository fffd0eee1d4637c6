"""KMS keys and aliases, created in moto; their key policies feed the kernel's policy evaluator."""

from localcloud.core.service import Service
from localcloud.services.kms import provision

SERVICE = Service.of("kms", provision)
