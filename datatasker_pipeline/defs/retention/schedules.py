"""Housekeeping on a timetable: the nightly retention purge."""

import dagster as dg

from .jobs import purge_old_results_job

nightly_retention = dg.ScheduleDefinition(
    job=purge_old_results_job,
    cron_schedule="17 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night at 03:17: results older than 30 days (configurable in the run config) are removed.",
)
