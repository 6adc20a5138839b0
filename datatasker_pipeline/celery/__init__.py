"""Runs on warm Celery workers: the run launcher (instance config) and the worker it feeds.

* :mod:`.launcher` -- ``WarmCeleryRunLauncher``, dagster-celery's ``CeleryRunLauncher``
  with its gaps closed: a dead worker fails its run, a broker outage puts the
  run back in the queue, a STARTING run can be cancelled;
* :mod:`.worker` -- the Celery app a ``datatasker worker`` process serves, with the
  pipeline imported before the first run;
* :mod:`.liveness` -- the Redis heartbeat and claim of a run (no Dagster);
* :mod:`.dagster_internals` -- the only private Dagster names the launcher needs.

Not a Dagster definition: the launcher is named in ``dagster.yaml``
(``deploy/celery/dagster.yaml``), the worker is started by ``datatasker worker``.
"""
