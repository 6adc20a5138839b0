"""Real DataTasker processes for tests and benchmarks: a Dagster stack over temporary folders.

Shared by ``datatasker_tests`` and ``benchmarks`` (neither imports the other):
``stack`` starts the webserver and daemon over a temporary SQLite instance,
``postgres`` a temporary PostgreSQL database, ``deployment`` the production
processes over it, ``services`` a RabbitMQ vhost and broker restarts, and
``workers`` the Celery deployment (with ``datatasker worker`` processes).
Not imported by the pipeline itself.
"""
