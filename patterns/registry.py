"""The one list of patterns: app.py, the parametrized tests, the README table and the benchmarks read it.

Adding a pattern is adding one :class:`Pattern` entry here. Constructs are named by import path so
that reading the registry (for docs, say) does not start the CDK.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

SOURCES = {
    "000": "Designing production-ready AWS serverless applications (Datadog, 2022)",
    "001": "Serverless Microservice Patterns for AWS (Jeremy Daly)",
    "002": "Serverless Patterns: storage-first and circuit breaker (2023)",
    "003": "Serverless Microservice Patterns for AWS (Logan Seo, 2021)",
    "004": "Serverless Architecture Patterns in AWS",
}


@dataclass(frozen=True)
class Variant:
    """Another construct of a catalog row (the same pattern on another service), deployed as a
    stack of its own: ``<PascalId><PascalVariant>Stack``."""

    id: str
    construct: str
    """``module:Class`` of its L3 construct."""
    summary: str


@dataclass(frozen=True)
class Pattern:
    """One catalog row as built here."""

    id: str
    title: str
    construct: str
    """``module:Class`` of the L3 construct."""
    summary: str
    sources: tuple[str, ...]
    functions: tuple[str, ...] = ()
    """Folders under ``functions/`` this pattern ships (benchmarked for cold start and size)."""
    variants: tuple[Variant, ...] = ()
    """The row's other constructs; ``construct`` is its default one, deployed as :attr:`stack_name`."""

    @property
    def stack_name(self) -> str:
        return _pascal(self.id) + "Stack"

    def variant(self, variant_id: str) -> Variant:
        for variant in self.variants:
            if variant.id == variant_id:
                return variant
        known = ", ".join(v.id for v in self.variants) or "none"
        raise KeyError(f"{self.id} has no variant {variant_id!r}; its variants: {known}")

    def variant_stack_name(self, variant_id: str) -> str:
        return _pascal(self.id) + _pascal(self.variant(variant_id).id) + "Stack"

    def stack_names(self) -> tuple[str, ...]:
        """Every stack of the row: the default one, then one per variant."""
        return tuple(name for _, name in self.stacks())

    def stacks(self) -> tuple[tuple[str | None, str], ...]:
        """``(variant id, stack name)`` of every stack of the row; ``None`` for the default one."""
        return ((None, self.stack_name), *((v.id, self.variant_stack_name(v.id)) for v in self.variants))

    @property
    def docs_page(self) -> str:
        return f"docs/patterns/{self.id}.md"

    def construct_class(self, variant_id: str | None = None) -> type[Any]:
        path = self.construct if variant_id is None else self.variant(variant_id).construct
        module, _, name = path.partition(":")
        return getattr(importlib.import_module(module), name)


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        id="simple_web_service",
        title="Simple Web Service",
        construct="patterns.simple_web_service:SimpleWebService",
        summary="API Gateway REST -> Lambda -> DynamoDB: CRUD with pagination, 400 and 404 paths",
        sources=("001", "003", "004"),
        functions=("simple_web_service",),
    ),
    Pattern(
        id="scalable_webhook",
        title="Scalable Webhook",
        construct="patterns.scalable_webhook:ScalableWebhook",
        summary="API -> Lambda -> SQS (+DLQ) -> Lambda at a capped concurrency -> DynamoDB, idempotent writes",
        sources=("001", "003"),
        functions=("scalable_webhook",),
    ),
    Pattern(
        id="storage_first",
        title="Storage-First",
        construct="patterns.storage_first:StorageFirstQueue",
        summary="API Gateway stores the request in SQS (or DynamoDB, or EventBridge) before any code runs",
        sources=("002", "004"),
        functions=("storage_first",),
        variants=(
            Variant(
                id="dynamodb",
                construct="patterns.storage_first:StorageFirstTable",
                summary="API Gateway puts the request into a DynamoDB table; its stream feeds the processor",
            ),
            Variant(
                id="eventbridge",
                construct="patterns.storage_first:StorageFirstEventBus",
                summary="API Gateway puts the request on an EventBridge bus; a rule feeds the processor",
            ),
        ),
    ),
    Pattern(
        id="internal_api",
        title="Internal API",
        construct="patterns.internal_api:InternalApi",
        summary="A service function invoked RequestResponse through the SDK by its granted callers only, "
        "no API Gateway",
        sources=("001", "003"),
        functions=("internal_api",),
    ),
    Pattern(
        id="gatekeeper",
        title="Gatekeeper",
        construct="patterns.gatekeeper:Gatekeeper",
        summary="Lambda TOKEN authorizer returning a cached IAM policy from an authorization service "
        "with its own table and admin API",
        sources=("001",),
        functions=("gatekeeper",),
    ),
    Pattern(
        id="aggregator",
        title="Aggregator",
        construct="patterns.aggregator:Aggregator",
        summary="API -> Lambda calling three internal services at once within a time budget; "
        "a failing or slow one is a marked part of a 200, never a 500",
        sources=("000", "001", "004"),
        functions=("aggregator",),
    ),
    Pattern(
        id="fifo_consumer",
        title="FIFOer",
        construct="patterns.fifo_consumer:FifoConsumer",
        summary="SQS FIFO -> Lambda -> DynamoDB: order kept per message group, duplicates dropped, "
        "a poison message holds its own group only and reaches the FIFO DLQ",
        sources=("001",),
        functions=("fifo_consumer",),
    ),
    Pattern(
        id="frugal_consumer",
        title="Frugal Consumer",
        construct="patterns.frugal_consumer:FrugalConsumer",
        summary="Standalone SQS queue producers write to with the SDK -> Lambda at maximum concurrency 2 "
        "with a batching window -> a store that takes N writes a second; throttled items return, bad "
        "ones reach the DLQ",
        sources=("001",),
        functions=("frugal_consumer",),
    ),
    Pattern(
        id="stream_processing",
        title="Data streaming",
        construct="patterns.stream_processing:StreamProcessing",
        summary="Kinesis -> Lambda at parallelization factor 4 with a batching window -> DynamoDB running "
        "totals counted once; order kept per partition key, a bad record bisected out to an on-failure "
        "queue while the rest of the shard goes on",
        sources=("000", "004"),
        functions=("stream_processing",),
    ),
    Pattern(
        id="realtime_analytics",
        title="Real-time analytics",
        construct="patterns.realtime_analytics:RealtimeAnalytics",
        summary="Kinesis -> Lambda with tumbling windows carrying each metric's count, sum, min and max "
        "in the window state -> one DynamoDB item per metric and window, written once; a threshold "
        "anomaly publishes one alert to an encrypted SNS topic, a bad record goes to the failure queue",
        sources=("004",),
        functions=("realtime_analytics",),
    ),
    Pattern(
        id="streamer",
        title="They Say I'm A Streamer",
        construct="patterns.streamer:Streamer",
        summary="API Gateway puts records into Kinesis with VTL (PutRecord, PutRecords), no Lambda; Firehose "
        "reads the stream and writes GZIP JSON lines to S3 under a timestamped prefix, by size or interval",
        sources=("001",),
    ),
    Pattern(
        id="internal_handoff",
        title="Internal Handoff",
        construct="patterns.internal_handoff:InternalHandoff",
        summary="Lambda -> Lambda with InvocationType Event: retries, an on-failure destination queue, "
        "an idempotent worker",
        sources=("001",),
        functions=("internal_handoff",),
    ),
    Pattern(
        id="notifier",
        title="Notifier",
        construct="patterns.notifier:Notifier",
        summary="A standalone KMS-encrypted SNS topic with a published JSON Schema and a validating "
        "publisher; subscribers own their subscriptions, filtered on attributes or the body, each with a DLQ",
        sources=("001",),
        functions=("notifier",),
    ),
    Pattern(
        id="router",
        title="Router",
        construct="patterns.router:Router",
        summary="An async router Lambda invokes one of three task Lambdas by message type (Event); "
        "each function has its own failure destination, each task its own table",
        sources=("001",),
        functions=("router",),
    ),
    Pattern(
        id="strangler",
        title="Strangler",
        construct="patterns.strangler:Strangler",
        summary="API Gateway facade: every route proxied to the legacy API over HTTP, migrated routes "
        "to Lambda, one line each",
        sources=("000", "001", "003", "004"),
        functions=("strangler",),
    ),
    Pattern(
        id="robust_api",
        title="Robust API",
        construct="patterns.robust_api:RobustApi",
        summary="One API, a function per route over one shared table; one route calls an internal "
        "service synchronously, another hands work off asynchronously",
        sources=("001",),
        functions=("robust_api",),
    ),
    Pattern(
        id="state_machine",
        title="State Machine",
        construct="patterns.state_machine:StateMachine",
        summary="Step Functions order assignment over Lambda tasks: Choice with a bounded Wait, Retry with "
        "back-off, a task token for the delivery, Catch to a compensation that cancels",
        sources=("000", "001", "003", "004"),
        functions=("state_machine",),
    ),
    Pattern(
        id="sfn_crud",
        title="Step Functions CRUD",
        construct="patterns.sfn_crud:SfnCrud",
        summary="API Gateway runs an Express state machine synchronously: a Choice on the method to DynamoDB "
        "GetItem, PutItem, DeleteItem, no Lambda; its errors mapped to 404 and 400",
        sources=("002",),
    ),
    Pattern(
        id="read_heavy_reporting",
        title="Read Heavy Reporting Engine",
        construct="patterns.read_heavy_reporting:ReadHeavyReporting",
        summary="Lambda reads reports cache-aside from ElastiCache (Valkey) in front of Aurora PostgreSQL, "
        "with a TTL; a recorded sale's EventBridge event clears the cached report",
        sources=("001",),
        functions=("read_heavy_reporting",),
    ),
    Pattern(
        id="eventually_consistent",
        title="Eventually Consistent",
        construct="patterns.eventually_consistent:EventuallyConsistent",
        summary="API -> Lambda -> DynamoDB stamping last_updated; the table's stream -> Lambda -> an Aurora "
        "PostgreSQL replica over TLS, upserts guarded on last_updated so a late or replayed change never "
        "regresses a row, deletions as tombstones; a refused change bisected out to an encrypted on-failure queue",
        sources=("001",),
        functions=("eventually_consistent",),
    ),
    Pattern(
        id="event_driven",
        title="Event driven",
        construct="patterns.event_driven:EventDriven",
        summary="Upload bucket -> Lambda -> output bucket: a CSV streamed, validated and written as JSON "
        "lines once; a bad object reaches the on-failure queue with its key and reason; no self-trigger",
        sources=("004",),
        functions=("event_driven",),
    ),
    Pattern(
        id="pub_sub",
        title="Publisher-Subscriber fan-out",
        construct="patterns.pub_sub:PubSub",
        summary="S3 upload -> encrypted SNS topic -> three SQS queues, each with its DLQ -> thumbnail, resize "
        "and metadata functions (Pillow from a layer built for arm64) -> output bucket; a bad image rests in "
        "the three DLQs with its key",
        sources=("000", "004"),
        functions=("pub_sub",),
    ),
    Pattern(
        id="saga",
        title="Saga",
        construct="patterns.saga:Saga",
        summary="API starts a Standard workflow: order, payment, inventory; a failing step runs the "
        "compensations of the steps before it in reverse, idempotent and retried",
        sources=("000", "004"),
        functions=("saga",),
    ),
    Pattern(
        id="circuit_breaker",
        title="Circuit Breaker",
        construct="patterns.circuit_breaker:CircuitBreaker",
        summary="API -> Lambda calling a flaky dependency through a breaker whose closed, open and half-open "
        "state is one DynamoDB item changed only by conditional writes; one probe, backoff doubling",
        sources=("000", "001", "002", "004"),
        functions=("circuit_breaker",),
    ),
    Pattern(
        id="circuit_breaker_sfn",
        title="Circuit Breaker (Step Functions)",
        construct="patterns.circuit_breaker_sfn:StepFunctionsCircuitBreaker",
        summary="A Standard workflow reads the circuit from DynamoDB, fails fast while it is open, else calls "
        "the dependency with 3 retries and back-off; an alarm on its errors opens the circuit through "
        "EventBridge, a scheduled health check closes it; no Lambda of its own",
        sources=("002",),
        functions=("circuit_breaker",),
    ),
    Pattern(
        id="fan_out_fan_in",
        title="Fan-out / Fan-in",
        construct="patterns.fan_out_fan_in:FanOutFanIn",
        summary="A splitter hands a job's chunks to async workers (Event); each chunk settles once in a "
        "results table keyed by job, and a conditional write finishes the job exactly once, partial if a chunk failed",
        sources=("001", "004"),
        functions=("fan_out_fan_in",),
    ),
    Pattern(
        id="map_reduce",
        title="Map Reduce",
        construct="patterns.map_reduce:MapReduce",
        summary="A word count over an S3 prefix: a Step Functions Distributed Map lists it, batches objects to "
        "mapper Lambdas in child executions, retries and tolerates a failed batch, writes its results to S3; "
        "a reducer sums them and names the objects of every failed batch",
        sources=("004",),
        functions=("map_reduce",),
    ),
    Pattern(
        id="spa",
        title="Single Page Application",
        construct="patterns.spa:SinglePageApp",
        summary="A private S3 bucket behind CloudFront (origin access control), deployed by BucketDeployment "
        "with hashed, immutable assets; the simple web service's API on the same origin",
        sources=("004",),
    ),
    Pattern(
        id="secured_spa",
        title="Secured backend with SPA",
        construct="patterns.secured_spa:SecuredSpa",
        summary="Cognito sign-up and SRP sign-in from the page, a Cognito user pool authorizer on the REST API, "
        "each user's own notes keyed by the token's sub, and security headers from a CloudFront Function",
        sources=("004",),
        functions=("secured_spa",),
    ),
    Pattern(
        id="regional_api",
        title="Regional API behind CloudFront",
        construct="patterns.regional_api:RegionalApi",
        summary="A regional REST API behind CloudFront: a cache policy keyed on the currency, the language "
        "(normalized at the edge) and the caller's token; answers kept as the API's Cache-Control says; "
        "direct calls refused by a secret origin header",
        sources=("004",),
        functions=("regional_api",),
    ),
    Pattern(
        id="proxied_frontend",
        title="Proxied front and back ends",
        construct="patterns.proxied_frontend:ProxiedFrontend",
        summary="One CloudFront distribution: /api/* to the simple web service's API (prefix stripped, stage "
        "as origin path), everything else to a private S3 bucket; same origin so no CORS preflight, and "
        "no custom error responses, so the API's errors come through unchanged",
        sources=("004",),
    ),
    Pattern(
        id="distributed_trigger",
        title="Distributed Trigger",
        construct="patterns.distributed_trigger:DistributedTrigger",
        summary="A CloudWatch Logs subscription filter on a service's log group -> Lambda (on-failure queue) "
        "-> SNS with PublishBatch -> the SQS buffer of every subscribing service; a bad line is reported",
        sources=("001",),
        functions=("distributed_trigger",),
    ),
    Pattern(
        id="storage_first_circuit_breaker",
        title="Storage-First + Circuit Breaker",
        construct="patterns.storage_first_circuit_breaker:StorageFirstCircuitBreaker",
        summary="API Gateway stores requests in SQS; the processor calls its downstream through a DynamoDB "
        "circuit breaker; while the circuit is open a scheduled check disables the event source mapping, "
        "so requests wait unreceived, and releases them when a probe finds the downstream healthy",
        sources=("002",),
        functions=("storage_first_circuit_breaker",),
    ),
    Pattern(
        id="feature_flags",
        title="Feature flags (AppConfig)",
        construct="patterns.feature_flags:FeatureFlags",
        summary="An AppConfig feature-flag profile with a Lambda validator and a gradual deployment strategy; "
        "an API answers from it through Powertools FeatureFlags (tier rules, a percentage rollout, cached), "
        "a state machine branches on it through the AppConfig SDK integration; a new version changes both, "
        "no stack deploy",
        sources=("002",),
        functions=("feature_flags",),
    ),
    Pattern(
        id="hosting_microservices",
        title="Hosting microservices",
        construct="patterns.hosting_microservices:ServiceDomain",
        summary="One stack per service (REST API, function, table), each deployed alone and mounted under one "
        "custom domain (regional, TLS 1.2, certificate and name as props) by its own base-path mapping; the "
        "domain's name is the only thing the stacks share",
        sources=("004",),
        functions=("hosting_microservices",),
        variants=(
            Variant(
                id="orders",
                construct="patterns.hosting_microservices:OrdersService",
                summary="The orders service: its REST API, function and table, mounted at /orders",
            ),
            Variant(
                id="users",
                construct="patterns.hosting_microservices:UsersService",
                summary="The users service: its REST API, function and table, mounted at /users",
            ),
        ),
    ),
)


