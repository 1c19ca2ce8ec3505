"""A no-op handler (the benchmark's Python side)."""
import runpod


async def handler(job):
    return {"ok": True}


runpod.serverless.start({"handler": handler, "concurrency_modifier": lambda current: int(__import__("os").environ.get("BENCH_CONCURRENCY", "1"))})
