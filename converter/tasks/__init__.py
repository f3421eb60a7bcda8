"""Task-aware evaluation: one module per task, each implementing ``tasks.base.Task``.

The converter (``converter.prepare``, ``converter.ladder_walk``, ``converter.convert``)
looks a task up in ``TASKS`` (filled by ``tasks.registry``) and never branches on the
task name itself.
"""
