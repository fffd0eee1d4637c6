"""What the local cloud does once instead of per call must leave every answer as it was."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud.core import speedups


@pytest.fixture
def kms():
    speedups.install()
    with mock_aws():
        yield boto3.client("kms", region_name="us-east-1")


def test_asymmetric_keys_still_get_key_pairs_of_their_own(kms):
    first, second = (kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY") for _ in range(2))
    public = [kms.get_public_key(KeyId=key["KeyMetadata"]["KeyId"])["PublicKey"] for key in (first, second)]
    assert public[0] != public[1]
    signature = kms.sign(
        KeyId=first["KeyMetadata"]["KeyId"],
        Message=b"m",
        SigningAlgorithm="RSASSA_PSS_SHA_256",
    )["Signature"]
    verify = {"Message": b"m", "Signature": signature, "SigningAlgorithm": "RSASSA_PSS_SHA_256"}
    assert kms.verify(KeyId=first["KeyMetadata"]["KeyId"], **verify)["SignatureValid"]
    assert not kms.verify(KeyId=second["KeyMetadata"]["KeyId"], **verify)["SignatureValid"]


def test_symmetric_keys_still_encrypt_with_their_own_material(kms):
    first, second = (kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2))
    blob = kms.encrypt(KeyId=first, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=blob, KeyId=second)


def test_a_module_imported_again_runs_afresh_and_a_changed_source_is_compiled_anew(tmp_path, monkeypatch):
    import importlib
    import sys

    speedups.install()
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.syspath_prepend(str(tmp_path))
    source = tmp_path / "speedups_probe.py"
    source.write_text("import itertools\nCOUNTER = itertools.count()\nVALUE = 'first'\n")
    first = importlib.import_module("speedups_probe")
    next(first.COUNTER)
    del sys.modules["speedups_probe"]
    again = importlib.import_module("speedups_probe")
    assert again is not first and next(again.COUNTER) == 0, "module-level code runs again"
    del sys.modules["speedups_probe"]
    source.write_text("import itertools\nCOUNTER = itertools.count()\nVALUE = 'second'\n")
    importlib.invalidate_caches()
    changed = importlib.import_module("speedups_probe")
    del sys.modules["speedups_probe"]
    assert changed.VALUE == "second"


def test_the_copy_of_the_environment_follows_every_change(monkeypatch):
    import os

    before = speedups.environ_copy(os.environ)
    assert before == dict(os.environ)
    monkeypatch.setenv("SPEEDUPS_PROBE", "one")
    assert speedups.environ_copy(os.environ)["SPEEDUPS_PROBE"] == "one"
    monkeypatch.setenv("SPEEDUPS_PROBE", "two")
    copy = speedups.environ_copy(os.environ)
    assert copy == dict(os.environ) and copy["SPEEDUPS_PROBE"] == "two"
    copy["SPEEDUPS_PROBE"] = "mine"
    monkeypatch.delenv("SPEEDUPS_PROBE")
    assert "SPEEDUPS_PROBE" not in speedups.environ_copy(os.environ)


def test_a_module_is_fingerprinted_by_the_same_attribute_names_as_freezegun_reads_them():
    import sys
    import types

    import freezegun.api

    speedups.install()
    plain = types.ModuleType("speedups_plain")
    plain.value = 1
    own_dir = types.ModuleType("speedups_own_dir")
    own_dir.__dir__ = lambda: ["shown"]
    for module in (plain, own_dir, sys.modules["json"]):
        expected = f"{id(module)}-{hash(frozenset(dir(module)))}"
        assert freezegun.api._get_module_attributes_hash(module) == expected
    before = freezegun.api._get_module_attributes_hash(plain)
    plain.added = 2
    assert freezegun.api._get_module_attributes_hash(plain) != before, "a new name is a new fingerprint"


def _answers() -> list:
    """DynamoDB answers made of plain dicts (items of every attribute type, nested), and SQS's and
    SNS's, made of model objects (SNS's serializer transforms some members)."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        item = {
            "id": {"S": "a"},
            "n": {"N": "1.5"},
            "b": {"B": b"\x00\x01"},
            "ss": {"SS": ["x", "y"]},
            "ns": {"NS": ["1", "2"]},
            "bs": {"BS": [b"\x02"]},
            "m": {"M": {"inner": {"L": [{"S": "deep"}, {"NULL": True}, {"BOOL": False}]}}},
        }
        dynamodb.put_item(TableName="t", Item=item)
        answers = [
            dynamodb.get_item(TableName="t", Key={"id": {"S": "a"}}, ReturnConsumedCapacity="TOTAL"),
            dynamodb.scan(TableName="t"),
            dynamodb.describe_table(TableName="t")["Table"]["KeySchema"],
        ]
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="q", Attributes={"DelaySeconds": "0"})["QueueUrl"]
        sqs.send_message(
            QueueUrl=queue,
            MessageBody="m",
            MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
        )
        received = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"][0]
        answers += [
            received["Body"],
            received["MessageAttributes"],
            sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["DelaySeconds"])["Attributes"],
        ]
        sns = boto3.client("sns", region_name="us-east-1")
        topic = sns.create_topic(Name="t", Attributes={"DisplayName": "shown"})["TopicArn"]
        answers.append(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"])
    for answer in answers:
        if isinstance(answer, dict):
            answer.pop("ResponseMetadata", None)
    return answers


def test_answers_read_from_plain_dicts_are_the_same_as_moto_gives_them(monkeypatch):
    import moto.core.serialize

    picker = moto.core.serialize.XFormedAttributePicker
    speedups.install()
    assert picker.__call__.__module__ == speedups.__name__
    fast = _answers()
    monkeypatch.setattr(picker, "__call__", moto.core.serialize.AttributePicker.__call__)
    assert fast == _answers()
    item = fast[0]["Item"]
    assert item["m"] == {"M": {"inner": {"L": [{"S": "deep"}, {"NULL": True}, {"BOOL": False}]}}}
    assert item["b"] == {"B": b"\x00\x01"} and item["ns"] == {"NS": ["1", "2"]}
    assert fast[0]["ConsumedCapacity"] == {"TableName": "t", "CapacityUnits": 0.5}


def _sent_requests() -> list[tuple[str, str, list[tuple[str, str]], bytes]]:
    """What botocore hands moto for a few calls of each protocol (JSON, query, REST with a body,
    metadata, an encoded key, a query string, no body), as moto's ``from_primitives`` passes them on."""
    sent = []

    def record(request, **_):
        headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()]
        body = request.body
        if hasattr(body, "read"):  # a streamed body, read out as moto reads it, then rewound for moto
            body, _ = body.read(), body.seek(0)
        sent.append((request.method, request.url, headers, body))

    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        session.events.register_first("before-send", record, unique_id="record-sent")  # before moto reads it
        dynamodb, sqs, s3 = (session.client(name) for name in ("dynamodb", "sqs", "s3"))
        dynamodb.list_tables()
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="ünïcode body")
        s3.create_bucket(Bucket="bucket-b")
        s3.put_object(Bucket="bucket-b", Key="dir/a b%2Fc?d=é", Body=b"\x00bytes", Metadata={"my_key": "v"})
        s3.list_objects_v2(Bucket="bucket-b", Prefix="dir/", MaxKeys=5)
        s3.get_object(Bucket="bucket-b", Key="dir/a b%2Fc?d=é")
    return sent


