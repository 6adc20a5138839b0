"""``datatasker submit FILE`` when the deployment's data root is an object store (``s3://bucket/prefix``).

The sensor lists ``<root>/incoming/`` and launches one run per new object,
tagged with its ETag (``datatasker/etag``) and the fingerprint of its ETag and
its sidecar's. An object appears whole when its upload completes, so there is
no hidden name to rename from; the sidecar goes up before the CSV, so the
sensor never lists the CSV without its options. Then the run is found by
those tags over GraphQL, as in the local mode.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..processing.intake import fingerprint_from_etags, partition_key_for
from ..vocabulary import ETAG_TAG, FINGERPRINT_TAG, INCOMING_DIR, PARTITION_TAG, SIDECAR_SUFFIX
from .store_root import check_root, checksums_of, remove_if_present, upload_bytes, upload_checked


def submit_to_store(client, source: Path, sidecar_text: str | None, root: Any, timeout: float) -> tuple[str, bool]:
    """Upload FILE (and its sidecar) into the store's ``incoming/``, unless these bytes ran before; find the run.

    Returns the run ID and whether it is an earlier run of the same bytes
    with the same options (then nothing is uploaded).
    """
    check_root(root)  # credentials, bucket, endpoint: before anything is uploaded
    incoming = root / INCOMING_DIR
    target = incoming / source.name
    sidecar_target = incoming / (source.name + SIDECAR_SUFFIX)
    sidecar_bytes = sidecar_text.encode("utf-8") if sidecar_text is not None else None

    # The ETags the store will give these bytes, known before uploading: a run of them is found without
    # sending a byte. (A store that computes ETags otherwise, e.g. with KMS encryption, is asked again below.)
    sums = checksums_of(source)
    sidecar_etag = hashlib.md5(sidecar_bytes).hexdigest() if sidecar_bytes is not None else ""
    key = partition_key_for(source.name)
    earlier = _run_of(client, key, sums.expected_etag, sidecar_etag)
    if earlier is not None:
        return earlier, True

    if sidecar_bytes is not None:
        sidecar_etag = upload_bytes(sidecar_bytes, sidecar_target)
    else:
        remove_if_present(sidecar_target)  # a stale sidecar would change the options
    etag = upload_checked(source, target, sums)
    if etag != sums.expected_etag:
        earlier = _run_of(client, key, etag, sidecar_etag)
        if earlier is not None:
            return earlier, True

    run = client.wait_for_run_with_tags(_tags(key, etag, sidecar_etag), timeout=timeout)
    return run["runId"], False


def _tags(partition_key: str, etag: str, sidecar_etag: str) -> dict[str, str]:
    """The tags the sensor gives the run of this object (see ``defs/sales/sensors.py``)."""
    return {
        FINGERPRINT_TAG: fingerprint_from_etags(etag, sidecar_etag),
        PARTITION_TAG: partition_key,
        ETAG_TAG: etag,
    }


def _run_of(client, partition_key: str, etag: str, sidecar_etag: str) -> str | None:
    runs = client.runs_with_tags(_tags(partition_key, etag, sidecar_etag), limit=1)
    return runs[0]["runId"] if runs else None
