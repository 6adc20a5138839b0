"""One dynamic partition per dropped file, and how file names become partition keys."""

from __future__ import annotations

import hashlib
import re

import dagster as dg

sales_files = dg.DynamicPartitionsDefinition(name="sales_files")

# Keys stay file-name safe: Dagster rejects "..." (its range separator) and
# control characters, and keys appear in URLs and folder names.
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")


def partition_key_for(file_name: str) -> str:
    """The partition key of a dropped file.

    A plain name (letters, digits, ``.``, ``_``, ``-``) is its own key, so
    ``sales.csv`` is partition ``sales.csv``. Any other name is reduced to
    its safe characters plus a short hash of the full name, so two names
    never share a key and the key is the same every time; the original name
    is kept in run tags and metadata.
    """
    if _SAFE_KEY.fullmatch(file_name) and "..." not in file_name:
        return file_name
    stem = _UNSAFE_RUN.sub("_", file_name).replace("...", "_").strip("._-")[:80] or "file"
    digest = hashlib.sha256(file_name.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{stem}-{digest}"