def get(pattern_id: str) -> Pattern:
    for pattern in PATTERNS:
        if pattern.id == pattern_id:
            return pattern
    known = ", ".join(p.id for p in PATTERNS)
    raise KeyError(f"no pattern {pattern_id!r}; known patterns: {known}")


def readme_table() -> str:
    """The README's pattern table, generated so it can never drift from this registry."""
    rows = [
        "| Pattern | Stack | What it shows | Sources |",
        "|---|---|---|---|",
    ]
    for p in PATTERNS:
        rows.append(
            f"| [{p.title}]({p.docs_page}) | `{p.stack_name}` | {p.summary} | {', '.join(p.sources)} |"
        )
    return "\n".join(rows)


README = ROOT / "README.md"
TABLE_START = "<!-- patterns:start (generated from patterns/registry.py; tests fail when stale) -->"
TABLE_END = "<!-- patterns:end -->"


def readme_with_current_table(text: str) -> str:
    """``text`` with the block between the README's table markers replaced by :func:`readme_table`."""
    head, start, rest = text.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError(f"README.md lacks the markers {TABLE_START!r} and {TABLE_END!r}")
    return f"{head}{start}\n{readme_table()}\n{end}{tail}"


if __name__ == "__main__":
    # `python -m patterns.registry` rewrites the README's pattern table from this registry.
    README.write_text(readme_with_current_table(README.read_text()))
