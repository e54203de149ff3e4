"""A signal that another thread of the process takes during a swap is held like one the main
thread holds back: the swap's critical section runs to its end, then the signal is raised."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from planner.io._outdir import _signals_held


def test_signal_taken_by_another_thread_waits_for_the_end_of_the_swap() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)  # like a numerical library's pool thread
    worker.start()
    reached_end = False
    try:
        with pytest.raises(KeyboardInterrupt), _signals_held() as held:
            assert worker.ident is not None
            signal.pthread_kill(worker.ident, signal.SIGINT)  # the main thread blocks it
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)  # pending
            deadline = time.monotonic() + 5.0
            while not held.received and time.monotonic() < deadline:
                time.sleep(0.001)  # bytecodes run: a default handler would raise here
            assert held.received == [signal.SIGINT]
            assert signal.SIGINT in signal.sigpending()
            reached_end = True
    finally:
        stop.set()
        worker.join()
    assert reached_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.SIGINT not in signal.sigpending()
