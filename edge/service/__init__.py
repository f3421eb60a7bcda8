"""Running ``edge run`` as a systemd service, and installing it as one.

- ``supervisor``: the loop's tick hook for systemd: READY=1, WATCHDOG=1 only while frames
  (or, during a reconnect, reopen attempts) are fresh, STATUS= with frames/s and state,
  STOPPING=1. The protocol itself is ``edge.service.notify`` (no dependency).
- ``reload``: SIGHUP re-reads the config and the model, validates the new model on a
  worker thread and swaps it in on the loop thread; a bad one is refused and logged.
- ``signals``: SIGINT/SIGTERM stop cleanly, SIGHUP asks for a reload.
- ``unit``, ``install``, ``command``: ``edge service print-unit | install | uninstall``
  and the templates they render (``templates/``; ``systemd/`` in the repository links
  to them).
"""
