"""A run's results count only once its manifest exists: written last, once, on a local root and in a store."""

from __future__ import annotations

import json
import os

import pytest

from datatasker_pipeline.processing.completion import publish_results, read_manifest, write_manifest_if_complete
from datatasker_pipeline.processing.store import location
from datatasker_pipeline.vocabulary import OUTPUT_FILE_NAMES


def write_results(folder, names=OUTPUT_FILE_NAMES):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(f"content of {name}\n".encode())


def test_no_manifest_until_all_four_files_are_there(tmp_path):
    outputs, manifest = tmp_path / "outputs" / "r1", tmp_path / "manifests" / "r1.json"
    write_results(outputs, OUTPUT_FILE_NAMES[:3])
    assert write_manifest_if_complete(outputs, manifest, "r1") is False
    assert read_manifest(manifest) is None
    write_results(outputs)
    assert write_manifest_if_complete(outputs, manifest, "r1") is True
    document = read_manifest(manifest)
    assert document["run_id"] == "r1" and set(document["files"]) == set(OUTPUT_FILE_NAMES)


def test_the_manifest_is_written_once(tmp_path):
    outputs, manifest = tmp_path / "outputs" / "r1", tmp_path / "manifests" / "r1.json"
    write_results(outputs)
    assert write_manifest_if_complete(outputs, manifest, "r1")
    first = manifest.read_bytes()
    (outputs / OUTPUT_FILE_NAMES[0]).write_bytes(b"changed afterwards\n")
    assert write_manifest_if_complete(outputs, manifest, "r1")
    assert manifest.read_bytes() == first
    assert [p.name for p in manifest.parent.iterdir()] == ["r1.json"]  # no temporary left behind


@pytest.mark.s3
def test_in_a_store_files_are_uploaded_and_the_manifest_comes_last(s3_env, tmp_path):
    root = location(s3_env.url(f"completion-{os.urandom(4).hex()}"))
    work, outputs, manifest = tmp_path / "work" / "r2", root / "outputs" / "r2", root / "manifests" / "r2.json"
    write_results(work)
    assert publish_results(work, outputs, manifest, "r2", OUTPUT_FILE_NAMES[:2]) is False
    assert not manifest.exists() and work.exists()
    assert publish_results(work, outputs, manifest, "r2", OUTPUT_FILE_NAMES[2:]) is True
    assert json.loads(manifest.read_bytes())["files"] == {n: len(f"content of {n}\n") for n in OUTPUT_FILE_NAMES}
    assert (outputs / OUTPUT_FILE_NAMES[0]).read_bytes() == f"content of {OUTPUT_FILE_NAMES[0]}\n".encode()
    assert not work.exists()  # the local work folder goes once the results are complete in the store
