"""The aiqarus Modal app: the heavy jobs of aiqarus.compute (SFT, SimPO, eval) on a GPU, with the data Volume mounted.

Deploy and run (nbs/60_compute.ipynb has these commands and why the image is pinned as it is):
    pip install -e ".[cloud]"             # modal + google-genai
    modal token new                        # or export MODAL_TOKEN_ID / MODAL_TOKEN_SECRET
    modal deploy modal/app.py
    modal volume put aiqarus-data data/v3/qa/passed.jsonl /v3/qa/passed.jsonl
    AIQARUS_COMPUTE=modal aiqarus train sft --recipe sft_v3 --data /data/v3/qa/passed.jsonl --out /data/adapter/aiqarus-agent-4b-v3
    modal volume get aiqarus-data /adapter/aiqarus-agent-4b-v3 adapters/
Locally:  sft.local(...), simpo.local(...), eval.local(...) run the same functions in this process (CI does this).

Importing this module needs the `modal` package but no token and no network: images and volumes are lazy.
Settings (app name, GPU, volume, mount) come from settings.ini / AIQARUS_* like everything else, as they are when the
app is deployed: settings.ini and every AIQARUS_* variable set then travel into the image, so the container resolves a
recipe's `${base_model}` and the Volume's name exactly as the deploying machine did.
"""
from __future__ import annotations
import os, re
from pathlib import Path
import modal
from aiqarus.config import settings

ROOT = Path(__file__).resolve().parents[1]
S = settings()

# The training stack, pinned to the versions this project is tested with: constraints.txt is the one list (`make
# install` applies it; tests/test_modal_app.py compares it with the test environment). It travels into the image, where
# app.py is /root/app.py and re-reads it from beside itself. torch's CUDA build comes from PyPI's default index.
def read_pins(path: Path) -> dict:
    "name -> version of each `name==version` line of a constraints file (comments and blank lines skipped)."
    pins = {}
    for i, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split('#', 1)[0].strip()
        if not line: continue
        if line.count('==') != 1: raise ValueError(f"{path}:{i}: expected name==version, got {line!r}")
        name, version = (x.strip() for x in line.split('=='))
        pins[name.lower()] = version
    return pins

CONSTRAINTS = next((p for p in (ROOT/'constraints.txt', Path(__file__).with_name('constraints.txt')) if p.is_file()), None)
if CONSTRAINTS is None: raise FileNotFoundError(f"constraints.txt: not found in {ROOT} or beside {__file__}")
PINS = read_pins(CONSTRAINTS)
# GPU-only packages, which a CPU test environment cannot run; each was checked against the pins above through its
# declared requirements (`pip install --dry-run --no-deps --ignore-installed --report - vllm==X`, Requires-Dist):
#   vllm 0.30.0: torch==2.13.0, transformers>=5.10.4 -- the newest vLLM that resolves with torch 2.13.0 and
#     transformers 5.24.0 (0.31.0 and 0.32.0 pin torch 2.13.0 but cap transformers <5.18 / <5.20; 0.33.0 pins torch 2.14.0).
#   flash-linear-attention 0.6.0 (pure Triton Gated DeltaNet kernels): fla-core==0.6.0, transformers>=5.6.2,<6.
GPU_PINS = {'vllm': '0.30.0', 'flash-linear-attention': '0.6.0'}
VLLM_DECLARES = {'torch': '==2.13.0', 'transformers': '>=5.10.4'}

def requirement_name(req: str) -> str:
    "The normalised distribution name of a requirement string ('Transformers>=5.20' -> 'transformers')."
    return re.split(r"[\s<>=!~;\[(]", req.strip(), maxsplit=1)[0].lower().replace('_', '-')

def project_dependencies() -> list:
    "pyproject.toml's core dependencies, minus those pinned above (empty inside the container, which has no pyproject)."
    p = ROOT/'pyproject.toml'          # ROOT is the checkout when deploying; '/' in the container, where app.py is /root/app.py
    if not p.is_file(): return []
    try: import tomllib
    except ModuleNotFoundError: import tomli as tomllib     # Python 3.10
    pinned = set(PINS) | set(GPU_PINS)
    return [d for d in tomllib.loads(p.read_text())['project']['dependencies'] if requirement_name(d) not in pinned]

def image_env() -> dict:
    "The run settings as deployed: every AIQARUS_* set now, the shipped settings.ini, and compute=local (a job never re-dispatches)."
    env = {k: v for k, v in os.environ.items() if k.startswith('AIQARUS_')}
    env.pop('AIQARUS_SETTINGS', None)
    return {**env, **({'AIQARUS_SETTINGS': '/root/settings.ini'} if S.source != 'defaults' else {}), 'AIQARUS_COMPUTE': 'local'}

app = modal.App(S.modal_app)
volume = modal.Volume.from_name(S.modal_volume, create_if_missing=True)
image = (modal.Image.debian_slim(python_version="3.11")
         .pip_install(*[f"{k}=={v}" for k, v in {**PINS, **GPU_PINS}.items()], *project_dependencies())
         .env(image_env())
         .add_local_file(CONSTRAINTS, '/root/constraints.txt'))
if S.source != 'defaults':             # the settings.ini in use (none found: the container runs on defaults + AIQARUS_*)
    image = image.add_local_file(S.source, '/root/settings.ini')
# recipes and lexicons are YAML inside the package: without `ignore`, Modal would ship only the .py files
image = image.add_local_python_source("aiqarus", ignore=["**/__pycache__", "**/*.pyc"])
TIMEOUT = 24 * 3600          # Modal's ceiling; a V3 SFT run is hours, not a day
GPU = dict(gpu=S.modal_gpu, image=image, volumes={S.modal_mount: volume}, timeout=TIMEOUT)

def _commit():
    "Make what the job wrote to the Volume visible to the next reader (nothing to do when run with .local())."
    if not modal.is_local(): volume.commit()

@app.function(**GPU)
def sft(recipe: str, data: str, out_dir: str, max_steps: int | None = None, overrides: dict | None = None) -> dict:
    from aiqarus.compute import sft_job
    card = sft_job(recipe, data, out_dir, max_steps, overrides)
    _commit()
    return card

@app.function(**GPU)
def simpo(recipe: str, pairs: str, out_dir: str, sft_adapter: str | None = None, max_steps: int | None = None,
          overrides: dict | None = None) -> dict:
    from aiqarus.compute import simpo_job
    card = simpo_job(recipe, pairs, out_dir, sft_adapter, max_steps, overrides)
    _commit()
    return card

@app.function(**GPU)
def eval(backend: str, run_dir: str, cases: str | None = None, n_per_category: int = 100, judge: str = "rule",
         seed: int | None = None) -> dict:
    from aiqarus.compute import eval_job
    summary = eval_job(backend, run_dir, cases, n_per_category, judge, seed)
    _commit()
    return summary
