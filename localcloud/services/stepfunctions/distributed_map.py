"""The Distributed Map, as Step Functions runs it, where moto's interpreter is kinder or silent.

moto (5.2) parses a ``Map`` with ``ProcessorConfig.Mode: DISTRIBUTED`` but refuses ``ItemBatcher``,
an integer ``ToleratedFailurePercentage`` and ``EXPRESS`` children (here they run as its children do), ignores the tolerated failure thresholds (a failed
child is a ``null`` in the output, never a failed Map Run), starts child executions without the
role's ``states:StartExecution``, reads one page of an S3 listing, and writes an empty
``manifest.json``. Here, once per process:

- ``ItemBatcher`` (``MaxItemsPerBatch``, ``MaxInputBytesPerBatch``, ``BatchInput``) groups the items
  read into batches, each child execution's input ``{"Items": [...], "BatchInput": ...}``;
- ``ItemReader`` ``s3:listObjectsV2`` reads every page (as the role: ``s3:ListBucket``), each item
  as AWS gives it: ``Etag``, ``Key``, ``LastModified`` (epoch seconds), ``Size``, ``StorageClass``;
- the Map Run starts its children as the role: without ``states:StartExecution`` on the state
  machine the Map state fails with ``States.Runtime`` and the AccessDenied message;
- each child execution is named, timed on the virtual clock and kept with its input, output or
  error and cause; when the failed items exceed ``ToleratedFailureCount`` or
  ``ToleratedFailurePercentage`` (any failure, when neither is set) the state fails with
  ``States.ExceedToleratedFailureThreshold``, after the results are written;
- ``ResultWriter`` ``s3:putObject`` writes ``<Prefix>/<map run id>/manifest.json`` with
  ``SUCCEEDED_0.json`` and ``FAILED_0.json`` beside it (as the role: ``s3:PutObject``), each an
  array of the children's records as ``DescribeExecution`` words them.

Not modelled (refused when the state machine is created, never run kinder): ``ItemSelector`` with
``ItemBatcher``, a JSONPath ``BatchInput``, and ``ResultWriter``'s ``WriterConfig``.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any

from localcloud.services.stepfunctions import asl_trees

#: The error and cause of a Map Run whose failures exceed its thresholds.
EXCEEDED = (
    "States.ExceedToleratedFailureThreshold",
    "The specified tolerated failure threshold was exceeded",
)
#: Item batcher fields the local cloud models.
BATCHER_FIELDS = frozenset({"MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput"})

_installed = False


# ---------------------------------------------------------------------------------------- definitions


def unsupported(state: dict[str, Any]) -> str | None:
    """Why the local cloud cannot run this Map state's distributed fields, or None."""
    batcher = state.get("ItemBatcher")
    if batcher is not None:
        extra = set(batcher) - BATCHER_FIELDS
        if extra:
            return f"ItemBatcher {', '.join(sorted(extra))} is not supported offline"
        if "ItemSelector" in state:
            return "ItemSelector with ItemBatcher is not supported offline"
    if "WriterConfig" in state.get("ResultWriter", {}):
        return "ResultWriter WriterConfig is not supported offline"
    return None


def _prepared(document: Any) -> tuple[Any, dict[str, dict[str, Any]]]:
    """The definition as moto's grammar takes it, and what it left out, by Map state name."""
    kept: dict[str, dict[str, Any]] = {}

    def visit(node: Any) -> None:
        if not isinstance(node, dict):
            return
        for name, state in node.get("States", {}).items():
            if not isinstance(state, dict):
                continue
            if state.get("Type") == "Map":
                kept[name] = {
                    "batcher": state.pop("ItemBatcher", None),
                    "count": "ToleratedFailureCount" in state or "ToleratedFailureCountPath" in state,
                    "percentage": "ToleratedFailurePercentage" in state
                    or "ToleratedFailurePercentagePath" in state,
                }
                config = state.get("ItemProcessor", {}).get("ProcessorConfig", {})
                if config.get("ExecutionType") == "EXPRESS":
                    config["ExecutionType"] = "STANDARD"  # moto's grammar knows STANDARD only
                if isinstance(state.get("ToleratedFailurePercentage"), int):
                    state["ToleratedFailurePercentage"] = float(state["ToleratedFailurePercentage"])
            for branch in state.get("Branches", []):
                visit(branch)
            for key in ("ItemProcessor", "Iterator"):
                visit(state.get(key))

    visit(document)
    return document, kept


