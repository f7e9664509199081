"""Writers that keep trying, as the application would, and remember when each accepted write was acknowledged."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Writer:
    """One way of writing, tried in a loop on its own thread; `accepted` holds the monotonic times at which the
    server acknowledged a write (the strictest moment: a write acknowledged after "engaged" counts)."""

    name: str
    attempt: Callable[[], None]  # raises when the write is refused or the connection is lost
    reset: Callable[[], None] = lambda: None
    accepted: list[float] = field(default_factory=list)
    refused: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Writer:
        self._thread = threading.Thread(target=self._run, name=f"writer-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.attempt()
                self.accepted.append(time.monotonic())
            except Exception:  # a refusal, a terminated session: try again, as an application does
                self.refused += 1
                self.reset()
                time.sleep(0.001)


@dataclass
class WriteLoad:
    writers: list[Writer]

    def start(self) -> WriteLoad:
        for writer in self.writers:
            writer.start()
        return self

    def stop(self) -> None:
        for writer in self.writers:
            writer.stop()

    def accepted_after(self, moment: float) -> dict[str, int]:
        return {writer.name: sum(1 for at in writer.accepted if at > moment) for writer in self.writers}

    def accepted_total(self) -> int:
        return sum(len(writer.accepted) for writer in self.writers)
