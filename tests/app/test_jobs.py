"""Finished background jobs are freed: neither the runner nor the job's own signal
connections keep a job, or the data its work captured, alive."""

from __future__ import annotations

import gc
import weakref

from app.jobs import JobRunner

TIMEOUT = 30_000


class Payload:
    """Stands for large data an export's closure holds."""


def test_a_finished_job_and_what_its_work_captured_are_freed(qtbot):
    runner = JobRunner()
    payload = Payload()
    payload_ref = weakref.ref(payload)

    def work(job, data=payload):
        return id(data)

    job = runner.start(work)
    with qtbot.waitSignal(job.finished, timeout=TIMEOUT):
        pass
    job_ref = weakref.ref(job)
    del job, work, payload
    qtbot.wait(50)  # let queued deliveries and deferred deletes run
    gc.collect()
    assert runner.active() == []
    assert payload_ref() is None, "the finished job still holds its work's closure"
    assert job_ref() is None, "the finished job is kept alive"
    runner.shutdown()
