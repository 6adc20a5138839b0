"""The data root: where files are dropped, copied and written, as a Dagster resource."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from ..collector import skip_collection_at_exit
from ..locations import default_data_dir, default_max_file_bytes
from ..processing.intake import file_for_partition
from ..processing.reading import ReadLimits
from ..processing.store import is_remote, location
from ..vocabulary import (
    DATA_DIR_ENV,
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_FIELD_CHARS,
    DUPLICATES_DIR,
    FAILED_DIR,
    INCOMING_DIR,
    MANIFESTS_DIR,
    OUTPUTS_DIR,
    RAW_DIR,
    WORK_DIR_ENV,
)

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


class DataRoot(dg.ConfigurableResource):
    """The folder (or object-store prefix) DataTasker works in.

    ``incoming/`` is watched for dropped files and holds only files waiting for
    a run; ``raw/<run_id>/`` keeps the exact bytes each run read (a run moves
    its file there); ``outputs/<run_id>/`` holds each run's results;
    ``duplicates/<run_id>/`` the same bytes dropped again after that run; and
    ``failed/<run_id>.json`` says why a file failed; ``manifests/<run_id>.json``
    is written last, once a run's four result files are all in place.
    Nothing is ever written outside this folder.

    ``s3://bucket/prefix`` puts all of it in an S3-compatible store (credentials
    from the standard AWS variables); runs then write their results in a
    local work folder and upload each file when it is complete.
    """

    path: str = Field(
        default="",
        description="Absolute path of the data root, or s3://bucket/prefix. Empty: $DATATASKER_DATA_DIR, else "
        "the project's data/ folder.",
    )
    endpoint_url: str = Field(
        default="",
        description="S3 endpoint for an s3:// data root (e.g. http://127.0.0.1:8333). Empty: $AWS_ENDPOINT_URL_S3, "
        "else AWS.",
    )
    work_dir: str = Field(
        default="",
        description="Local folder where runs on an s3:// data root write results before uploading them. "
        "Empty: $DATATASKER_WORK_DIR, else a datatasker-work folder in the system's temporary directory.",
    )
    max_file_bytes: int = Field(
        default=0,
        description="Largest file accepted, in bytes. 0: $DATATASKER_MAX_FILE_BYTES, else 2 GiB.",
    )
    max_columns: int = Field(default=DEFAULT_MAX_COLUMNS, description="Most fields the header may have.")
    max_field_chars: int = Field(default=DEFAULT_MAX_FIELD_CHARS, description="Longest cell accepted, in characters.")
    settle_seconds: float = Field(
        default=1.0,
        description="A dropped file is picked up once unmodified for this long, so half-copied files wait.",
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Every run initializes this resource. The run worker Dagster starts for a sensor's run
        # otherwise spent 0.4-0.8 s of CPU when it exited, walking its imports for garbage.
        skip_collection_at_exit()

    @property
    def root(self) -> Any:
        """A local :class:`Path`, or a store path for ``s3://`` (see ``processing.store``)."""
        configured = self.path or os.environ.get(DATA_DIR_ENV, "")
        return location(configured, self.endpoint_url) if configured else default_data_dir()

    @property
    def is_remote(self) -> bool:
        return is_remote(self.root)

    @property
    def incoming(self) -> Path:
        return self.root / INCOMING_DIR

    @property
    def failed(self) -> Path:
        return self.root / FAILED_DIR

    @property
    def limits(self) -> ReadLimits:
        return ReadLimits(
            max_file_bytes=self.max_file_bytes or default_max_file_bytes(),
            max_columns=self.max_columns,
            max_field_chars=self.max_field_chars,
        )

    def outputs_for(self, run_id: str) -> Path:
        return self._run_folder(OUTPUTS_DIR, run_id)

    def raw_for(self, run_id: str) -> Path:
        return self._run_folder(RAW_DIR, run_id)

    def duplicates_for(self, run_id: str) -> Path:
        return self._run_folder(DUPLICATES_DIR, run_id)

    def manifest_for(self, run_id: str) -> Any:
        """Where the run's completion marker goes: present means all four results are in place."""
        return self._run_folder(MANIFESTS_DIR, run_id).with_name(f"{run_id}.json")

    def work_dir_for(self, run_id: str) -> Path:
        """The local folder a run writes its results in: the outputs folder itself on a local root."""
        if not self.is_remote:
            return self.outputs_for(run_id)
        configured = self.work_dir or os.environ.get(WORK_DIR_ENV, "")
        base = Path(configured).expanduser() if configured else Path(tempfile.gettempdir()) / "datatasker-work"
        # One folder per store location, so two deployments sharing a machine never meet.
        where = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        self._run_folder(OUTPUTS_DIR, run_id)  # the same run id check
        return base.resolve() / where / run_id

    def _run_folder(self, kind: str, run_id: str) -> Any:
        """``<root>/<kind>/<run_id>``, refusing any run id that is not one plain folder name."""
        parent = self.root / kind
        if is_remote(parent):
            # No links in a store; keys are names: only plain run ids are allowed.
            if not _RUN_ID.fullmatch(run_id):
                raise ValueError(f"{run_id!r} is not a run id: only letters, digits, '-' and '_' may name a run folder")
            return parent / run_id
        if run_id in ("", ".", "..") or (parent / run_id).parent != parent:
            raise ValueError(f"{run_id!r} is not a run id: it would lead outside {parent} (outside the data root's run folders)")
        folder = self.inside(parent / run_id)
        if folder.parent != parent:
            raise ValueError(f"{parent / run_id} leads to {folder}, outside the data root's {kind} folder")
        return folder

    def incoming_file_for(self, partition_key: str) -> Path | None:
        """The dropped file a partition stands for, if it is still in ``incoming/``."""
        return file_for_partition(self.incoming, partition_key)

    def inside(self, path: Path) -> Path:
        """``path`` resolved, or ValueError when it (or a link on the way) leads outside the data root."""
        if is_remote(path):
            return path
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise ValueError(f"{path} lies outside the data root {self.root}")
        return resolved
