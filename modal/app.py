"""The aiqarus Modal app: the heavy jobs of aiqarus.compute on a B200, with the data Volume at /data.

Deploy:   modal deploy modal/app.py          (needs MODAL_TOKEN_ID / MODAL_TOKEN_SECRET in the environment)
Use:      AIQARUS_COMPUTE=modal aiqarus train sft --recipe recipes/sft_v3.yaml --data /data/v3/qa/passed.jsonl --out /data/adapter/aiqarus-agent-4b-v3
Locally:  sft.local(...), simpo.local(...), eval.local(...) run the same functions in this process (CI does this).

Importing this module needs the `modal` package but no token and no network: images and volumes are lazy.
Settings (app name, GPU, volume, mount) come from settings.ini / AIQARUS_* like everything else.
"""
from __future__ import annotations
import modal
from aiqarus.config import settings

S = settings()
app = modal.App(S.modal_app)
volume = modal.Volume.from_name(S.modal_volume, create_if_missing=True)
# pinned to the versions this project is tested with; CUDA torch comes from the default index on the image
image = (modal.Image.debian_slim(python_version="3.11")
         .pip_install("torch==2.13.0", "transformers==5.24.0", "trl==1.16.0", "peft==0.21.2", "accelerate==1.15.0", "datasets==5.2.0",
                      "bitsandbytes==0.50.2", "vllm", "pandas", "pyyaml", "jsonschema", "tenacity", "statsmodels", "scipy", "fastcore", "typer", "httpx", "tqdm")
         .add_local_python_source("aiqarus"))
GPU = dict(gpu=S.modal_gpu, image=image, volumes={S.modal_mount: volume}, timeout=24 * 3600)

@app.function(**GPU)
def sft(recipe: str, data: str, out_dir: str, max_steps: int | None = None, overrides: dict | None = None) -> dict:
    from aiqarus.compute import sft_job
    card = sft_job(recipe, data, out_dir, max_steps, overrides)
    if modal.is_local() is False: volume.commit()
    return card

@app.function(**GPU)
def simpo(recipe: str, pairs: str, out_dir: str, sft_adapter: str | None = None, max_steps: int | None = None, overrides: dict | None = None) -> dict:
    from aiqarus.compute import simpo_job
    card = simpo_job(recipe, pairs, out_dir, sft_adapter, max_steps, overrides)
    if modal.is_local() is False: volume.commit()
    return card

@app.function(**GPU)
def eval(backend: str, run_dir: str, cases: str | None = None, n_per_category: int = 100, judge: str = "rule") -> dict:
    from aiqarus.compute import eval_job
    summary = eval_job(backend, run_dir, cases, n_per_category, judge)
    if modal.is_local() is False: volume.commit()
    return summary
