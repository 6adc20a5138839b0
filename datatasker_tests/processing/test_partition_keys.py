"""File names to partition keys: safe, stable, distinct."""

from __future__ import annotations

import re

import pytest

from datatasker_pipeline.processing.intake import partition_key_for

SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@pytest.mark.parametrize("name", ["sales.csv", "2026-11_sales.CSV", "a..b.csv", "x_y-z.csv"])
def test_plain_names_are_their_own_key(name):
    assert partition_key_for(name) == name


@pytest.mark.parametrize(
    "name",
    ["my sales.csv", "ventes été.csv", "東京.csv", "a...b.csv", "line\nbreak.csv", "tab\t.csv", "../up.csv",
     ".hidden.csv", "-dash.csv", "x" * 300 + ".csv", "semi;colon.csv", "\udcff.csv"],
)
def test_other_names_map_to_safe_distinct_stable_keys(name):
    key = partition_key_for(name)
    assert SAFE.fullmatch(key) and "..." not in key and len(key) <= 100
    assert key == partition_key_for(name)
    assert key != partition_key_for(name + "x")


def test_names_differing_only_in_unsafe_characters_do_not_collide():
    assert partition_key_for("a b.csv") != partition_key_for("a_b.csv") != partition_key_for("a-b.csv")
    assert partition_key_for("a b.csv") != partition_key_for("a\tb.csv")
