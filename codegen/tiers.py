"""The tiered start: a program's first calls run in the interpreter (pygraph/interpreter.py: numpy, no
compile), or a quick (-O1) build of its source when it holds ops the interpreter lacks (custom ops,
collectives), while the -O3 build compiles in a background thread; the plan swaps to it at a call
boundary (pygraph/plan.py).

Both builds come from the same source and take the same arguments (variables, random ops' counters:
session buffers), so a swap loses or repeats nothing. The background is bounded: one worker thread,
one job per distinct source (plans and processes needing the same module share it; the disk cache
entry is written atomically as always). A job is dropped, its compiler killed, when every session
that asked for it has closed, and at interpreter exit; the worker is a daemon and never holds exit.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import signal
import threading
import weakref

from . import toolchain

# Test hook: while cleared, plans keep running their first tier even when the -O3 module is ready.
swaps_allowed = threading.Event()
swaps_allowed.set()
# A plan without feeds starts its background compile at its second call: one-shot runs (initializers,
# constant folding) never pay for -O3. A fed plan (a training step) starts it at its first.
START_AT_CALL = 2


class Cancelled(Exception):
    """The background compile was stopped because nobody needs it any more."""


class Cancel:
    """Lets another thread kill a running compiler (codegen.invoke.run_compiler attaches it)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._proc = None
        self.cancelled = False

    def attach(self, proc):
        with self._lock:
            self._proc = proc
            if self.cancelled:
                self._kill()

    def detach(self):
        with self._lock:
            self._proc = None

    def cancel(self):
        with self._lock:
            self.cancelled = True
            self._kill()

    def _kill(self):
        if self._proc is not None:
            with contextlib.suppress(OSError):
                os.killpg(self._proc.pid, signal.SIGKILL)


class Job:
    """One background -O3 compile of one source."""

    def __init__(self, key, render, debug, on_ready):
        self.key, self.render, self.debug, self.on_ready = key, render, debug, on_ready
        self.owners = weakref.WeakSet()  # sessions that want it
        self.cancel = Cancel()
        self.path = None
        self.error = None
        self._done = threading.Event()

    def done(self):
        return self._done.is_set()

    def wait(self, timeout=None):
        return self._done.wait(timeout)

    def result(self):
        if self.error is not None:
            raise self.error
        return self.path


_cond = threading.Condition()
_queue = collections.deque()
_jobs = {}  # request key -> Job queued or running
_worker = None
_closing = False


def submit(key, render, debug, owner, on_ready=lambda path: None):
    """The background job compiling program `key` at -O3 (its source from `render()`, called in the worker
    thread; `on_ready(path)` there too once it is built), started or joined on behalf of session `owner`."""
    global _worker
    with _cond:
        job = _jobs.get(key)
        if job is None:
            job = _jobs[key] = Job(key, render, debug, on_ready)
            if _closing:
                _finish(job, Cancelled("the interpreter is exiting"))
                return job
            _queue.append(job)
            if _worker is None:
                _worker = threading.Thread(target=_work, name="pygraph-optimizer", daemon=True)
                _worker.start()
            _cond.notify()
        job.owners.add(owner)
    return job


def release(owner):
    """Session `owner` closed: drop the jobs only it wanted (killing a running compiler)."""
    with _cond:
        for job in list(_jobs.values()):
            job.owners.discard(owner)
            if not job.owners:
                _drop(job)


def in_flight():
    """How many background compiles are queued or running (tests, benchmarks)."""
    with _cond:
        return len(_jobs)


def _drop(job):
    if job in _queue:
        _queue.remove(job)
    job.cancel.cancel()
    _finish(job, Cancelled("no open session needs it"))


def _finish(job, error=None, path=None):
    if _jobs.get(job.key) is job:
        del _jobs[job.key]
    if not job.done():
        job.path, job.error = path, error
        job._done.set()


def _work():
    while True:
        with _cond:
            while not _queue:
                _cond.wait()
            job = _queue.popleft()
        try:
            source, libs = job.render()  # lowering runs here too, not in the call that starts the job
            path = toolchain.build(source, libs, job.debug, cancel=job.cancel)
            job.on_ready(path)  # indexed now: a later process finds it even if no plan swapped it in
        except BaseException as e:  # reaches the plan's next call (Plan._call), never lost here
            with _cond:
                _finish(job, error=e)
        else:
            with _cond:
                _finish(job, path=path)


def _forget_in_child():
    """A forked child has no worker thread and no compiler of its own: start from nothing."""
    global _cond, _worker
    _cond, _worker = threading.Condition(), None
    for job in list(_jobs.values()):  # their plans submit again (Upgrade.poll) to this process's worker
        _finish(job, Cancelled("started in the parent process"))
    _queue.clear()


os.register_at_fork(after_in_child=_forget_in_child)


@atexit.register
def _stop_all():
    global _closing
    with _cond:
        _closing = True
        for job in list(_jobs.values()):
            _drop(job)


class Upgrade:
    """A plan's way from its first tier (interpreter or quick module) to the optimized module: `poll` at each
    call boundary."""

    def __init__(self, key, render, debug, on_ready, start_at=START_AT_CALL):
        self._key = key  # the request's key: plans of one program share one job
        self._render = render  # () -> (source, libs): lowered (in the worker) only when not rendered yet
        self._debug = debug
        self._on_ready = on_ready  # called (in the worker) with the optimized module's path once it is built
        self._start_at = start_at
        self._calls = 0
        self._lock = threading.Lock()
        self.job = None

    def poll(self, owner):
        """The optimized module's path once it may be swapped in, else None; raises the background
        compile's error (CompileError) at the call that would have used its code."""
        with self._lock:
            self._calls += 1
            if self.job is None:
                if self._calls >= self._start_at:
                    self.job = self._submit(owner)
                return None
            if not self.job.done() or not swaps_allowed.is_set():
                return None
            if isinstance(self.job.error, Cancelled):  # dropped for a closed session that shared it
                self.job = self._submit(owner)
                return None
            return self.job.result()

    def now(self, owner):
        """The optimized module's path, waiting for its compile (started now if need be): for a call the
        interpreter cannot run. Raises the compile's error."""
        with self._lock:
            if self.job is None or isinstance(self.job.error, Cancelled):
                self.job = self._submit(owner)
            job = self.job
        job.wait()
        return job.result()

    def _submit(self, owner):
        return submit(self._key, self._render, self._debug, owner, self._on_ready)
