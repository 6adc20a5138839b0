"""The data logic: plain functions over files, pyarrow and pandas (no Dagster here).

``pipeline`` sequences the stages; ``reading`` turns bytes into records,
``rules`` and ``schema`` hold the validation rules, ``cleaning`` splits
records into clean and rejected rows, ``summary`` and ``anomalies`` write
their reports, ``outputs`` formats and places result files, ``intake`` finds
and copies dropped files, ``retention`` deletes old results.
"""
