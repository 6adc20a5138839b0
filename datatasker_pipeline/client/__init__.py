"""Talking to a running DataTasker deployment over the Dagster webserver's GraphQL API.

Everything goes through ``POST <url>/graphql`` with plain ``requests``. The
run ID is the key of a submitted file: ``submit`` prints it, ``status`` and
``results`` take it.

* :mod:`.documents` -- the GraphQL queries and mutations;
* :mod:`.answers` -- GraphQL answers turned into plain values;
* :mod:`.text` -- what the commands print;
* :mod:`.http` -- :class:`DataTaskerClient`, the calls themselves;
* :mod:`.errors` -- one exception per exit status.

Importing the package stays light (standard library only): ``requests`` is
imported when a client is made.
"""

from .answers import (
    current_step,
    failure_message,
    format_time,
    materializations_by_asset,
    metadata_value,
    read_summary_csv,
    result_paths,
    run_summary,
    steps_done,
    strip_class_path,
    summary_rows,
    tags_dict,
)
from .errors import (
    ClientError,
    RunFailed,
    RunInProgress,
    RunNotFound,
    StoreRefused,
    StoreUnavailable,
    UsageProblem,
    WaitTimedOut,
    WebserverUnavailable,
)
from .http import DataTaskerClient, JobLocation, resolve_url, run_config_for
from .text import (
    display_width,
    format_cell,
    format_duration,
    format_status,
    format_table,
    progress_bar,
    progress_line,
)

__all__ = [
    "ClientError",
    "DataTaskerClient",
    "JobLocation",
    "RunFailed",
    "RunInProgress",
    "RunNotFound",
    "StoreRefused",
    "StoreUnavailable",
    "UsageProblem",
    "WaitTimedOut",
    "WebserverUnavailable",
    "current_step",
    "display_width",
    "failure_message",
    "format_cell",
    "format_duration",
    "format_status",
    "format_table",
    "format_time",
    "materializations_by_asset",
    "metadata_value",
    "progress_bar",
    "progress_line",
    "read_summary_csv",
    "resolve_url",
    "result_paths",
    "run_config_for",
    "run_summary",
    "steps_done",
    "strip_class_path",
    "summary_rows",
    "tags_dict",
]
