"""Small steps for state machine tests: each returns a new value, so a chain's data flow shows."""


def add(event, context):
    return {**event, "value": event["value"] + 1, "steps": [*event.get("steps", []), "add"]}


def double(event, context):
    return {**event, "value": event["value"] * 2, "steps": [*event.get("steps", []), "double"]}
