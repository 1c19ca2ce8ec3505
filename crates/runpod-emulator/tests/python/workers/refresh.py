"""Asks RunPod to recycle the worker after every job (`refresh_worker`)."""
import runpod


def handler(job):
    return {"ok": job["input"]["n"]}


runpod.serverless.start({"handler": handler, "refresh_worker": True})
