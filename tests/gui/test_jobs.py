"""JobRunner: the job runs off the GUI thread, every handler runs on it, exactly one outcome, then finished."""

import threading

from segstudio.core.errors import SegstudioError
from segstudio.core.jobs import Cancelled, check_cancel
from segstudio.gui.jobs import JobRunner


def _record(events):
    def make(kind):
        return lambda *args: events.append((kind, args, threading.current_thread() is threading.main_thread()))
    return {f"on_{k}": make(k) for k in ("progress", "succeeded", "failed", "cancelled", "finished")}


def test_progress_and_result_reach_the_gui_thread(qtbot):
    runner, events, job_threads = JobRunner(), [], []

    def job(progress, cancelled):
        job_threads.append(threading.current_thread() is threading.main_thread())
        for i in range(3):
            progress(i + 1, 3)
        return "done"

    runner.start(job, **_record(events))
    qtbot.waitUntil(lambda: bool(events) and events[-1][0] == "finished", timeout=5000)
    assert job_threads == [False]
    assert [(k, a) for k, a, _ in events] == [("progress", (1, 3)), ("progress", (2, 3)), ("progress", (3, 3)),
                                              ("succeeded", ("done",)), ("finished", ())]
    assert all(on_gui for _, _, on_gui in events)
    assert not runner.running()


def test_cancel_and_failures(qtbot):
    runner, events = JobRunner(), []
    started, release = threading.Event(), threading.Event()

    def slow(progress, cancelled):
        started.set()
        release.wait(5)
        check_cancel(cancelled)
        return "not reached"

    runner.start(slow, **_record(events))
    assert started.wait(5) and runner.running()
    runner.cancel()
    release.set()
    qtbot.waitUntil(lambda: bool(events) and events[-1][0] == "finished", timeout=5000)
    assert [k for k, _, _ in events] == ["cancelled", "finished"]
    for exc, shown in ((SegstudioError("bad.png: not an image"), "bad.png: not an image"),
                       (ZeroDivisionError("oops"), "ZeroDivisionError: oops")):
        events.clear()

        def broken(progress, cancelled, exc=exc):
            raise exc

        runner.start(broken, **_record(events))
        qtbot.waitUntil(lambda: bool(events) and events[-1][0] == "finished", timeout=5000)
        (kind, (message, error), on_gui), _ = events
        assert kind == "failed" and on_gui and error is exc and message.startswith(shown)
    assert runner.stop(1000)


def test_cancelled_is_the_one_core_exception():
    import segstudio.nets.predictor as predictor

    assert predictor.Cancelled is Cancelled
