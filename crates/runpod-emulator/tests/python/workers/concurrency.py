"""An async handler run four at a time; each waits for a gate file the test creates."""
import asyncio
import os

import runpod


async def handler(job):
    gate = job["input"]["gate"]
    for _ in range(1200):
        if os.path.exists(gate):
            break
        await asyncio.sleep(0.05)
    return {"i": job["input"]["i"]}


runpod.serverless.start({"handler": handler, "concurrency_modifier": lambda current: 4})
