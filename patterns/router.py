"""Router: an asynchronously invoked function that hands each message to one of three task functions.

The router looks at a message's ``type`` and invokes the one task that handles it with
``InvocationType=Event``; it is a switch statement with a failure path, cheaper than a state
machine for a single decision. Every function on the asynchronous path has Lambda's retries and
an on-failure destination queue of its own: a message the router cannot route (malformed or of an
unknown type) ends in the router's queue; a routed message its task cannot store ends in that
task's queue. Each task writes to its own table, once per message id.

Example::

    router = Router(self, "Inbox", task_retry_attempts=1)
    router.router.grant_invoke(producer_fn)
    router.tables["payment.refunded"].grant_read_data(finance_fn)
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .defaults import (
    MAX_ASYNC_RETRY_ATTEMPTS,
    CodeLocation,
    PatternFunction,
    Props,
    async_failure_destination,
    grant_invoke_latest,
    grant_table,
    merge_props,
    pattern_function_props,
    secure_table,
)

#: Message type -> task name (``tasks.<task>_handler``): given to the router as ``ROUTES``, its one source.
ROUTES = {"order.placed": "orders", "payment.refunded": "refunds", "ticket.opened": "tickets"}
DEFAULT_MAX_EVENT_AGE = Duration.hours(1)


class Router(Construct):
    """A router function and its three tasks (orders, refunds, tickets), each with its own table.

    :param retry_attempts: Lambda's retries (0 to 2) of an event the router fails on, before its
        failure queue. An unknown type never routes, so 0 sends it there at once.
    :param task_retry_attempts: the same for each task.
    :param max_event_age: the oldest event Lambda still tries, for the router and the tasks.
    :param failure_queue: one existing queue for every function's failures; by default each
        function gets a queue of its own, so a failure says where it happened.
    :param failure_queue_props: ``sqs.Queue`` props of each failure queue made here.
    :param functions_props: ``PatternFunction`` props of every function (``runtime``, ``architecture``,
        ``shared_dir``...); ``router_props`` of the router, ``tasks_props`` of each task.
    :param tables_props: ``dynamodb.Table`` props of each task's table.
    :param code_dir: the folder of ``router.py`` and ``tasks.py``; ``functions/router`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retry_attempts: int = MAX_ASYNC_RETRY_ATTEMPTS,
        task_retry_attempts: int = MAX_ASYNC_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
        failure_queue: sqs.IQueue | None = None,
        memory_size: int | None = None,
        failure_queue_props: Props | None = None,
        functions_props: Props | None = None,
        router_props: Props | None = None,
        tasks_props: Props | None = None,
        tables_props: Props | None = None,
        code_dir: CodeLocation = "router",
    ) -> None:
        super().__init__(scope, construct_id)
        memory = {"memory_size": ("memory_size", memory_size)}
        function_defaults = {"code_dir": code_dir, "service": "router"}
        failures = {
            "queue": failure_queue,
            "queue_props": failure_queue_props,
            "queue_props_name": "failure_queue_props",
            "max_event_age": max_event_age,
        }
        self.router = PatternFunction(
            self,
            "Router",
            **pattern_function_props(
                self,
                "router_props",
                {
                    **function_defaults,
                    "handler": "router.handler",
                    "description": "Routes each message to the task for its type (InvocationType Event)",
                    "environment": {"ROUTES": json.dumps(ROUTES, sort_keys=True)},
                },
                router_props,
                functions_props=functions_props,
                keywords=memory,
            ),
        )
        self.router_failure_queue = async_failure_destination(
            self.router, what="messages the router could not route", retry_attempts=retry_attempts, **failures
        )

        self.tasks: dict[str, PatternFunction] = {}
        self.tables: dict[str, dynamodb.Table] = {}
        self.task_failure_queues: dict[str, sqs.IQueue] = {}
        for message_type, task in ROUTES.items():
            title = task.capitalize()
            table = secure_table(
                self,
                f"{title}Table",
                **merge_props(
                    self,
                    "tables_props",
                    {"partition_key": dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING)},
                    tables_props,
                    fixed=("partition_key",),
                ),
            )
            function = PatternFunction(
                self,
                f"{title}Task",
                **pattern_function_props(
                    self,
                    "tasks_props",
                    {
                        **function_defaults,
                        "handler": f"tasks.{task}_handler",
                        "description": f"Stores {message_type} messages once each in its own table",
                        "environment": {"TABLE_NAME": table.table_name},
                    },
                    tasks_props,
                    functions_props=functions_props,
                    keywords=memory,
                ),
            )
            grant_table(table, function, "dynamodb:PutItem")
            self.task_failure_queues[message_type] = async_failure_destination(
                function,
                what=f"{message_type} messages the {task} task could not store",
                retry_attempts=task_retry_attempts,
                **failures,
            )
            # The router may invoke each task and nothing else: a grant on each task's ARN.
            grant_invoke_latest(function, self.router)
            self.router.add_environment(f"TASK_FUNCTION_{task.upper()}", function.function_name)
            self.tasks[message_type] = function
            self.tables[message_type] = table

    def outputs(self) -> dict[str, Any]:
        outputs = {
            "RouterFunctionName": self.router.function_name,
            "RouterFailureQueueUrl": self.router_failure_queue.queue_url,
        }
        for message_type, task in ROUTES.items():
            title = task.capitalize()
            outputs[f"{title}TableName"] = self.tables[message_type].table_name
            outputs[f"{title}FailureQueueUrl"] = self.task_failure_queues[message_type].queue_url
        return outputs
