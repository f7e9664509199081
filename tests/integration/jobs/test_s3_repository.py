"""S3Repository against moto's S3 server: multipart, checksums, retries through an outage."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import (
    ChecksumMismatch,
    ObjectMissing,
    RepositoryUnavailable,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.factory import open_repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.s3 import MULTIPART_THRESHOLD
from tests.support.s3_server import ACCESS_KEY, REGION, SECRET_KEY
from tests.support.tcp_proxy import new_proxy


def _repo(endpoint: str, bucket: str, retry_seconds: float = 60.0):
    repo = open_repository(f"s3://{bucket}/cluster-a", s3_endpoint_url=endpoint, s3_access_key=ACCESS_KEY,
                           s3_secret_key=SECRET_KEY, s3_region=REGION, retry_seconds=retry_seconds)
    repo.ensure_bucket()
    return repo


@pytest.fixture
def bucket(s3_server):
    return "b-" + uuid.uuid4().hex[:10]


def test_roundtrip_multipart_and_listing(s3_server, bucket, tmp_path):
    repo = _repo(s3_server.endpoint_url, bucket)
    big = tmp_path / "big"
    big.write_bytes(b"0123456789abcdef" * ((MULTIPART_THRESHOLD + 5_000_000) // 16))
    info = repo.put_file("pg/base/b1/base.tar.zst", big)
    assert repo.head("pg/base/b1/base.tar.zst") == info
    out = tmp_path / "out"
    repo.get_file(info.key, out)
    assert out.read_bytes() == big.read_bytes()
    repo.put_bytes("catalog/x.json", b"{}")
    assert [i.key for i in repo.list("catalog/")] == ["catalog/x.json"]
    assert repo.get_bytes("catalog/x.json") == b"{}"
    # Bypassing the repository (someone rewrites the object) is caught on read, naming the key.
    s3_server.client().put_object(Bucket=bucket, Key="cluster-a/catalog/x.json", Body=b"[]",
                                  Metadata={"sha256": info.sha256})
    with pytest.raises(ChecksumMismatch, match="catalog/x.json"):
        repo.get_bytes("catalog/x.json")
    with pytest.raises(ObjectMissing):
        repo.get_bytes("nope")
    assert repo.head("nope") is None
    repo.delete("catalog/x.json")
    assert repo.list("catalog/") == []


def test_transient_outage_is_retried_then_reported_as_unavailable(s3_server, bucket):
    proxy = new_proxy("127.0.0.1", s3_server.port)
    try:
        repo = _repo(proxy.endpoint_url, bucket, retry_seconds=20)
        repo.put_bytes("k", b"v")
        proxy.cut()
        threading.Timer(2.0, proxy.restore).start()
        started = time.monotonic()
        assert repo.get_bytes("k") == b"v"  # retried across the 2 s outage
        assert time.monotonic() - started >= 1.5
        proxy.cut()
        repo.retry_seconds = 1.0
        with pytest.raises(RepositoryUnavailable, match="unreachable"):
            repo.head("k")
    finally:
        proxy.stop()
