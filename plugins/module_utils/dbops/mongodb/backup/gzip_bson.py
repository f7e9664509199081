"""Documents of a gzip-compressed BSON stream (dump files, the dump's oplog window, change-archive chunks), decoded
one at a time so that a large collection is never held in memory whole."""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Mapping
from typing import IO, Any, TypeVar, cast

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import bson

Document = TypeVar("Document", bound=Mapping[str, Any])


def gzip_documents(handle: gzip.GzipFile, codec: bson.codec_options.CodecOptions[Document]) -> Iterator[Document]:
    # bson's stubs ask for IO[bytes], which GzipFile (an io.BufferedIOBase) is not declared as; decode_file_iter
    # only calls read(), which GzipFile has.
    return bson.decode_file_iter(cast(IO[bytes], handle), codec_options=codec)
