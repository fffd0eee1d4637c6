"""Secrets Manager secrets, created in moto."""

from localcloud.core.service import Service
from localcloud.services.secretsmanager import provision

SERVICE = Service.of("secretsmanager", provision)
