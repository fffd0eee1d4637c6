"""Answers a Distributed Map batch with the keys it was given; a key with "poison" in it fails it."""


def handler(event, context):
    keys = [item["Key"] for item in event["Items"]]
    if any("poison" in key for key in keys):
        raise ValueError(f"poisoned batch: {keys}")
    return {"keys": keys, "batchInput": event.get("BatchInput")}
