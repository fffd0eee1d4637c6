"""moto's mock with its ``requests`` callbacks made once (:mod:`localcloud.core.moto_mock`): code
that calls AWS through ``requests`` reaches moto at every start, as moto itself registers it."""

from __future__ import annotations

import boto3
import requests
from moto import mock_aws
from moto.core.models import MockAWS, responses_mock

from localcloud.core import moto_mock


def registered() -> list[tuple[str, object, object]]:
    return [
        (response.method, response.url, getattr(response.callback, "__func__", response.callback))
        for response in responses_mock._registry.registered
    ]


def test_each_start_registers_what_moto_registers_in_moto_s_order(monkeypatch) -> None:
    moto_mock.install()
    made_once = MockAWS._enable_patching
    assert made_once is not moto_mock.original_enable_patching
    monkeypatch.setattr(MockAWS, "_enable_patching", moto_mock.original_enable_patching)
    with mock_aws():
        by_moto = registered()
    monkeypatch.setattr(MockAWS, "_enable_patching", made_once)
    for _ in range(2):
        with mock_aws():
            assert registered() == by_moto
    assert len(by_moto) > 1000


def test_requests_reach_moto_s_backends_at_every_start_and_count_only_their_own_calls() -> None:
    moto_mock.install()
    for attempt in range(2):
        with mock_aws():
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket="presigned")
            s3.put_object(Bucket="presigned", Key="note.txt", Body=f"attempt {attempt}".encode())
            url = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "note.txt"})

            fetched = requests.get(url, timeout=5)

            assert (fetched.status_code, fetched.text) == (200, f"attempt {attempt}")
            assert sum(len(response.calls) for response in responses_mock._registry.registered) == 1
