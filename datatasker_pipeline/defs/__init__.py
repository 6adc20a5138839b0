"""The Dagster glue, by domain (``sales``: the dropped files; ``retention``: housekeeping),
one module per Dagster object kind. ``datatasker_pipeline.definitions`` assembles them."""
