#!/usr/bin/env python3
"""The CDK app: one stack per pattern in ``patterns/registry.py`` (``cdk deploy SimpleWebServiceStack``)."""

from patterns.stack import build_app

build_app().synth()
