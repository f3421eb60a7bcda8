"""Task-aware evaluation: one module per task, each implementing ``tasks.base.Task``.

``converter.convert`` looks a task up in ``TASKS`` (filled by ``tasks.registry``) and
never branches on the task name itself.
"""
