"""``serve --aws-port``: the AWS API of a served stack on localhost, for the AWS CLI and any SDK."""

from localcloud.aws_endpoint.endpoint import AwsEndpoint
from localcloud.aws_endpoint.protocol import ProtocolError, parse_request

__all__ = ["AwsEndpoint", "ProtocolError", "parse_request"]
