"""Map reduce: a word count over 200 objects equals the single-process count of the same objects; a
batch holding a file that is not text is retried, then reported by key, and the rest still counts."""

from __future__ import annotations

import json
from collections import Counter

from scenarios import Show

#: Words that differ in case, script and punctuation, so the tokenisation rule is exercised.
VOCABULARY = (
    "The",
    "the",
    "THE",
    "Straße",
    "STRASSE",
    "café",
    "Café",
    "naïve",
    "don't",
    "don\u2019t",
    "Ünïcödé",
    "ÜNÏCÖDÉ",
    "地図",
    "データ",
    "map",
    "Map",
    "reduce,",
    "reduce.",
    "42",
    "snake_case",
    "word—word",
    "¿qué?",
    "Qué!",
    "ελληνικά",
    "ΕΛΛΗΝΙΚΆ",
)
FILES = 200


def corpus(folder: str = "input/corpus/", count: int = FILES) -> dict[str, str]:
    """``count`` small text objects under ``folder``, each its own mix of the vocabulary."""
    return {
        f"{folder}doc-{n:03}.txt": " ".join(
            VOCABULARY[(n * 7 + i * 3) % len(VOCABULARY)] for i in range(5 + n % 11)
        )
        for n in range(count)
    }


def single_process_count(texts: list[str]) -> Counter[str]:
    """The word count in one process, by scanning characters: a word is a run of letters and digits
    (``isalnum``), an apostrophe between two of them kept (a typographic one read as ``'``), case folded."""
    counts: Counter[str] = Counter()
    for text in texts:
        folded = text.casefold().replace("\u2019", "'")
        word = ""
        for index, char in enumerate(folded):
            inner = char == "'" and word and index + 1 < len(folded) and folded[index + 1].isalnum()
            if char.isalnum() or inner:
                word += char
            elif word:
                counts[word] += 1
                word = ""
        if word:
            counts[word] += 1
    return counts


def load(show: Show, objects: dict[str, bytes | str]) -> None:
    s3, bucket = show.cloud.client("s3"), show.cloud.outputs["InputBucketName"]
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)


def count(show: Show, name: str, prefix: str) -> dict:
    """Run the workflow once over ``prefix``, named ``name``, and read the result object its reducer wrote."""
    cloud = show.cloud
    execution = cloud.start_execution("Pattern/Workflow", {"prefix": prefix}, name=name)
    cloud.drain()
    show.equal(f"the {name} run succeeds", (execution.status, execution.error), ("SUCCEEDED", None))
    key = f"{cloud.outputs['CountsPrefix']}{name}.json"
    body = cloud.client("s3").get_object(Bucket=cloud.outputs["OutputBucketName"], Key=key)["Body"].read()
    return json.loads(body)


def run(show: Show) -> None:
    cloud = show.cloud
    texts = corpus()
    load(show, texts)
    mapper = cloud.function("Pattern/Mapper").name
    clean = count(show, "clean", "input/corpus/")
    show.equal(
        "over 200 objects the result equals the single-process count",
        (clean["status"], clean["files"], clean["counts"]),
        ("COMPLETE", FILES, dict(sorted(single_process_count(list(texts.values())).items()))),
    )
    show.equal("20 batches of 10, one mapper call each", len(cloud.trace.find("invoke", mapper)), 20)

    small = corpus("input/poisoned/", 100)
    load(show, {**small, "input/poisoned/doc-005.bin": b"\xff\xfe not text"})
    calls_before = len(cloud.trace.find("invoke", mapper))
    partial = count(show, "poisoned", "input/poisoned/")
    [failed] = partial["failed"]
    show.that(
        "the batch with the poisoned object is reported by its keys and error, not lost",
        "input/poisoned/doc-005.bin" in failed["keys"] and failed["error"] == "UnreadableObject",
        failed,
    )
    counted = [text for key, text in small.items() if key not in failed["keys"]]
    show.equal(
        "the other batches still count, exactly",
        (partial["status"], partial["files"], partial["counts"]),
        ("PARTIAL", len(counted), dict(sorted(single_process_count(counted).items()))),
    )
    show.equal(
        "the failed batch was tried three times (two retries) before it was reported",
        len(cloud.trace.find("invoke", mapper)) - calls_before,
        11 + 2,
    )
    refused = cloud.start_execution("Pattern/Workflow", {"prefix": "private/"}, name="refused")
    cloud.drain()
    show.equal(
        "a prefix outside the input prefix is refused before any listing",
        (refused.status, refused.error),
        ("FAILED", "InvalidPrefix"),
    )
