"""WAF: web ACLs compiled at provisioning and evaluated per API Gateway stage."""

from localcloud.core.service import Service
from localcloud.services.wafv2 import provision
from localcloud.services.wafv2.web_acl import Waf

SERVICE = Service.of("wafv2", provision, state=lambda kernel: Waf())
