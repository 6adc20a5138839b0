"""The collector around a run's process: paused during start-up (always resumed, start-up objects frozen), nothing to walk at exit."""

import gc
import subprocess
import sys
import textwrap

import pytest

from datatasker_pipeline.collector import start_up_without_collection


@pytest.fixture(autouse=True)
def _unfreeze_after():
    yield
    gc.unfreeze()  # the test process goes on: give its objects back to the collector
    gc.enable()


def test_collection_is_off_during_start_up_and_back_on_after():
    with start_up_without_collection():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_objects_made_during_start_up_are_frozen():
    gc.unfreeze()
    with start_up_without_collection():
        long_lived = [{"module": i} for i in range(1_000)]
    assert gc.get_freeze_count() >= len(long_lived)


def test_collection_resumes_when_start_up_fails():
    with pytest.raises(ImportError), start_up_without_collection():
        raise ImportError("no module named dagster")
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    with start_up_without_collection():
        pass
    assert not gc.isenabled()


def frozen_at_exit(body: str) -> list[str]:
    """Run ``body`` in a fresh interpreter; it prints, then says whether anything was frozen at exit."""
    script = textwrap.dedent(
        """
        import atexit, gc
        atexit.register(lambda: print("at exit:", gc.get_freeze_count() > 0))  # registered first, so it runs last
        """
    ) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")[:-1]


def test_the_exit_collection_is_skipped_once_asked_and_nothing_is_frozen_before():
    assert frozen_at_exit(
        """
        from datatasker_pipeline.collector import skip_collection_at_exit
        skip_collection_at_exit(); skip_collection_at_exit()
        kept = [[i] for i in range(1_000)]
        print("while running:", gc.get_freeze_count() > 0)
        """
    ) == ["while running: False", "at exit: True"]


def test_without_asking_the_exit_collection_walks_everything():
    assert frozen_at_exit("import datatasker_pipeline.collector") == ["at exit: False"]


def test_every_run_asks_when_it_sets_up_the_data_root(tmp_path):
    """Sensor runs execute in a run worker process Dagster starts: the resource is where a run begins there."""
    assert frozen_at_exit(
        f"""
        import dagster as dg
        from datatasker_pipeline.defs.resources import DataRoot
        with dg.build_resources({{"data_root": DataRoot(path={str(tmp_path)!r})}}):
            print("while running:", gc.get_freeze_count() > 0)
        """
    ) == ["while running: False", "at exit: True"]