def install_parser() -> None:
    """Teach moto's ASL parser the fields above: it parses the definition without them, and each
    distributed Map state's iteration component carries them."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    asl_trees.install()
    parse = AmazonStateLanguageParser.__dict__["parse"].__func__
    if getattr(parse, "distributed", False):
        return

    def parsing(definition: str) -> Any:
        try:
            document, kept = _prepared(json.loads(definition))
        except ValueError:
            return parse(definition)
        if not kept:
            return parse(definition)
        program, tree = parse(json.dumps(document))
        _attach(program, kept)
        return program, tree

    parsing.distributed = True  # type: ignore[attr-defined]
    AmazonStateLanguageParser.parse = staticmethod(parsing)
    logging.getLogger("moto.stepfunctions.parser.asl.parse.preprocessor").addFilter(_modelled_here)


def _modelled_here(record: logging.LogRecord) -> bool:
    """Drop moto's warning that the tolerated failure thresholds have no effect: here they have."""
    return "declarations currently have no effect" not in record.getMessage()


def _attach(program: Any, kept: dict[str, dict[str, Any]]) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap

    seen: set[int] = set()

    def visit(component: Any) -> None:
        if id(component) in seen or not hasattr(component, "__dict__"):
            return
        seen.add(id(component))
        if isinstance(component, StateMap) and component.name in kept:
            component.iteration_component.distributed = {**kept[component.name], "state": component}
        for value in vars(component).values():
            # A Parallel's branches are a list of programs, a state list's states a dict.
            items = (
                value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
            )
            for item in items:
                if hasattr(item, "__dict__") and type(item).__module__.startswith("moto.stepfunctions"):
                    visit(item)

    visit(program)


# ---------------------------------------------------------------------------------------- running


def install(replace: Any) -> None:
    """Fit the Distributed Map's run to the local cloud (``replace`` is the interpreter's patcher)."""
    global _installed
    if _installed:
        return
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
        resource_eval_s3 as reader,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (
        DistributedItemProcessorWorker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
        resource_eval_s3 as writer,
    )

    install_parser()
    replace(DistributedIterationComponent, "_map_run", _map_run)
    replace(DistributedItemProcessorWorker, "_eval_job", _eval_job)
    reader.ResourceEvalS3._handle_list_objects_v2 = staticmethod(_list_objects)
    writer.ResourceEvalS3._handle_put_object = staticmethod(_write_results)
    _installed = True


def _list_objects(env: Any, runtime: Any, credentials: Any) -> None:
    """Every page of the listing, each object as the ItemReader's item."""
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    client = boto_client_for(region=runtime.region, service="s3", state_credentials=credentials)
    parameters = env.stack.pop()
    items = []
    for page in client.get_paginator("list_objects_v2").paginate(**parameters):
        for entry in page.get("Contents", []):
            items.append(
                {
                    "Etag": entry["ETag"],
                    "Key": entry["Key"],
                    "LastModified": int(entry["LastModified"].timestamp()),
                    "Size": entry["Size"],
                    "StorageClass": entry.get("StorageClass", "STANDARD"),
                }
            )
    env.stack.append(items)


def _batches(items: list[Any], batcher: dict[str, Any] | None) -> list[Any]:
    if batcher is None:
        return items
    most = batcher.get("MaxItemsPerBatch")
    most_bytes = batcher.get("MaxInputBytesPerBatch")
    batches: list[list[Any]] = []
    for item in items:
        current = batches[-1] if batches else None
        if current is None or _full(current, item, most, most_bytes):
            batches.append([item])
        else:
            current.append(item)
    extra = {"BatchInput": batcher["BatchInput"]} if "BatchInput" in batcher else {}
    return [{"Items": batch, **extra} for batch in batches]


def _full(batch: list[Any], item: Any, most: int | None, most_bytes: int | None) -> bool:
    """Whether ``item`` would take ``batch`` past ``MaxItemsPerBatch`` or ``MaxInputBytesPerBatch``."""
    if most is not None and len(batch) >= most:
        return True
    return most_bytes is not None and len(json.dumps([*batch, item])) > most_bytes