def _cases() -> list[dict]:
    from urllib.parse import urlparse

    cases = []
    for method, url, headers, body in _sent_requests():
        parsed = urlparse(url)
        cases.append(
            {
                "method": method,
                "base_url": f"{parsed.scheme}://{parsed.netloc}",
                "path": parsed.path,
                "query_string": parsed.query,
                "data": body if body is not None else b"",
                "headers": headers,
            }
        )
    base = {
        "method": "POST",
        "base_url": "http://localhost:5000",
        "path": "/",
        "query_string": "",
        "data": b"",
    }
    cases += [
        {
            **base,
            "headers": [("Host", "other:81"), ("X-Twice", "a"), ("x-twice", "b"), ("Content-Length", "007")],
        },
        {
            **base,
            "headers": [("content-type", "text/plain"), ("Content-Type", "application/json")],
            "data": b"{}",
        },
        {**base, "base_url": "https://h.example/root/", "path": "/p%20q/ü", "headers": []},
        {**base, "headers": [("Content-Type", "application/x-www-form-urlencoded")]},  # left to the builder
        {**base, "headers": [("Content-Length", "5")], "data": b"12"},
        {**base, "base_url": "http://h:0080", "headers": []},
    ]
    return cases


def test_request_environs_are_the_ones_werkzeug_builds():
    """moto builds a werkzeug request from each botocore request; the environ built directly must
    be werkzeug's own, key for key and in its order (moto reads headers back in that order)."""
    from werkzeug.test import EnvironBuilder

    cases = _cases()
    assert len(cases) >= 12
    direct = 0
    for case in cases:
        builder = EnvironBuilder(**case)
        expected = builder.get_environ()
        got = speedups.request_environ(**case)
        if got is None:
            continue
        direct += 1
        assert list(got) == list(expected), case
        stream, expected_stream = got.pop("wsgi.input"), expected.pop("wsgi.input")
        assert stream.read() == expected_stream.read(), case
        assert got == expected, case
    assert direct == len(cases) - 1, "only the empty form is left to the builder"


