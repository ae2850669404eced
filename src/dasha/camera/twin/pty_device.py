"""A simulated serial device on a pseudo-terminal: a thread reads the master side, decodes requests, answers.

The hardware-in-the-loop twin's lens and the serial drivers' tests are such devices. The driver opens
:attr:`PtyDevice.port` (the slave's path) with pyserial. Subclasses implement
:meth:`PtyDevice.process`, which takes complete requests off the front of the receive buffer and answers them with
:meth:`PtyDevice.reply`; :meth:`PtyDevice.fail` queues misbehaviour for the next requests (``"nack"``, ``"corrupt"``
the checksum/CRC, ``"short"`` replies, ``"silent"``), which :meth:`PtyDevice.take_fault` hands out. Every byte
received is kept in :attr:`rx`, every request decoded in :attr:`requests`.

Line loss: with :attr:`PtyDevice.drop_rate` > 0 each received byte is lost with that probability (seeded by
:attr:`PtyDevice.drop_seed`; counted in :attr:`PtyDevice.dropped`) — the ``drop`` fault of
:mod:`dasha.camera.faults`. Like a UART protocol parser, the device forgets a partial request once the line has been
quiet for :attr:`PtyDevice.frame_gap_s` (s), so a request cut short by a lost byte does not swallow the next one.
"""

from __future__ import annotations

import os
import random
import select
import threading
import time
import tty
from collections import deque

FAULTS = ("nack", "corrupt", "short", "silent", "error")


class PtyDevice:
    """A pseudo-terminal and a thread that plays a device on its master side (see the module docstring)."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.rx = bytearray()
        self.tx = bytearray()
        self.requests: list[bytes] = []
        self.buffer = bytearray()
        self._faults: deque[tuple[str, bytes | None]] = deque()
        self._always: tuple[str, bytes | None] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"fake {type(self).__name__}", daemon=True)
        self._master_open = True
        self.drop_rate = 0.0
        """Probability that a received byte is lost (serial line loss)."""
        self.drop_seed = 0
        """Seed of the losses."""
        self.dropped = 0
        """Bytes lost so far."""
        self.frame_gap_s = 0.05
        """A partial request older than this (s) of line silence is discarded."""

    def start(self) -> PtyDevice:
        self._thread.start()
        return self

    # -- misbehaviour ------------------------------------------------------------------------------------------
    def fail(self, kind: str, times: int | None = 1, only: bytes | None = None) -> None:
        """Misbehave (``kind`` in :data:`FAULTS`) on the next ``times`` requests (None: on all of them), or only on
        requests starting with ``only``."""
        assert kind in FAULTS, kind
        with self._lock:
            if times is None:
                self._always = (kind, only)
            else:
                self._faults.extend([(kind, only)] * times)

    def heal(self) -> None:
        """Stop misbehaving."""
        with self._lock:
            self._faults.clear()
            self._always = None

    def take_fault(self, request: bytes) -> str | None:
        """The misbehaviour this request gets (consumed), or None."""
        with self._lock:
            if self._always is not None and (self._always[1] is None or request.startswith(self._always[1])):
                return self._always[0]
            for i, (kind, only) in enumerate(self._faults):
                if only is None or request.startswith(only):
                    del self._faults[i]
                    return kind
        return None

    # -- wire --------------------------------------------------------------------------------------------------
    def reply(self, data: bytes, fault: str | None = None) -> None:
        """Send ``data``, spoilt by ``fault`` (``corrupt``: last checksum byte changed; ``short``: cut; ``silent``)."""
        if fault == "silent":
            return
        if fault == "corrupt":
            data = self.corrupt(data)
        elif fault == "short":
            data = data[: max(1, len(data) // 2)]
        self.tx += data
        os.write(self.master, data)

    def corrupt(self, data: bytes) -> bytes:
        """``data`` with its checksum changed (default: the last byte)."""
        return data[:-1] + bytes([data[-1] ^ 0x5A])

    def process(self) -> None:
        """Take complete requests off :attr:`buffer` and answer them."""
        raise NotImplementedError

    def _run(self) -> None:
        rng, last = None, 0.0
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master], [], [], 0.02)
                if not ready:
                    continue
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            if self.drop_rate > 0:
                rng = rng or random.Random(self.drop_seed)
                kept = bytes(b for b in data if rng.random() >= self.drop_rate)
                self.dropped += len(data) - len(kept)
                data = kept
            now = time.monotonic()
            if self.buffer and now - last > self.frame_gap_s:
                self.buffer.clear()  # the line was quiet: a partial request is abandoned
            last = now
            self.rx += data
            self.buffer += data
            self.process()

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def unplug(self) -> None:
        """The device goes away: stop answering and close the master side (the slave then fails with EIO)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1.0)
        if self._master_open:
            self._master_open = False
            os.close(self.master)

    def close(self) -> None:
        self.unplug()
        try:
            os.close(self.slave)
        except OSError:
            pass

    def __enter__(self) -> PtyDevice:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
