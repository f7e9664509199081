# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The repository options of plugins/module_utils/repository_args.py, shared by the backup modules.
    DOCUMENTATION = r"""
options:
  repository:
    description:
      - Where backups, the WAL / change archives and the catalog live, on the host the module runs on.
      - An absolute directory path (for example a mounted volume), or V(s3://bucket/prefix) for S3 or any
        S3-compatible store.
      - One repository (or S3 prefix) serves one PostgreSQL cluster and one MongoDB deployment.
      - Every object is stored with its sha256 and checked when read. See C(docs/repository-layout.md).
      - When omitted, taken from the E(DBOPS_REPOSITORY) environment variable.
    type: str
  s3_endpoint_url:
    description:
      - Endpoint of an S3-compatible service (V(https://minio.example.com:9000)); AWS S3 when omitted.
      - When omitted, taken from the E(DBOPS_S3_ENDPOINT_URL) environment variable.
    type: str
  s3_access_key:
    description:
      - Access key id for an V(s3://) repository. When omitted, taken from E(DBOPS_S3_ACCESS_KEY), then from
        boto3's usual sources (E(AWS_ACCESS_KEY_ID), instance profile, ...).
      - Never shown in the output or logs.
    type: str
  s3_secret_key:
    description:
      - Secret access key for an V(s3://) repository. When omitted, taken from E(DBOPS_S3_SECRET_KEY), then from
        boto3's usual sources.
      - Never shown in the output or logs.
    type: str
  s3_region:
    description:
      - Region of the bucket. When omitted, taken from E(DBOPS_S3_REGION), then from boto3's configuration.
    type: str
  s3_retry_seconds:
    description:
      - How long transient S3 errors (refused connections, timeouts, 5xx, throttling) are retried with backoff
        before the operation fails.
    type: float
    default: 60
requirements:
  - boto3 >= 1.26 (for V(s3://) repositories)
"""
