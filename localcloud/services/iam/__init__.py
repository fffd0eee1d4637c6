"""IAM roles and policies: their documents feed the kernel's policy evaluator."""

from localcloud.core.service import Service
from localcloud.services.iam import identity, provision, runtime_policies

SERVICE = Service.of(
    "iam", provision, runtime_policies, answers={"sts.GetCallerIdentity": identity.caller_identity}
)
