"""A plain handler, run unmodified by RunPod's worker runtime."""
import runpod


def handler(job):
    inp = job["input"]
    if inp.get("fail"):
        raise ValueError("asked to fail")
    if inp.get("panic"):
        raise RuntimeError("asked to panic")
    if inp.get("error"):
        return {"error": inp["error"]}
    return {"echo": inp, "job_id": job["id"]}


runpod.serverless.start({"handler": handler})
