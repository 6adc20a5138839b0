"""The collector pause around `datatasker process`'s start-up: it always resumes, and leaves start-up objects frozen."""

import gc

import pytest

from datatasker_pipeline.cli.collector import skip_collection_at_exit, start_up_without_collection


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


def test_freezing_before_exit_leaves_nothing_for_a_full_collection_to_walk():
    gc.unfreeze()
    kept = [[i] for i in range(1_000)]
    skip_collection_at_exit()
    assert gc.get_freeze_count() >= len(kept)
