"""The retention job and its schedule, run through Dagster."""

from __future__ import annotations

import dagster as dg

from datatasker_pipeline.defs.resources import DataRoot
from datatasker_pipeline.defs.retention.jobs import purge_old_results_job
from datatasker_pipeline.defs.retention.schedules import nightly_retention
from datatasker_tests.harness.run_folders import make_run_folders


def test_the_retention_job_removes_old_results_and_optionally_runs(tmp_path):
    with dg.instance_for_test() as instance:
        make_run_folders(tmp_path, "not-a-run", 60)
        make_run_folders(tmp_path, "fresh", 1)
        result = purge_old_results_job.execute_in_process(
            instance=instance,
            resources={"data_root": DataRoot(path=str(tmp_path))},
            run_config={"ops": {"purge_old_results": {"config": {"max_age_days": 30, "delete_runs": True}}}},
        )
        assert result.success
        assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["fresh"]
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
        assert any("2 folder(s) and record(s) of 1 run(s) removed" in m for m in messages)


def test_schedule_runs_nightly_by_default():
    assert nightly_retention.cron_schedule == "17 3 * * *"
    assert nightly_retention.default_status == dg.DefaultScheduleStatus.RUNNING
