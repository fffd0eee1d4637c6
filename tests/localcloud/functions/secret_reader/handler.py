"""Read the secret named in the event (an environment variable's name) and answer its value."""

import os

import boto3

secrets = boto3.client("secretsmanager")


def handler(event, context):
    return secrets.get_secret_value(SecretId=os.environ[event["secret"]])["SecretString"]
