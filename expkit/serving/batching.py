"""Requests that arrive together go to the model as one batch.

Each request's prepared samples wait in a queue; one worker takes what is there, waits up to `window`
seconds for more while other requests are still being read (never when a request is alone, so a single
client pays nothing), stacks them up to `max_batch` samples, runs the model once in a thread, and hands
each request its own rows back. A model call costs about the same for 1 or 64 rows on a CPU.
"""
from __future__ import annotations

import asyncio
from typing import Callable

import numpy as np


class Batcher:
    def __init__(self, run: Callable[[np.ndarray], np.ndarray], max_batch: int = 256, window: float = 0.002):
        self.run, self.max_batch, self.window = run, max_batch, window
        self.queue: asyncio.Queue | None = None
        self.active = 0  # requests between arrival and answer: more may join a batch while this is higher
        self.worker: asyncio.Task | None = None

    async def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.worker = asyncio.get_running_loop().create_task(self._work())
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((x, future))
        return await future

    async def _work(self) -> None:
        from starlette.concurrency import run_in_threadpool
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            size, deadline = len(items[0][0]), loop.time() + self.window
            while size < self.max_batch:
                if self.queue.empty() and (self.active <= len(items) or loop.time() >= deadline):
                    break
                try:
                    items.append(await asyncio.wait_for(self.queue.get(), max(0.0, deadline - loop.time())))
                    size += len(items[-1][0])
                except asyncio.TimeoutError:
                    break
            try:
                out = await run_in_threadpool(self.run, np.concatenate([x for x, _ in items]))
            except Exception as error:  # noqa: BLE001 - each waiting request answers with it
                for _, future in items:
                    if not future.done():
                        future.set_exception(error)
                continue
            start = 0
            for x, future in items:
                if not future.done():  # its client may have gone
                    future.set_result(out[start:start + len(x)])
                start += len(x)
