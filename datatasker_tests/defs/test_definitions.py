"""The one Definitions: what it holds is named as the vocabulary names it."""

from __future__ import annotations

import dagster as dg

from datatasker_pipeline.definitions import defs
from datatasker_pipeline.defs.sales.assets import sales_assets
from datatasker_pipeline.vocabulary import FAILURE_SENSOR, FILE_SENSOR, JOB_NAME, PARTITIONS_DEF_NAME, STEP_KEYS


def test_the_assets_are_the_steps_the_clients_follow_in_order():
    assert [asset.key.to_user_string() for asset in sales_assets] == list(STEP_KEYS)


def test_the_job_runs_in_one_process_and_every_asset_is_partitioned_by_file():
    job = defs.resolve_job_def(JOB_NAME)
    assert job.executor_def.name == dg.in_process_executor.name
    assert {asset.partitions_def.name for asset in sales_assets} == {PARTITIONS_DEF_NAME}


def test_the_sensors_and_the_schedule_are_on_by_default():
    sensors = {sensor.name: sensor for sensor in defs.sensors}
    assert set(sensors) == {FILE_SENSOR, FAILURE_SENSOR}
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in sensors.values())
    [schedule] = defs.schedules
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
