"""Reports progress, then waits for a go signal (a file the test creates) and finishes."""
import os
import time

import runpod


def handler(job):
    runpod.serverless.progress_update(job, {"step": 1, "of": 2})
    gate = job["input"]["gate"]
    deadline = time.time() + 60
    while not os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.05)
    return {"step": 2, "of": 2}


runpod.serverless.start({"handler": handler})
