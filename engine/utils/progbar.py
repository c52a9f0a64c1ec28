"""A Keras-style progress bar: ``12/47 ━━━━━╺━━━━━━━━━ 1s 4ms/step - loss: 0.31``.

With ``engine.config.disable_interactive_logging()`` the bar's final line of each
epoch, and every ``print_msg``, go to Python's ``logging`` (logger ``"engine"``,
level INFO) instead of stdout, as Keras's ``io_utils.print_msg`` sends them to its
logger.
"""

import logging
import sys
import time

from .. import config

_WIDTH = 20
logger = logging.getLogger("engine")


def print_msg(message: str, line_break: bool = True) -> None:
    """Print ``message`` to stdout, or log it when interactive logging is disabled."""
    if config.is_interactive_logging_enabled():
        sys.stdout.write(message + ("\n" if line_break else ""))
        sys.stdout.flush()
    else:
        logger.info(message)


def format_logs(logs: dict) -> str:
    return " - ".join(f"{name}: {value:.4f}" for name, value in logs.items())


def format_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def format_step_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    """Per-epoch progress: redraws in place on a terminal, one line per epoch elsewhere.

    ``verbose=1`` shows the bar with the remaining time (ETA) while running and
    the elapsed time at the end; ``verbose=2`` prints only the final line.
    """

    def __init__(self, target: int, verbose: int = 1, stream=None, interval: float = 0.05):
        self.target = target
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.interval = interval
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._dynamic = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._logs: dict = {}

    def due(self) -> bool:
        """Whether an update now draws a running line (the final one is always drawn)."""
        return (
            self.verbose == 1
            and self._dynamic
            and config.is_interactive_logging_enabled()
            and time.perf_counter() - self._last_draw >= self.interval
        )

    def update(self, current: int, logs: dict | None = None, finalize: bool = False) -> None:
        """Draw step ``current`` with ``logs`` (None: the last logs given) when due."""
        if logs is not None:
            self._logs = logs
        logs = self._logs
        now = time.perf_counter()
        if not finalize and (self.verbose != 1 or now - self._last_draw < self.interval):
            return
        self._last_draw = now
        elapsed = now - self.start
        per_step = elapsed / max(current, 1)
        if finalize:
            timing = f"{format_duration(elapsed)} {format_step_time(per_step)}"
        elif self.target:
            remaining = per_step * (self.target - current)
            timing = f"ETA {format_duration(remaining)} {format_step_time(per_step)}"
        else:
            timing = format_step_time(per_step)
        count = f"{current}/{self.target or 'Unknown'}"  # a generator's length is unknown
        if self.verbose == 2:  # Keras's one line per epoch: "4/4 - 0s - 3ms/step - loss: ..."
            text = f"{count} - {timing.replace(' ', ' - ')}"
        else:
            text = f"{count} {self._bar(current)} {timing}"
        if logs:
            text += " - " + format_logs(logs)
        if not config.is_interactive_logging_enabled():
            if finalize:
                logger.info(text)
            return
        if finalize:
            self.stream.write(("\r" if self._dynamic else "") + text + "\n")
        elif self._dynamic:
            self.stream.write("\r" + text)
        else:
            return  # no redrawing into files or pipes: print the final line only
        self.stream.flush()

    def _bar(self, current: int) -> str:
        if not self.target:
            return ""
        filled = int(_WIDTH * current / self.target)
        if filled >= _WIDTH:
            return "━" * _WIDTH
        return "━" * filled + "╺" + "━" * (_WIDTH - filled - 1) if current else " " * _WIDTH
