"""``Custom::CDKBucketDeployment`` (``s3_deployment.BucketDeployment``), done as CDK's handler does it
on AWS: unpack each source zip (markers replaced), then ``aws s3 sync`` the result into the
destination bucket under its prefix, then invalidate the CloudFront distribution, if one is given,
and wait for the invalidation (``GetInvalidation``) unless ``WaitForDistributionInvalidation`` is false.

- Sources: each ``SourceBucketNames[i]``/``SourceObjectKeys[i]`` is an asset of the cloud assembly
  (a folder CDK zips on publishing, or a zip file), or else an object in the local cloud's S3.
  A source that is neither is the resource's error. Markers (``Source.data``, ``Source.json_data``)
  are replaced in every file as the handler does: in JSON files within strings, the file written
  back as ``json.dumps`` writes it; elsewhere byte for byte. ``Extract: false`` deploys the zip itself.
- Sync: every file passing the filters is uploaded (``SyncWithSizeOnly``: unless an object of the
  same size is there), with ``SystemMetadata`` (``cache-control``, ``content-type``...; otherwise the
  content type guessed from the name, as the AWS CLI does) and ``UserMetadata``. ``Prune`` (default
  true) deletes what is under the prefix and not in the sources. ``Exclude``/``Include`` are the
  CLI's filters: matched against the key below the prefix, ``*`` crossing ``/``, excludes first and
  the last that matches deciding, on both sides (an excluded object is neither written nor pruned).
- Update (a redeploy, once the kept data is back, for a deployment the new template changed or
  added): the same sync again, so a changed site shows and what left the sources is pruned.
- Delete, with ``RetainOnDelete: false``: everything under the prefix is removed, unless the bucket
  is tagged as owned by another deployment (``aws-cdk:cr-owned``), as the handler checks.

The S3 calls go to moto as the handler function's role, IAM-checked as a function's calls are.
"""

from __future__ import annotations

import fnmatch
import io
import json
import mimetypes
import uuid
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localcloud.core.assets import missing, object_asset, open_zip
from localcloud.core.service import Provisioned, provisions
from localcloud.errors import LocalCloudError
from localcloud.services.cdk.handlers import CustomResourceFailed, Handler, built_ins, true

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

TYPE = "Custom::CDKBucketDeployment"
#: The AWS CLI's ``s3 sync`` options CDK passes as ``SystemMetadata`` keys -> PutObject's parameters.
SYSTEM_METADATA = {
    "cache-control": "CacheControl",
    "content-type": "ContentType",
    "content-disposition": "ContentDisposition",
    "content-encoding": "ContentEncoding",
    "content-language": "ContentLanguage",
    "expires": "Expires",
    "storage-class": "StorageClass",
    "sse": "ServerSideEncryption",
    "sse-kms-key-id": "SSEKMSKeyId",
    "acl": "ACL",
    "website-redirect": "WebsiteRedirectLocation",
}
OWNER_TAG = "aws-cdk:cr-owned"


