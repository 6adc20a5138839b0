"""DataTasker: a file-drop CSV sales pipeline on Dagster.

Layers, each importing only from the ones below it:

* ``cli`` -- the ``datatasker`` command (``client`` for the remote commands,
  ``defs`` for ``process`` and ``register``);
* ``definitions`` and ``defs`` -- the Dagster glue: assets, checks, sensors,
  schedules, jobs, partitions, resources, config;
* ``client`` -- the GraphQL client (standard library and requests only);
* ``processing`` -- the data logic as plain functions over files, pyarrow and
  pandas, with no Dagster in it;
* ``vocabulary`` and ``locations`` -- shared names and default places
  (standard library only).

Importing the package itself does nothing.
"""
