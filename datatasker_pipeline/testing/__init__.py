"""Real DataTasker processes for tests and benchmarks: a Dagster stack over temporary folders.

Shared by ``datatasker_tests`` and ``benchmarks`` (neither imports the other):
``stack`` starts the webserver and daemon over a temporary SQLite instance,
``postgres`` the production processes over a temporary PostgreSQL database.
Not imported by the pipeline itself.
"""
