"""Lambda functions, layers, permissions, event source mappings and async invoke configuration.

Functions are not created in moto (its Lambda runs code in Docker): the local cloud keeps them
and runs their handlers in-process from their asset folders.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.errors import LocalCloudError, TemplateError
from localcloud.services.lambda_.event_sources.limits import mapping_refusal, source_service
from localcloud.services.lambda_.native_layers import runnable_layer
from localcloud.services.lambda_.runtime import LambdaFunction

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: AWS's public Powertools layer: offline, the locally installed Powertools stands in for it.
POWERTOOLS_LAYER = re.compile(r"arn:aws[\w-]*:lambda:[\w-]+:017000801446:layer:AWSLambdaPowertoolsPython")


@provisions("AWS::Lambda::LayerVersion")
def layer_version(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props.get("LayerName") or cloud.physical_name(logical_id, 64)
    arn = f"arn:{cloud.partition}:lambda:{cloud.region}:{cloud.account}:layer:{name}:1"
    cloud.service("lambda").layers[arn] = runnable_layer(cloud.artifact.asset_path(logical_id), logical_id)
    return Provisioned(arn, {"LayerVersionArn": arn})


@provisions("AWS::Lambda::Function")
def function(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props.get("FunctionName") or cloud.physical_name(logical_id, 64)
    arn = f"arn:{cloud.partition}:lambda:{cloud.region}:{cloud.account}:function:{name}"
    runtime = props.get("Runtime", "")
    layer_dirs = []
    for layer in props.get("Layers", []):
        if layer in cloud.service("lambda").layers:
            layer_dirs.append(cloud.service("lambda").layers[layer] / "python")
        elif not POWERTOOLS_LAYER.match(layer):
            raise LocalCloudError(
                f"{logical_id}: layer {layer} is neither in this stack nor a known public layer"
            )
    fn = LambdaFunction(
        logical_id=logical_id,
        name=name,
        arn=arn,
        handler=props["Handler"],
        runtime=runtime,
        code_dir=_code_dir(cloud, logical_id, props),
        layer_dirs=[d for d in layer_dirs if d.is_dir()],
        environment={k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()},
        role_arn=props["Role"],
        timeout=int(props.get("Timeout", 3)),
        memory_size=int(props.get("MemorySize", 128)),
        log_group=props.get("LoggingConfig", {}).get("LogGroup", ""),
        tracing=props.get("TracingConfig", {}).get("Mode") == "Active",
        reserved_concurrency=(
            int(props["ReservedConcurrentExecutions"]) if "ReservedConcurrentExecutions" in props else None
        ),
    )
    cloud.service("lambda").add_function(
        fn, dead_letter_arn=props.get("DeadLetterConfig", {}).get("TargetArn")
    )
    cloud.network.wait = cloud.service("lambda").waited
    if props.get("VpcConfig"):
        label = cloud.artifact.construct_path(logical_id).removesuffix("/Resource")
        cloud.network.place(name, fn.role_arn, label, props["VpcConfig"])
    return Provisioned(name, {"Arn": arn})


def _code_dir(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Path:
    """The function's asset folder; inline code (``Code.ZipFile``) gets a folder of its own, holding
    it as ``index.py`` as Lambda does (CDK's own helpers, such as the S3 notifications handler, are inline).
    """
    inline = props.get("Code", {}).get("ZipFile")
    if inline is None:
        return cloud.artifact.asset_path(logical_id)
    folder = Path(
        tempfile.gettempdir(), "localcloud-inline", hashlib.sha256(inline.encode()).hexdigest()[:16]
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.py").write_text(inline)
    return folder


@provisions("AWS::Lambda::Permission")
def permission(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    fn = cloud.service("lambda").function(props["FunctionName"])
    cloud.iam.add_function_permission(fn.arn, props, logical_id)
    return Provisioned(logical_id)


@provisions("AWS::Lambda::EventSourceMapping")
def event_source_mapping(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    model = cloud.admin_client("lambda").meta.service_model
    refusal = mapping_refusal(model, props, source_service(props.get("EventSourceArn")), minimums=True)
    if refusal is not None:
        raise TemplateError(f"{logical_id}: {refusal[0]}: {refusal[1]}")
    mapping_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{cloud.stack_name}/{logical_id}"))
    cloud.service("lambda").add_event_source(
        logical_id, mapping_id, cloud.service("lambda").function(props["FunctionName"]), props
    )
    arn = f"arn:{cloud.partition}:lambda:{cloud.region}:{cloud.account}:event-source-mapping:{mapping_id}"
    return Provisioned(mapping_id, {"EventSourceMappingArn": arn})


@provisions("AWS::Lambda::EventInvokeConfig")
def event_invoke_config(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """The configuration of the version or alias its ``Qualifier`` names (``$LATEST``: the function's)."""
    qualifier = props.get("Qualifier")
    name = f"{props['FunctionName']}:{qualifier}" if qualifier else props["FunctionName"]
    fn = cloud.service("lambda").function(name)
    cloud.service("lambda").invoker.configure(fn, props)
    return Provisioned(logical_id)
