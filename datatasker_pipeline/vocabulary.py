"""Every name DataTasker's parts share, defined once (standard library only).

The Dagster definitions, the data logic, the ``datatasker`` command and the
GraphQL client all import their names from here: run tags, job, partition
and asset names, the data root's folders, output file names, column sets,
rejection reasons, option keys, environment variables and exit statuses.
Importing this module costs nothing, so the light client can use it too.
"""

from __future__ import annotations

# --- Dagster objects -------------------------------------------------------

CODE_LOCATION = "datatasker"
JOB_NAME = "process_sales_file"
PARTITIONS_DEF_NAME = "sales_files"
ASSET_GROUP = "sales"
RAW_ASSET = "raw_csv"
CLEANED_ASSET = "cleaned_sales"
SUMMARY_ASSET = "region_summary"
ANOMALY_ASSET = "anomaly_report"
# The job's steps in execution order (one step per asset, in-process executor).
STEP_KEYS = (RAW_ASSET, CLEANED_ASSET, SUMMARY_ASSET, ANOMALY_ASSET)
# The per-file options are the config of this asset's op (launchpad, GraphQL run config).
OPTIONS_OP = CLEANED_ASSET
FILE_SENSOR = "incoming_csv_sensor"
FAILURE_SENSOR = "failed_file_sensor"

# --- Run tags ----------------------------------------------------------------

PARTITION_TAG = "dagster/partition"  # Dagster's own: the partition a run is for
PARENT_RUN_TAG = "dagster/parent_run_id"  # Dagster's own, on a re-execution
FILE_NAME_TAG = "datatasker/file_name"  # the dropped file's original name
# Content fingerprint of the file and its sidecar: the durable record that
# these bytes (with these options) have been handled.
FINGERPRINT_TAG = "datatasker/fingerprint"
# SHA-256 of the file's bytes as whoever launched the run read them; raw_csv
# warns when the bytes it takes differ.
SHA256_TAG = "datatasker/sha256"
# In an object-store data root: the ETag of the object the run was requested for
# (the run copies exactly that version; the sensor cannot hash what it does not read).
ETAG_TAG = "datatasker/etag"
# The file's size in bytes when the run was launched.
SIZE_TAG = "datatasker/size_bytes"
# Who launched the run: the sensor, `datatasker process`, `datatasker submit --remote`.
ORIGIN_TAG = "datatasker/origin"
ORIGIN_SENSOR = "sensor"
ORIGIN_PROCESS = "process"
ORIGIN_SUBMIT = "submit"

# --- The data root -------------------------------------------------------------

INCOMING_DIR = "incoming"  # files are dropped here; an inbox: only files waiting for a run
RAW_DIR = "raw"  # raw/<run_id>/: the exact bytes a run read; processed files live here
DUPLICATES_DIR = "duplicates"  # duplicates/<run_id>/: the same bytes dropped again after that run
OUTPUTS_DIR = "outputs"  # outputs/<run_id>/: a run's results
FAILED_DIR = "failed"  # failed/<run_id>.json: why a file failed
# manifests/<run_id>.json: written last, once all four result files are in place. Readers
# trust a run's outputs only when it is there (an object store has no atomic folder rename).
MANIFESTS_DIR = "manifests"
RUN_FOLDER_KINDS = (RAW_DIR, OUTPUTS_DIR, DUPLICATES_DIR)
SIDECAR_SUFFIX = ".json"  # <file>.csv.json holds the file's options
CSV_SUFFIX = ".csv"
# Atomic-drop convention: write under one of these (or a hidden name), then rename.
IN_PROGRESS_SUFFIXES = (".part", ".tmp")

# --- Output files -------------------------------------------------------------

REGION_SUMMARY_FILE = "region_summary.csv"
ANOMALIES_FILE = "anomalies.csv"
REJECTED_ROWS_FILE = "rejected_rows.csv"
CLEANED_FILE = "cleaned.parquet"
# Rows that may be anomalies, set aside by the cleaner for the anomaly report, which deletes it.
# A temporary like the others (hidden, ".partial"): a run killed between the steps leaves only such names.
ANOMALY_CANDIDATES_FILE = ".anomaly_candidates.parquet.partial"
# Beside it, what the report needs to use it (statistics, each chunk's bound); deleted with it.
ANOMALY_BASIS_FILE = ".anomaly_basis.json.partial"
# The cleaner's per-region totals, for the region summary, which deletes them.
REGION_TOTALS_FILE = ".region_totals.parquet.partial"
# Metadata labels under which the assets record each output's path.
REGION_SUMMARY_LABEL = "region_summary_csv"
ANOMALIES_LABEL = "anomalies_csv"
REJECTED_ROWS_LABEL = "rejected_rows_csv"
CLEANED_LABEL = "cleaned_parquet"
# Recorded by the step that completed the run's results: where its manifest is.
MANIFEST_LABEL = "results_manifest"
# The names `datatasker process --json` and `datatasker results` give the outputs,
# with the file and the (asset, metadata label) each path is recorded under.
RESULT_FILES = {
    "region_summary": (REGION_SUMMARY_FILE, SUMMARY_ASSET, REGION_SUMMARY_LABEL),
    "anomalies": (ANOMALIES_FILE, ANOMALY_ASSET, ANOMALIES_LABEL),
    "rejected_rows": (REJECTED_ROWS_FILE, CLEANED_ASSET, REJECTED_ROWS_LABEL),
    "cleaned": (CLEANED_FILE, CLEANED_ASSET, CLEANED_LABEL),
}
OUTPUT_FILE_NAMES = (REGION_SUMMARY_FILE, ANOMALIES_FILE, REJECTED_ROWS_FILE, CLEANED_FILE)