def _map_run(original: Any, self: Any, env: Any, eval_input: Any) -> None:
    """moto's Map Run, with batches, the role's StartExecution, and the failure thresholds."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool

    settings = getattr(self, "distributed", None) or {}
    items = env.stack.pop()
    record = eval_input.map_run_record
    record.children = []
    _start_children(env)
    jobs = _batches(items, settings.get("batcher"))
    record.batched = settings.get("batcher") is not None
    pool = JobPool(job_program=self._get_iteration_program(), job_inputs=jobs)
    limit = record.max_concurrency or len(jobs)
    for _ in range(min(limit, len(jobs)) or 1):
        self._launch_worker(env=env, eval_input=eval_input, job_pool=pool)
    pool.await_jobs()
    error = pool.get_worker_exception()
    if error is not None:
        raise error
    outputs = [job.job_output for job in pool.get_closed_jobs()]
    failed = sum(len(c["Items"]) for c in record.children if c["Status"] != "SUCCEEDED")
    if _exceeded(settings, eval_input, failed, len(items)):
        state = settings.get("state")
        if state is not None and state.result_writer is not None:
            env.stack.append(outputs)
            state.result_writer.eval(env)
            env.stack.pop()
        raise _failure(env, *EXCEEDED)
    env.stack.append(outputs)


def _exceeded(settings: dict[str, Any], eval_input: Any, failed: int, total: int) -> bool:
    if not failed:
        return False
    declared = settings.get("count"), settings.get("percentage")
    if not any(declared):
        return True
    over_count = declared[0] and failed > eval_input.tolerated_failure_count
    over_share = declared[1] and failed * 100.0 / max(total, 1) > eval_input.tolerated_failure_percentage
    return bool(over_count or over_share)


def _start_children(env: Any) -> None:
    """The Map Run starts child executions of its own state machine, as the role: AWS needs
    ``states:StartExecution`` on it, decided as the execution's own calls are (its role, in its
    session), though no call is made."""
    from botocore.exceptions import ClientError

    from localcloud.core.hooks import check_call
    from localcloud.services.stepfunctions.engine import current_run

    run = current_run()
    if run is None:
        return
    import botocore.session

    model = botocore.session.get_session().get_service_model("stepfunctions")
    arn = env.states.context_object.context_object_data["StateMachine"]["Id"]
    try:
        check_call(run.cloud, model, "StartExecution", {"stateMachineArn": arn})
    except ClientError as error:
        raise _failure(env, "States.Runtime", error.response["Error"]["Message"]) from None


def _failure(env: Any, error: str, cause: str) -> Exception:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    kinds = {"States.Runtime": StatesErrorNameType.StatesRuntime}
    name = StatesErrorName(typ=kinds.get(error, StatesErrorNameType.StatesExceedToleratedFailureThreshold))
    details = EventDetails(executionFailedEventDetails=ExecutionFailedEventDetails(error=error, cause=cause))
    return FailureEventException(FailureEvent(env, name, HistoryEventType.MapRunFailed, details))


def _eval_job(original: Any, self: Any, env: Any, job: Any) -> None:
    """moto's child run, kept as a child execution with its outcome."""
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError

    from localcloud.services.stepfunctions.engine import current_run

    record = self._map_run_record
    run = current_run()
    clock = run.cloud.clock if run is not None else None
    started = clock.now() if clock else datetime.now()
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{record.map_run_arn}/{job.job_index}"))
    original(self, env, job)
    state = env.program_state()
    child: dict[str, Any] = {
        "ExecutionArn": f"{record.map_run_arn.replace(':mapRun:', ':execution:').rsplit(':', 1)[0]}:{name}",
        "Input": json.dumps(job.job_input),
        "InputDetails": {"Included": True},
        "Name": name,
        "RedriveCount": 0,
        "StartDate": started.isoformat(),
        "StateMachineArn": record.map_run_arn.replace(":mapRun:", ":stateMachine:").rsplit(":", 1)[0],
        "StopDate": (clock.now() if clock else datetime.now()).isoformat(),
        "Items": job.job_input["Items"] if getattr(record, "batched", False) else [job.job_input],
    }
    if job.job_output is not None and not isinstance(state, ProgramError):
        child.update(Status="SUCCEEDED", Output=json.dumps(job.job_output), OutputDetails={"Included": True})
        child.update(
            RedriveStatus="NOT_REDRIVABLE",
            RedriveStatusReason="Execution is SUCCEEDED and cannot be redriven",
        )
    else:
        details = state.error if isinstance(state, ProgramError) and state.error else {}
        child.update(
            Status="FAILED",
            Error=details.get("error", "States.Runtime"),
            Cause=details.get("cause", ""),
            RedriveStatus="NOT_REDRIVABLE",
            RedriveStatusReason="Execution's parent is not redrivable",
        )
    child["Index"] = job.job_index
    record.children.append(child)


def _write_results(env: Any, runtime: Any, credentials: Any) -> None:
    """``manifest.json`` and the result files, as the role, under the Map Run's id."""
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    parameters = env.stack.pop()
    env.stack.pop()  # the children's outputs: the result files hold them
    client = boto_client_for(region=runtime.region, service="s3", state_credentials=credentials)
    record = env.map_run_record_pool_manager.get_all()[-1]
    bucket = parameters["Bucket"]
    prefix = parameters.get("Prefix", "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    folder = f"{prefix}{record.map_run_arn.split(':')[-1]}/"
    children = sorted(getattr(record, "children", []), key=lambda c: c["Index"])
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status in ("SUCCEEDED", "FAILED"):
        chosen = [
            {k: v for k, v in child.items() if k not in ("Index", "Items")}
            for child in children
            if child["Status"] == status
        ]
        if not chosen:
            continue
        key = f"{folder}{status}_0.json"
        body = json.dumps(chosen).encode()
        client.put_object(Bucket=bucket, Key=key, Body=body)
        files[status].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": bucket, "MapRunArn": record.map_run_arn, "ResultFiles": files}
    key = f"{folder}manifest.json"
    client.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode())
    env.stack.append({"MapRunArn": record.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}})