def test_moto_answers_the_same_with_the_environs_built_directly(monkeypatch):
    import moto.core.request

    speedups.install()
    assert moto.core.request.Request.from_values.__func__.__module__ == speedups.__name__
    fast = _answers()
    monkeypatch.delattr(moto.core.request.Request, "from_values")  # werkzeug's, inherited
    assert fast == _answers()


def test_the_body_signed_is_the_body_the_whole_preparation_gives():
    import io

    from botocore.awsrequest import AWSRequest, AWSRequestPreparer

    speedups.install()
    bodies = [
        b'{"TableName": "t"}',
        "ünïcode",
        b"",
        None,
        {"Action": "SendMessage", "ü": "é"},
        io.BytesIO(b"s"),
    ]
    for data in bodies:
        request = AWSRequest(
            method="POST", url="https://h/p?q=1", data=data, headers={"X-A": "b"}, params={"k": "v"}
        )
        whole = AWSRequestPreparer().prepare(request).body
        expected = whole.encode("utf-8") if isinstance(whole, str) else whole
        assert request.body == expected or (request.body is expected), data
        assert type(request.body) is type(expected), data


def test_random_strings_are_the_draws_choice_makes_from_the_same_seed():
    import random

    from moto.moto_api._internal.moto_random import MotoRandom

    speedups.install()
    for seed in range(50):
        for pool in (
            "0123456789abcdef",
            "ab",
            "x",
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        ):
            one_by_one, at_once = random.Random(seed), random.Random(seed)  # noqa: S311 (seeded on purpose)
            for length in (0, 1, 52, 300):
                expected = "".join(one_by_one.choice(pool) for _ in range(length))
                assert speedups.choices_as_choice_draws(at_once, pool, length) == expected, (
                    seed,
                    pool,
                    length,
                )
            assert one_by_one.getstate() == at_once.getstate(), "the same words drawn, no more"
    seeded = MotoRandom(3)
    drawn = (
        seeded.get_random_string(length=52),
        seeded.get_random_string(length=8, include_digits=False, lower_case=True),
    )
    again = random.Random(3)  # noqa: S311
    digits = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    assert drawn == (
        "".join(again.choice(digits) for _ in range(52)),
        "".join(again.choice(digits[:52]) for _ in range(8)).lower(),
    )


def test_moto_request_ids_follow_its_seed_as_before(monkeypatch):
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.moto_random import MotoRandom

    def request_ids() -> list[str]:
        mock_random.seed(11)
        with mock_aws():
            dynamodb = boto3.client("dynamodb", region_name="us-east-1")
            sqs = boto3.client("sqs", region_name="us-east-1")
            ids = [dynamodb.list_tables()["ResponseMetadata"]["RequestId"] for _ in range(2)]
            ids.append(sqs.create_queue(QueueName="q")["ResponseMetadata"]["RequestId"])
            return [*ids, str(mock_random.random())]

    speedups.install()
    assert MotoRandom.get_random_string.__module__ == speedups.__name__
    fast = request_ids()
    assert len(fast[0]) == 52 and fast[0] != fast[1]
    monkeypatch.setattr(MotoRandom, "get_random_string", speedups._ONE_BY_ONE)
    assert fast == request_ids()
