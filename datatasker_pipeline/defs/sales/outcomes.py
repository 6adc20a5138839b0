"""Reading a finished run's outcome back from Dagster's event records."""

from __future__ import annotations

from typing import Iterable

import dagster as dg


def failure_message(events: Iterable[dg.DagsterEvent]) -> str | None:
    """The message a person should read for a failed run.

    A ``dg.Failure`` carries the person's message as its description; any
    other error is reported by its own message (the cause Dagster wrapped).
    """
    for event in events:
        if event.event_type != dg.DagsterEventType.STEP_FAILURE:
            continue
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            return data.user_failure_data.description
        error = data.error
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            return error.message.strip()
    return None


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    """Metadata of the asset's materialization in this run, as plain values."""
    for materialization in result.asset_materializations_for_node(asset):
        return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}
    return {}