# --- Columns -------------------------------------------------------------------

REQUIRED_COLUMNS = ("region", "revenue", "quantity", "discount")  # rule 4 order
NUMERIC_COLUMNS = ("revenue", "quantity", "discount")  # rules 5 and 7 order
SOURCE_ROW = "source_row"
REVENUE_PER_UNIT = "revenue_per_unit"
# The columns of cleaned.parquet that CleanSalesRows checks (carried columns sit between the required ones
# and revenue_per_unit, unchecked): validated, and bounded by row-group statistics.
CLEANED_MODEL_COLUMNS = (SOURCE_ROW, *REQUIRED_COLUMNS, REVENUE_PER_UNIT)
Z_SCORE = "z_score"
THRESHOLD = "threshold"
# Columns the outputs add beside the file's own: a carried column may not be named so.
ADDED_COLUMNS = (SOURCE_ROW, REVENUE_PER_UNIT, Z_SCORE, THRESHOLD)
ANOMALY_EXTRA_COLUMNS = (REVENUE_PER_UNIT, Z_SCORE, THRESHOLD)
SUMMARY_COLUMNS = ("region", "row_count", "revenue_sum", "revenue_mean", "quantity_sum", "discount_mean")
REJECTED_COLUMNS = (SOURCE_ROW, "reason", "column", "value")

# --- Rejection reasons, in the order the rules are applied ----------------------

FIELD_COUNT = "field_count"
MISSING_VALUE = "missing_value"
NOT_A_NUMBER = "not_a_number"
ZERO_QUANTITY = "zero_quantity"
OUT_OF_RANGE = "out_of_range"
DUPLICATE = "duplicate"
# Rules 4-7: a record failing several is rejected for the first of these.
CELL_RULE_ORDER = (MISSING_VALUE, NOT_A_NUMBER, ZERO_QUANTITY, OUT_OF_RANGE)
REJECTION_REASONS = (FIELD_COUNT, *CELL_RULE_ORDER, DUPLICATE)

# --- Options -------------------------------------------------------------------

OPTION_KEYS = ("anomaly_k", "column_map", "fill_missing", "drop_duplicates", "delimiter", "encoding")
DEFAULT_ANOMALY_K = 2.0

# --- Limits (defaults of the data_root resource) ---------------------------------

DEFAULT_MAX_FILE_BYTES = 2 * 1024**3
DEFAULT_MAX_COLUMNS = 10_000
DEFAULT_MAX_FIELD_CHARS = 16 * 1024**2

# --- Environment -----------------------------------------------------------------

DAGSTER_HOME_ENV = "DAGSTER_HOME"
DATA_DIR_ENV = "DATATASKER_DATA_DIR"
# Local folder where runs on an object-store data root write results before uploading them.
WORK_DIR_ENV = "DATATASKER_WORK_DIR"
MAX_FILE_BYTES_ENV = "DATATASKER_MAX_FILE_BYTES"
URL_ENV = "DATATASKER_URL"
DEFAULT_URL = "http://127.0.0.1:3000"

# --- Exit statuses of the datatasker command ----------------------------------------

EXIT_OK = 0
EXIT_FAILED = 1  # the file (or the run) failed
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3  # the webserver does not answer
EXIT_NOT_FOUND = 4  # no such run, or not in time
EXIT_IN_PROGRESS = 5  # the run is still going

# --- Run statuses, as Dagster names them ---------------------------------------------

FINISHED_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
FAILED_STATUSES = frozenset({"FAILURE", "CANCELED"})

# --- Celery run workers (deploy/celery/dagster.yaml, `datatasker worker`) ---------------

CELERY_BROKER_URL_ENV = "DATATASKER_CELERY_BROKER_URL"  # e.g. pyamqp://guest:guest@rabbitmq:5672//
CELERY_BACKEND_URL_ENV = "DATATASKER_CELERY_BACKEND_URL"  # a redis:// URL: task states, heartbeats, claims
# dagster-celery's app declares this one queue (with priorities); runs go there.
CELERY_QUEUE = "dagster"
# Worker node names are <prefix>-<n>@<host>: one name per host and worker process.
CELERY_WORKER_PREFIX = "datatasker"
# Redis keys written by the task running a run: "this run is alive on worker W" (short TTL)
# and "worker W took this run" (set once: a redelivered message never runs it twice).
RUN_HEARTBEAT_KEY_PREFIX = "datatasker:run-heartbeat:"
RUN_CLAIM_KEY_PREFIX = "datatasker:run-claim:"
# Written by the launcher's terminate: "this run was asked to stop" (the worker's heartbeat reads it).
RUN_TERMINATE_KEY_PREFIX = "datatasker:run-terminate:"
