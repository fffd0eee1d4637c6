"""CDK's own resources: its analytics metadata, and its built-in custom resources (bucket
deployments, auto-deleted objects, log retention), done natively as their handlers do on AWS."""

from localcloud.core.service import Service
from localcloud.services.cdk import auto_delete, bucket_deployment, log_retention, provision
from localcloud.services.cdk.handlers import BuiltIns

SERVICE = Service.of("cdk", provision, bucket_deployment, auto_delete, log_retention, state=BuiltIns)
