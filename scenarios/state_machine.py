"""State machine: an order delivered, a throttled assignment retried, no driver then cancelled,
and a failed delivery compensated."""

from __future__ import annotations

from scenarios import Show


def run(show: Show) -> None:
    cloud = show.cloud
    dynamodb = cloud.client("dynamodb")
    drivers, orders = cloud.outputs["DriversTableName"], cloud.outputs["OrdersTableName"]

    def driver_status(driver_id: str) -> str:
        return dynamodb.get_item(TableName=drivers, Key={"driver_id": {"S": driver_id}})["Item"]["status"][
            "S"
        ]

    def order_status(order_id: str) -> str:
        return dynamodb.get_item(TableName=orders, Key={"order_id": {"S": order_id}})["Item"]["status"]["S"]

    def report(order_id: str, delivered: bool, **extra: str) -> int:
        answer = cloud.invoke(
            cloud.outputs["ConfirmDeliveryFunctionName"],
            {"order_id": order_id, "delivered": delivered, **extra},
        )
        return answer["Payload"]["statusCode"]

    for driver_id in ("d-1", "d-2"):
        dynamodb.put_item(
            TableName=drivers,
            Item={"driver_id": {"S": driver_id}, "zone": {"S": "north"}, "status": {"S": "available"}},
        )
    assigner = cloud.function("Pattern/AssignDriver")
    assigner.duration = 3  # each assignment takes 3 s: the second order meets the concurrency cap
    machine = cloud.outputs["StateMachineArn"]
    first = cloud.start_execution(machine, {"order_id": "o-1", "customer_id": "c-1", "zone": "north"})
    second = cloud.start_execution(machine, {"order_id": "o-2", "customer_id": "c-2", "zone": "north"})
    cloud.drain()
    show.equal("both orders wait for their driver's report", [first.status, second.status], ["RUNNING"] * 2)
    show.equal(
        "the second assignment was throttled at t=0 and t=2 s, and retried until it succeeded at t=6 s",
        [(s.at, s.kind) for s in cloud.trace.spans if s.target == assigner.name],
        [(0, "invoke"), (0, "throttle"), (2, "throttle"), (6, "invoke")],
    )

    show.equal("the driver reports the first order delivered", report("o-1", True), 202)
    cloud.drain()
    show.equal(
        "the first order succeeds with its receipt",
        (first.status, first.output["order_id"]),
        ("SUCCEEDED", "o-1"),
    )
    show.equal("its driver is free again", driver_status(first.output["driver_id"]), "available")

    show.equal("the second order's delivery fails", report("o-2", False, reason="nobody at the door"), 202)
    cloud.drain()
    show.equal(
        "the failure cancels the order cleanly",
        (second.status, second.error, second.cause, order_status("o-2")),
        ("FAILED", "OrderCancelled", "DeliveryFailed", "cancelled"),
    )
    show.equal(
        "and the compensation frees its driver", [driver_status(d) for d in ("d-1", "d-2")], ["available"] * 2
    )

    lonely = cloud.start_execution(machine, {"order_id": "o-3", "customer_id": "c-3", "zone": "south"})
    started = cloud.clock.elapsed()
    cloud.advance(4 * 60)
    loads = cloud.trace.find("invoke", target=cloud.function("Pattern/LoadDrivers").name)
    show.equal(
        "without a driver in its zone, an order looks five times a minute apart",
        [s.at - started for s in loads if s.at >= started],
        [0, 60, 120, 180, 240],
    )
    show.equal(
        "and is then cancelled",
        (lonely.status, lonely.cause, order_status("o-3")),
        ("FAILED", "NoDriverAvailable", "cancelled"),
    )