@provisions(TYPE)
def bucket_deployment(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    handler = Handler.of(cloud, logical_id, TYPE, props)
    for required in ("SourceBucketNames", "SourceObjectKeys", "DestinationBucketName"):
        if required not in props:
            raise CustomResourceFailed(logical_id, TYPE, f"missing request resource property {required}")
    bucket, prefix = props["DestinationBucketName"], _prefix(props.get("DestinationBucketKeyPrefix", ""))
    _sync(cloud, handler, props, "Create")
    built_ins(cloud).on_update(logical_id, lambda: _sync(cloud, handler, props, "Update"))
    if not true(props.get("RetainOnDelete"), "true"):
        raw = props.get("DestinationBucketKeyPrefix", "")
        built_ins(cloud).on_delete(logical_id, lambda: _delete(cloud, handler, bucket, prefix, raw))
    physical_id = f"aws.cdk.s3deployment.{uuid.uuid5(uuid.NAMESPACE_URL, f'{cloud.stack_name}/{logical_id}')}"
    keys = props["SourceObjectKeys"] if true(props.get("OutputObjectKeys"), "true") else []
    return Provisioned(
        physical_id, {"DestinationBucketArn": props.get("DestinationBucketArn"), "SourceObjectKeys": keys}
    )


def _sync(cloud: Kernel, handler: Handler, props: dict[str, Any], request_type: str) -> None:
    """Create or Update: deploy the sources, then invalidate the distribution."""
    bucket, prefix = props["DestinationBucketName"], _prefix(props.get("DestinationBucketKeyPrefix", ""))
    with handler.request(request_type, f"s3://{bucket}/{prefix}") as span:
        written, pruned = _deploy(cloud, handler, props, bucket, prefix)
        span.data.update(written=written, pruned=pruned)
        span.detail += f": {len(written)} written, {len(pruned)} pruned"
        if props.get("DistributionId"):
            _invalidate(cloud, handler, props, span)


def _prefix(raw: str) -> str:
    """The key prefix as ``aws s3 sync`` writes under it: ``/`` is none, ``web`` is ``web/``."""
    return "" if raw in ("", "/") else raw if raw.endswith("/") else raw + "/"


# ---------------------------------------------------------------------------------------- sources


def _contents(cloud: Kernel, handler: Handler, props: dict[str, Any]) -> dict[str, bytes]:
    """The files the sources unpack to, by relative path; a later source's file replaces an earlier's."""
    buckets, keys = props["SourceBucketNames"], props["SourceObjectKeys"]
    markers = props.get("SourceMarkers") or [{} for _ in buckets]
    if not len(buckets) == len(keys) == len(markers):
        raise LocalCloudError("'source_markers' and 's3_source_zips' must be the same length")
    extract = true(props.get("Extract"), "true")
    contents: dict[str, bytes] = {}
    for bucket, key, replacements in zip(buckets, keys, markers, strict=True):
        where = f"source s3://{bucket}/{key}"
        if not extract:
            contents[key.rsplit("/", 1)[-1]] = _zip_bytes(cloud, handler, bucket, key, where)
            continue
        for name, data in _unpacked(cloud, handler, bucket, key, where):
            contents[name] = _replace_markers(data, {k: str(v) for k, v in replacements.items()})
    return contents


def _unpacked(cloud: Kernel, handler: Handler, bucket: str, key: str, where: str) -> list[tuple[str, bytes]]:
    """The files of one source: its asset folder's, or its zip's (the assembly's, or an S3 object)."""
    folder = _source_folder(cloud, handler, bucket, key, where)
    if folder is not None:
        return [
            (path.relative_to(folder).as_posix(), path.read_bytes())
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        ]
    with open_zip(io.BytesIO(_zip_bytes(cloud, handler, bucket, key, where)), where) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist() if not info.is_dir()]


def _source_folder(cloud: Kernel, handler: Handler, bucket: str, key: str, where: str) -> Path | None:
    """The folder an asset of packaging ``zip`` is (CDK zips it on publishing), read as the role may."""
    asset = object_asset(cloud.artifact.directory, bucket, key, _pseudo(cloud))
    if asset is None or asset[1] != "zip":
        return None
    handler.authorize("s3:GetObject", f"arn:{cloud.partition}:s3:::{bucket}/{key}")
    if not asset[0].is_dir():
        raise LocalCloudError(f"{where}: {missing(asset[0])}")
    return asset[0]


def _zip_bytes(cloud: Kernel, handler: Handler, bucket: str, key: str, where: str) -> bytes:
    """The source object itself: a zip file or folder (zipped) of the assembly, or the object in
    the local cloud's S3."""
    folder = _source_folder(cloud, handler, bucket, key, where)
    if folder is not None:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    out.write(path, path.relative_to(folder).as_posix())
        return archive.getvalue()
    handler.authorize("s3:GetObject", f"arn:{cloud.partition}:s3:::{bucket}/{key}")
    asset = object_asset(cloud.artifact.directory, bucket, key, _pseudo(cloud))
    if asset is not None:
        if not asset[0].is_file():
            raise LocalCloudError(f"{where}: {missing(asset[0])}")
        return asset[0].read_bytes()
    try:
        return cloud.admin_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except cloud.admin_client("s3").exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in ("NoSuchKey", "NoSuchBucket", "404"):
            raise
        raise LocalCloudError(
            f"{where} is neither an asset of the cloud assembly nor an object in the local cloud's S3"
        ) from None


def _pseudo(cloud: Kernel) -> dict[str, str]:
    return {"AWS::AccountId": cloud.account, "AWS::Region": cloud.region, "AWS::Partition": cloud.partition}


def _replace_markers(data: bytes, markers: dict[str, str]) -> bytes:
    """As the handler's ``replace_markers``: every file, JSON ones parsed and written back."""
    try:
        text = data.decode("utf-8")
        parsed = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        for marker, value in markers.items():
            data = data.replace(marker.encode(), value.encode())
        return data
    return json.dumps(_replaced(parsed, markers)).encode("utf-8")


def _replaced(value: Any, markers: dict[str, str]) -> Any:
    if isinstance(value, str):
        for marker, replacement in markers.items():
            value = value.replace(marker, replacement)
        return value
    if isinstance(value, dict):
        return {k: _replaced(v, markers) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, markers) for v in value]
    return value


# ---------------------------------------------------------------------------------------- sync


