"""The configuration of ``edge run``: one validated tree, one module per table.

- ``base``: ``Strict``, the base of every table (``extra="forbid"``: a misspelt key is
  an error, never ignored);
- ``model`` (``[model]``, ``[decoder]``), ``sources`` (``[source]``), ``sinks``
  (``[[sinks]]``), ``processing`` (``[filters]``, ``[motion]``, ``[events]``),
  ``output`` (``[service]``, ``[output]``) and ``run`` (``RunConfig``, the whole tree);
- ``load``: TOML in, ``RunConfig`` out, errors that name the key, its line and the
  nearest allowed key (exit 78);
- ``paths``: relative paths resolved against the config file's folder;
- ``secrets``: the MQTT password from a file, the environment or a systemd credential;
- ``preflight``: the checks ``edge check-config`` adds to validation (files exist, the
  inference path builds).

Runtime objects take the values they use, never the tree (``edge.app`` wires them).
"""
