"""One dynamic partition per dropped file; ``processing.intake.partition_key_for`` names it."""

import dagster as dg

from ...vocabulary import PARTITIONS_DEF_NAME

sales_files = dg.DynamicPartitionsDefinition(name=PARTITIONS_DEF_NAME)
