"""One ``edge run`` with the service parts around it: signals, systemd notify, reload.

Outside systemd (no ``$NOTIFY_SOCKET``) the notifications are no-ops and this is a plain
run that stops cleanly on Ctrl-C/SIGTERM and reloads its model on SIGHUP.
"""

from __future__ import annotations

from collections.abc import Callable

from edge import app
from edge.config.run import RunConfig
from edge.pipeline.loop import Pipeline, StatusCallback
from edge.pipeline.stats import RunStats
from edge.service.notify import Notifier, watchdog_interval
from edge.service.reload import Reloader
from edge.service.signals import handle_signals
from edge.service.supervisor import ServiceSupervisor


def run_service(
    config: RunConfig, read_config: Callable[[], RunConfig], status: StatusCallback | None = None
) -> RunStats:
    """Run until the source ends, ``max_frames`` or a stop signal; ``read_config`` gives
    the config again (file + flags) when SIGHUP asks for a reload."""
    notifier = Notifier.from_environment()
    supervisor = ServiceSupervisor(
        notifier,
        watchdog_interval=watchdog_interval(),
        window=config.service.watchdog_window,
        status_every=config.service.status_every,
    )
    reloader = Reloader(config, read_config)

    def on_start(pipeline: Pipeline) -> None:
        reloader.attach(pipeline)
        supervisor.ready(pipeline)

    try:
        with handle_signals(on_stop=supervisor.stopping, on_reload=reloader.request) as stop:
            return app.run(
                config,
                stop=stop,
                status=status,
                tick_hooks=[reloader, supervisor],
                on_start=on_start,
            )
    finally:
        supervisor.stopping()
        reloader.close()
        notifier.close()
