"""An async handler that runs until cancelled; a second job proves the first was stopped."""
import asyncio

import runpod


async def handler(job):
    if job["input"].get("quick"):
        return {"quick": True}
    await asyncio.sleep(600)
    return {"never": True}


runpod.serverless.start({"handler": handler})
