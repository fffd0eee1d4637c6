"""Invokes other functions synchronously as the event says, and reports their answers and what it
sees of its own environment, modules and remaining time afterwards.

``{"calls": [{"to": "CHILD_A", "payload": {...}}, ...], "how": ..., "read_timeout": 1}``: ``to``
names the environment variable holding the function's ARN; ``how`` is ``pool`` (a thread pool, at
once), ``threads`` (one plain thread each), ``sequence`` (one after another), ``mixed`` (the first
call from the handler's own thread while the others run in a pool), ``leave-running`` (a thread
that makes the first call only once released, after the invocation has returned) or ``resume``
(release that thread now and wait for it).
"""

import importlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

LEFT_RUNNING = "nested-left-running"
clients = {}


def client(read_timeout):
    if read_timeout not in clients:
        config = Config(read_timeout=read_timeout, retries={"total_max_attempts": 1})
        clients[read_timeout] = boto3.client("lambda", config=config)
    return clients[read_timeout]


def call(spec, read_timeout):
    try:
        response = client(read_timeout).invoke(
            FunctionName=os.environ[spec["to"]], Payload=json.dumps(spec.get("payload", {})).encode()
        )
    except ClientError as error:
        return {"error": error.response["Error"]["Code"]}
    except ReadTimeoutError as error:
        return {"error": "ReadTimeoutError", "message": str(error)}
    answer = json.loads(response["Payload"].read())
    return {"error": answer["errorType"]} if "FunctionError" in response else answer


def leave_running(spec, read_timeout):
    thread = threading.Thread(name=LEFT_RUNNING, daemon=True)
    thread.release = threading.Event()

    def work():
        thread.release.wait()
        try:
            thread.outcome = call(spec, read_timeout)
        except Exception as error:
            thread.outcome = {"error": type(error).__name__, "message": str(error)}

    thread.run = work
    thread.start()


def resume():
    [thread] = [t for t in threading.enumerate() if t.name == LEFT_RUNNING]
    thread.release.set()
    thread.join()
    return thread.outcome


def handler(event, context):
    calls, how = event.get("calls", []), event.get("how", "pool")
    read_timeout = event.get("read_timeout", 60)
    remaining_ms = []
    answers = []
    if how == "pool":
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            answers = list(pool.map(lambda spec: call(spec, read_timeout), calls))
    elif how == "threads":
        answers = [None] * len(calls)

        def run(index):
            answers[index] = call(calls[index], read_timeout)

        threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    elif how == "sequence":
        for spec in calls:
            answers.append(call(spec, read_timeout))
            remaining_ms.append(context.get_remaining_time_in_millis())
    elif how == "mixed":
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            others = [pool.submit(call, spec, read_timeout) for spec in calls[1:]]
            answers = [call(calls[0], read_timeout), *(future.result() for future in others)]
    elif how == "leave-running":
        leave_running(calls[0], read_timeout)
    elif how == "resume":
        answers = [resume()]
    return {
        "answers": answers,
        "who": os.environ["WHO"],
        "leak": os.environ.get("LEAK"),
        "common": importlib.import_module("common").WHO,
        "remaining_ms": remaining_ms,
    }
