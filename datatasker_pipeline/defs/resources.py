"""The data root: where files are dropped, copied and written, as a Dagster resource."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from ..locations import default_data_dir, default_max_file_bytes
from ..processing.intake import file_for_partition
from ..processing.reading import ReadLimits
from ..vocabulary import (
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_FIELD_CHARS,
    DUPLICATES_DIR,
    FAILED_DIR,
    INCOMING_DIR,
    OUTPUTS_DIR,
    RAW_DIR,
)


class DataRoot(dg.ConfigurableResource):
    """The folder DataTasker works in.

    ``incoming/`` is watched for dropped files and holds only files waiting for
    a run; ``raw/<run_id>/`` keeps the exact bytes each run read (a run moves
    its file there); ``outputs/<run_id>/`` holds each run's results;
    ``duplicates/<run_id>/`` the same bytes dropped again after that run; and
    ``failed/<run_id>.json`` says why a file failed. Nothing is ever written
    outside this folder.
    """

    path: str = Field(
        default="",
        description="Absolute path of the data root. Empty: $DATATASKER_DATA_DIR, else the project's data/ folder.",
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

    @property
    def root(self) -> Path:
        return Path(self.path).resolve() if self.path else default_data_dir()

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

    def _run_folder(self, kind: str, run_id: str) -> Path:
        """``<root>/<kind>/<run_id>``, refusing any run id that is not one plain folder name."""
        parent = self.root / kind
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
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise ValueError(f"{path} lies outside the data root {self.root}")
        return resolved
