"""CloudFormation custom resources: CDK's ``Custom::AWS`` made natively, the provider framework's
Python handlers run in-process, and every other custom resource refused with the reason."""

from localcloud.core.service import Service
from localcloud.services.cloudformation import aws_sdk_call, custom_resources
from localcloud.services.cloudformation.custom_resources import CustomResources

SERVICE = Service.of("cloudformation", custom_resources, aws_sdk_call, state=CustomResources)
