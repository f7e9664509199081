"""The archivers compared, each set up on the same cluster and bucket: how archive_command reaches S3.

- one process per segment: the collection's archiver without spool_dir, what archive_command ran before the
  uploader (each call starts Python, imports boto3 and uploads its segment);
- uploader: the same archiver with spool_dir, archive_command handing segments to the long-lived uploader (under
  the pid-file supervisor, as the wal_archiving role starts it where no systemd runs).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tests.support.backup_env import s3_archiver_config
from tests.support.wal_archiver import InstalledArchiver


@dataclass
class ArchiverContender:
    name: str
    archiver: InstalledArchiver
    uploader: bool
    upload_workers: int = 4
    config_name: str = ""

    def prepare(self, endpoint_url: str, bucket: str) -> str:
        """Write the archiver's configuration (and start the uploader); the archive_command to use."""
        self.config_name = "bench" + uuid.uuid4().hex[:8]
        config = {**s3_archiver_config(endpoint_url, bucket), "push_retry_seconds": 30}
        if self.uploader:
            config = {**self.archiver.with_uploader(config, self.config_name), "upload_workers": self.upload_workers}
        self.archiver.write_config(config, self.config_name)
        if self.uploader:
            self.archiver.start_uploader(self.config_name)
        return self.archiver.archive_command(self.config_name)

    def restore_command(self) -> str:
        return self.archiver.restore_command(self.config_name)

    def finish(self) -> None:
        if self.uploader:
            self.archiver.stop_uploader(self.config_name)


def contenders(archiver: InstalledArchiver, only: str | None, workers: int) -> list[ArchiverContender]:
    chosen = [ArchiverContender("one process per segment", archiver, uploader=False),
              ArchiverContender(f"uploader ({workers} in flight)", archiver, uploader=True, upload_workers=workers)]
    return [contender for contender in chosen if only is None or contender.uploader == (only == "uploader")]
