"""Logs each line it is given with Powertools' Logger (``{"level": "ERROR", "message": ...}``), and
prints a plain line too. The logger's service is POWERTOOLS_SERVICE_NAME."""

from aws_lambda_powertools import Logger

logger = Logger()


def handler(event, context):
    lines = event.get("lines", [])
    for line in lines:
        getattr(logger, line["level"].lower())(line["message"])
    print(f"plain line: {len(lines)} logged")
    return {"logged": len(lines)}