def _deploy(
    cloud: Kernel, handler: Handler, props: dict[str, Any], bucket: str, prefix: str
) -> tuple[list[str], list[str]]:
    contents = _contents(cloud, handler, props)
    filters = [("exclude", p) for p in props.get("Exclude", [])] + [
        ("include", p) for p in props.get("Include", [])
    ]
    s3 = cloud.admin_client("s3")
    existing = {
        o["Key"][len(prefix) :]: o["Size"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    }
    options = _metadata(props)
    size_only = true(props.get("SyncWithSizeOnly"), "false")
    written = []
    for name, data in sorted(contents.items()):
        if not _included(name, filters) or (size_only and existing.get(name) == len(data)):
            continue
        guessed = {} if "ContentType" in options else _guessed_type(name)
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=data, **guessed, **options)
        written.append(prefix + name)
    pruned = []
    if true(props.get("Prune"), "true"):
        pruned = [prefix + n for n in sorted(existing) if n not in contents and _included(n, filters)]
        for start in range(0, len(pruned), 1000):
            s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": k} for k in pruned[start : start + 1000]], "Quiet": True},
            )
    return written, pruned


def _included(name: str, filters: list[tuple[str, str]]) -> bool:
    """The AWS CLI's ``--exclude``/``--include``: the last filter that matches decides, else included."""
    included = True
    for kind, pattern in filters:
        if fnmatch.fnmatchcase(name, pattern):
            included = kind == "include"
    return included


def _metadata(props: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key, value in props.get("SystemMetadata", {}).items():
        parameter = SYSTEM_METADATA.get(key.lower())
        if parameter is None:
            raise LocalCloudError(f"SystemMetadata {key!r} is not an option of aws s3 sync")
        options[parameter] = value
    user = {k.lower(): str(v) for k, v in props.get("UserMetadata", {}).items()}
    if user:
        options["Metadata"] = user
    return options


def _guessed_type(name: str) -> dict[str, str]:
    """The AWS CLI's guess from the file name; none (S3's ``binary/octet-stream``) if it has none."""
    guessed = mimetypes.guess_type(Path(name).name)[0]
    return {"ContentType": guessed} if guessed else {}


# ---------------------------------------------------------------------------------------- CloudFront and Delete


def _invalidate(cloud: Kernel, handler: Handler, props: dict[str, Any], span: Any) -> None:
    distribution = props["DistributionId"]
    raw_prefix = props.get("DestinationBucketKeyPrefix", "")
    default = ("" if raw_prefix.startswith("/") else "/") + raw_prefix
    default += ("" if default.endswith("/") else "/") + "*"
    paths = props.get("DistributionPaths") or [default]
    arn = f"arn:{cloud.partition}:cloudfront::{cloud.account}:distribution/{distribution}"
    handler.authorize("cloudfront:CreateInvalidation", arn, span=span)
    cloudfront = cloud.service("cloudfront")
    if distribution not in {d.distribution_id for d in cloudfront.distributions()}:
        raise LocalCloudError(
            f"CreateInvalidation: NoSuchDistribution: the distribution {distribution} does not exist"
        )
    dropped = cloudfront.invalidate(distribution, paths)
    if true(props.get("WaitForDistributionInvalidation"), "true"):
        # The handler waits with GetInvalidation until the invalidation completes (at once, here).
        handler.authorize("cloudfront:GetInvalidation", arn, span=span)
    cloud.trace.record(
        "invalidate",
        handler.name,
        f"cloudfront:{distribution}",
        f"{', '.join(paths)} ({dropped} cached)",
        at=cloud.clock.elapsed(),
        parent=span.id,
    )


def _delete(cloud: Kernel, handler: Handler, bucket: str, prefix: str, raw_prefix: str) -> None:
    """Delete with ``RetainOnDelete: false``: ``aws s3 rm --recursive`` of the prefix, unless the
    bucket still carries a deployment's ownership tag (CloudFormation removes it first when only
    the deployment goes; when the whole stack goes, the bucket keeps it)."""
    with handler.request("Delete", f"s3://{bucket}/{prefix}") as span:
        s3 = cloud.admin_client("s3")
        if _owned(s3, bucket, "" if raw_prefix == "/" else raw_prefix):
            span.detail += ": kept, the bucket is owned by a deployment"
            return
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])
        ]
        for start in range(0, len(keys), 1000):
            s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]}
            )
        span.detail += f": {len(keys)} deleted"


def _owned(s3: Any, bucket: str, prefix: str) -> bool:
    tag = OWNER_TAG + (f":{prefix}" if prefix else "")
    try:
        tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except s3.exceptions.ClientError:
        return False
    return any(t["Key"].startswith(tag) for t in tags)
