"""A bounded pool of worker processes that run the page's jobs, each within a time budget.

The server's own process never runs SymPy: a job goes to one of a fixed number of worker processes (2
by default). A job past its budget, or one the page cancels, has its worker killed and a fresh one
started in its place, so no request can hold a worker (or the server) for longer than its budget.
A worker is also replaced after a number of jobs, which keeps SymPy's caches from growing without
bound over a long session. A worker that dies (out of memory, a crash) is replaced the same way.
"""
from __future__ import annotations

import asyncio
import multiprocessing

#: the address space one worker may use: a runaway expression fails with MemoryError instead of taking the machine
WORKER_MEMORY = 3 * 2 ** 30


class JobFailed(Exception):
    """A job that produced no answer: past its budget, cancelled, or its worker died. The message says which."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


def _worker_main(connection, memory: int | None) -> None:   # pragma: no cover - runs in the child process
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl+C stops the server, which stops its workers
    if memory:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    from . import _jobs
    _jobs.warm()          # SymPy, the engine, the renderers: imported before the worker says it is ready
    connection.send("ready")
    while True:
        try:
            kind, payload = connection.recv()
        except (EOFError, OSError):
            return
        try:
            reply = _jobs.run(kind, payload)
        except BaseException as error:    # even what _jobs.run lets through comes back as one line
            reply = {"error": f"internal error in a worker: {type(error).__name__}", "internal": True}
        connection.send(reply)


class _Worker:
    def __init__(self, context, memory):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, memory), daemon=True,
                                       name="symbackprop-serve-worker")
        self.process.start()
        child.close()
        self.jobs = 0

    async def _readable(self, timeout: float | None):
        """Wait until the worker has written something (its answer, or EOF when it died)."""
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        descriptor = self.connection.fileno()
        loop.add_reader(descriptor, lambda: ready.done() or ready.set_result(None))
        try:
            await asyncio.wait_for(ready, timeout)
        finally:
            loop.remove_reader(descriptor)

    async def started(self, timeout: float) -> None:
        await self._readable(timeout)
        if self.connection.recv() != "ready":
            raise RuntimeError("a worker did not start")

    async def call(self, kind: str, payload: dict, budget: float) -> dict:
        self.jobs += 1
        self.connection.send((kind, payload))
        await self._readable(budget)
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            raise JobFailed("the worker running this request stopped (out of memory?); it has been replaced; "
                            "try a smaller input", 500) from None

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.connection.close()


class WorkerPool:
    """``size`` worker processes; :meth:`run` waits for a free one and runs a job on it within ``budget`` seconds."""

    def __init__(self, size: int = 2, budget: float = 30.0, jobs_per_worker: int = 100, max_waiting: int = 64,
                 memory: int | None = WORKER_MEMORY):
        if size < 1:
            raise ValueError("a pool needs at least one worker")
        self.size, self.budget, self.jobs_per_worker, self.max_waiting = size, budget, jobs_per_worker, max_waiting
        self.wait_limit = max(300.0, 10 * budget)   #: the longest a job waits for a free worker
        self._context = multiprocessing.get_context("spawn")    # a clean interpreter: no threads of the server inherited
        self._memory = memory
        self._idle: asyncio.Queue | None = None
        self._workers: set = set()
        self._running: dict[str, asyncio.Task] = {}
        self._waiting = 0
        self._starting: set = set()

    async def start(self) -> None:
        self._idle = asyncio.Queue()
        await asyncio.gather(*(self._add() for _ in range(self.size)))

    async def _add(self) -> None:
        worker = _Worker(self._context, self._memory)
        self._workers.add(worker)
        try:
            await worker.started(120)
        except BaseException:
            self._retire(worker)
            raise
        self._idle.put_nowait(worker)

    def _retire(self, worker) -> None:
        self._workers.discard(worker)
        worker.stop()

    def _replace(self, worker) -> None:
        """Kill ``worker`` and start another in the background (the request that failed does not wait for it)."""
        self._retire(worker)
        task = asyncio.get_running_loop().create_task(self._add())
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def run(self, kind: str, payload: dict, job_id: str | None = None) -> dict:
        """The job's reply; raises :class:`JobFailed` past the budget, when cancelled or when too many wait."""
        if self._waiting >= self.max_waiting:
            raise JobFailed(f"the server is busy ({self._waiting} requests waiting); try again in a moment", 503)
        self._waiting += 1
        try:
            worker = await asyncio.wait_for(self._idle.get(), self.wait_limit)
        except asyncio.TimeoutError:
            raise JobFailed(f"no worker was free within {self.wait_limit:g} s; the server is busy or its workers "
                            f"cannot start; try again in a moment", 503) from None
        finally:
            self._waiting -= 1
        call = asyncio.ensure_future(worker.call(kind, payload, self.budget))
        if job_id:
            self._running[job_id] = call
        try:
            reply = await asyncio.shield(call)
        except asyncio.TimeoutError:
            self._replace(worker)
            raise JobFailed(f"took too long: more than {self.budget:g} s; the work was stopped. Try a smaller "
                            f"network or a simpler expression", 504) from None
        except asyncio.CancelledError:
            self._replace(worker)
            if call.cancelled():
                raise JobFailed("cancelled", 409) from None
            call.cancel()     # the request itself was cancelled (the server is stopping): stop its job too
            raise
        except JobFailed:
            self._replace(worker)
            raise
        finally:
            if job_id:
                self._running.pop(job_id, None)
        if worker.jobs >= self.jobs_per_worker:
            self._replace(worker)
        else:
            self._idle.put_nowait(worker)
        return reply

    def cancel(self, job_id: str) -> int:
        """Stop the job ``job_id`` and its parts (``job_id:1``, ``job_id:2``, ...) where running; how many were."""
        stopped = 0
        for name in [n for n in self._running if n == job_id or n.startswith(job_id + ":")]:
            call = self._running.pop(name)
            if not call.done():
                call.cancel()
                stopped += 1
        return stopped

    async def close(self) -> None:
        for task in list(self._starting):
            task.cancel()
        for worker in list(self._workers):
            self._retire(worker)

