"""SIGHUP: re-read the config and the model, validate the new model, then swap it in.

What reloads live, and what needs a restart:

- reloaded: ``[model]`` (path, threads, runtime, task, labels, input), ``[decoder]``
  (name and settings) and ``[filters]``; the model file is read again even when its
  path did not change;
- applied with the new model: ``device``, ``status_interval``;
- needs a restart (logged as such, the running values stay): ``[source]``,
  ``[[sinks]]``, ``max_frames``, ``[service]``, ``[motion]``, ``[events]``
  (``systemctl restart edge``).

Flags given on the command line still override the file, as at start.

The new model is loaded and checked on a worker thread while the old one keeps
running: load it, then run one inference on a blank frame of the model's input size.
Only a model that passed is handed to the loop thread, which swaps it in between two
frames (``Pipeline.swap_model``), so records switch from one model to the other with
no gap and every record names the model that produced it. A config that does not
validate, a model that does not load or fails its test inference is refused: the
refusal is logged with the reason and the old model keeps running.

Who closes a reloaded model (``LoadedModel.close``, once): the reloader, from the load
until it hands the model to the pipeline (a refused model at once, one that never
reached the loop in ``close``, or by the worker itself when it finishes after
``close``); from the hand-over the pipeline (``Pipeline.swap_model``), which closes
it once its last frame is through or the run ends. The model it replaces, the start
one included, is the pipeline's already, so a Pi does not hold two models for long.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from edge.config.run import RunConfig
from edge.decoders.params import model_score_threshold
from edge.errors import EdgeError
from edge.model.load import LoadedModel
from edge.pipeline.inference import Inference, open_inference
from edge.pipeline.loop import Pipeline
from edge.pipeline.stats import RunStats
from edge.types import Frame

log = logging.getLogger("edge")

RESTART_KEYS = ("source", "sinks", "max_frames", "service", "motion", "events", "output")


@dataclasses.dataclass
class _Candidate:
    config: RunConfig
    model: LoadedModel
    inference: Inference
    load_seconds: float


class Reloader:
    """The loop's reload hook. ``request()`` is safe to call from a signal handler.

    Owns each model it loads until the pipeline takes it (see the module docstring)."""

    def __init__(self, running: RunConfig, read_config: Callable[[], RunConfig]) -> None:
        self.running = running
        self._read_config = read_config
        self._requested = threading.Event()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._candidate: _Candidate | None = None
        self._pipeline: Pipeline | None = None
        self._closed = False  # under _lock: a worker finishing later closes its own model
        self.reloads = 0
        self.refusals = 0

    def attach(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def request(self) -> None:
        self._requested.set()

    def __call__(self, stats: RunStats) -> None:
        """Tick hook (loop thread): start a check when asked, swap a model that passed."""
        del stats
        if self._requested.is_set() and (self._worker is None or not self._worker.is_alive()):
            self._requested.clear()
            self._worker = threading.Thread(target=self._prepare, name="reload", daemon=True)
            self._worker.start()
        with self._lock:
            candidate, self._candidate = self._candidate, None
        if candidate is not None:
            self._swap(candidate)

    def close(self) -> None:
        """Wait for a check under way, then close a model that never reached the loop
        (the models that did are the pipeline's). A check still under way after the
        wait closes its model itself when it ends."""
        if self._worker is not None:
            self._worker.join(timeout=5)  # a daemon thread: a stuck load does not hold the exit
        with self._lock:
            self._closed = True
            leftover, self._candidate = self._candidate, None
        if leftover is not None:
            leftover.model.close()

    def _prepare(self) -> None:
        """Worker thread: read and validate; hand a good model to the loop thread."""
        log.info("reload: re-reading the config and the model")
        try:
            config = self._read_config()
        except EdgeError as exc:
            self._refuse(f"the config is not valid: {exc}")
            return
        changed = [
            key for key in RESTART_KEYS if getattr(config, key) != getattr(self.running, key)
        ]
        if changed:
            log.warning(
                "reload: %s changed: needs a restart (systemctl restart edge); "
                "not applied, the running values stay",
                ", ".join(changed),
            )
        started = time.monotonic()
        kept = {key: getattr(self.running, key) for key in RESTART_KEYS}
        # The running [events] (and every restart-only key) stay, so the new model is
        # checked against them and the loop keeps them.
        config = config.model_copy(update=kept)
        try:
            model, inference = open_inference(config)  # closes the model if it fails
        except Exception as exc:  # EdgeError, or any failure to build the new model
            self._refuse(str(exc))
            return
        try:
            inference(blank_frame(model))
            self._warn_if_the_source_was_set_up_for_another_input(model)
        except Exception as exc:  # any failure of the new model is a refusal
            model.close()
            self._refuse(f"{model.file.path} failed its test inference: {exc}")
            return
        except BaseException:
            model.close()
            raise
        candidate = _Candidate(config, model, inference, time.monotonic() - started)
        with self._lock:
            if self._closed:  # the run ended while this model was checked
                unwanted: _Candidate | None = candidate
            else:  # an earlier one not taken yet (the loop takes each at its next turn)
                unwanted, self._candidate = self._candidate, candidate
        if unwanted is not None:
            unwanted.model.close()

    def _warn_if_the_source_was_set_up_for_another_input(self, model: LoadedModel) -> None:
        """The source was opened for the start model's input (the Pi camera's lores size,
        the MJPEG decode size, grey decoding); that stays until a restart."""
        pipeline = self._pipeline
        if pipeline is None:
            return
        before, after = pipeline.inference.input_spec, model.manifest.input
        if (before.width, before.height, before.colour) != (
            after.width,
            after.height,
            after.colour,
        ):
            log.warning(
                "reload: the new model takes %dx%d %s and the source was set up for "
                "%dx%d %s (decode size, colour): restart (systemctl restart edge) "
                "for the source to match it",
                after.width,
                after.height,
                after.colour,
                before.width,
                before.height,
                before.colour,
            )

    def _refuse(self, reason: str) -> None:
        self.refusals += 1
        log.error("reload refused, the old model keeps running: %s", reason)

    def _swap(self, candidate: _Candidate) -> None:
        pipeline = self._pipeline
        if pipeline is None:  # nothing to run it: still ours
            candidate.model.close()
            return
        model, config = candidate.model, candidate.config
        context = dataclasses.replace(
            pipeline.context,
            device=config.device,
            model_name=model.manifest.name,
            model_sha256=model.file.sha256,
            task=model.manifest.task,
        )
        if pipeline.control is not None:
            # The threshold in effect with no command is the new model's, set before the
            # swap: the MQTT sink republishes the state when a record names the new model.
            manifest = model.manifest
            pipeline.control.set_model_threshold(
                model_score_threshold(manifest.task, manifest.decoder.params)
            )
        # From here the model is the pipeline's: it closes it after its last frame (the
        # next reload's swap) or when the run ends. The model that ran until now is
        # closed by the pipeline as soon as its last frame is through.
        pipeline.swap_model(
            candidate.inference, context, model.manifest.labels, release=model.close
        )
        pipeline.status_interval = config.status_interval
        self.running = config
        self.reloads += 1
        log.info(
            "reload: now running %s (%s, sha256 %s…), loaded and checked in %.2f s",
            model.manifest.name,
            model.file.path,
            model.file.sha256[:12],
            candidate.load_seconds,
        )


def blank_frame(model: LoadedModel) -> Frame:
    """A black frame of the model's input size: the reload's test inference."""
    shape = model.backend.inputs[0].shape
    height, width = (int(shape[1]), int(shape[2])) if len(shape) == 4 else (64, 64)
    image = np.zeros((max(height, 1), max(width, 1), 3), np.uint8)
    return Frame(image, 0, time.time(), "reload-check")
