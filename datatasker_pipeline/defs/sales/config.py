"""Run configuration: the options form shown in the Dagster launchpad."""

from __future__ import annotations

from typing import Any, Optional

import dagster as dg
from pydantic import Field


class SalesFileOptions(dg.PermissiveConfig):
    """Options for one dropped file (docs/data-contract.md, "Options").

    Every key set here overrides the same key of the file's sidecar
    ``<file>.csv.json``; keys left unset fall back to the sidecar, then to
    the defaults shown. Values are checked by the run itself, so a wrong one
    fails the run with a message naming it (unknown keys too).
    """

    anomaly_k: Optional[Any] = Field(
        default=None, description="A row is an anomaly above mean + k * std of revenue per unit. Number >= 0; default 2.0."
    )
    column_map: Optional[Any] = Field(
        default=None,
        description='Rename source columns before the required ones are found, e.g. {"Sales": "revenue"}. '
        "Keys match trimmed header names case-insensitively.",
    )
    fill_missing: Optional[Any] = Field(
        default=None, description='Constant for missing cells of a column, e.g. {"discount": 0}. String or number.'
    )
    drop_duplicates: Optional[Any] = Field(
        default=None, description="Reject repeats of an earlier clean row as 'duplicate'. Default false."
    )
    delimiter: Optional[Any] = Field(default=None, description='One character; default ",".')
    encoding: Optional[Any] = Field(default=None, description='Any codec name Python knows; default "utf-8".')

    def given(self) -> dict[str, Any]:
        """The options actually set for this run, unknown keys included."""
        values = self.model_dump()
        return {key: value for key, value in values.items() if value is not None}
