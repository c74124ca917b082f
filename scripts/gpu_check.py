#!/usr/bin/env python3
"""One prepared GPU check for aiqarus: the training and generation paths a CPU cannot exercise, in one JSON of figures.

STATUS: READY AND UNRUN. Written, and its logic tested on CPU (tests/test_gpu_check.py), without a CUDA machine:
no figure from it exists yet. The first run on a GPU is its first real test.

On one CUDA GPU, in under 8 minutes, on a tiny Qwen3.5 built from config (aiqarus.tiny: nothing is downloaded):
  sft_bf16    LoRA SFT steps in bf16 with an assistant-only loss: the loss stays finite and falls
  simpo_bf16  SimPO steps in bf16 (length-normalised log-prob margin; beta 1.0, gamma 0.3 as in simpo_v3)
  packed_gdn  padding-free (packed) SFT on Gated DeltaNet through flash-linear-attention's Triton kernels: the
              logits of packed sequences against the same sequences one by one (do packed sequences stay apart,
              and does anything leak in the convolution window after a boundary?), then packed training steps
  generate    batched greedy generation, tokens/s at batch 1 and batch 32
  qlora_nf4   NF4 + double-quant QLoRA steps through bitsandbytes (its 43 MB wheel makes this a second run)
  trainers    the project's own train_sft / train_simpo (TRL) in bf16, when trl and datasets are importable
The figures go to one JSON (--out), rewritten after every stage, so a run cut short keeps what it measured.

It needs torch with CUDA. Everything else it checks, and installs only if missing or too old, from wheels brought
along (no index is reached: pip runs with --no-index). Download them beforehand, for the GPU machine's Python:
  PLAT="--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux2010_x86_64"
  pip download --no-deps --only-binary=:all: --python-version 3.11 $PLAT -d scripts/wheels -r scripts/gpu_check_wheels.txt
  pip download --no-deps --only-binary=:all: --python-version 3.11 $PLAT -d scripts/wheels-nf4 bitsandbytes==0.50.2
(~50 MB and ~43 MB.) Then, on the GPU machine, from the repository root:
  timeout 480 python scripts/gpu_check.py --out gpu_check.json                                   # run 1: all but NF4
  timeout 300 python scripts/gpu_check.py --only qlora_nf4 --wheels scripts/wheels-nf4 --out gpu_check_nf4.json  # run 2
(run 2 on the machine run 1 set up; on a fresh one, give both: --wheels scripts/wheels --wheels scripts/wheels-nf4)
  python scripts/gpu_check.py --dry-run      # any machine: arguments, imports, the plan, the tiny model on CPU (CI)
Exit status: 0 when every stage asked for passed (or, with --dry-run, when the plan holds), 1 otherwise, 2 on bad use.
"""
from __future__ import annotations
import argparse, importlib, importlib.metadata, importlib.util, inspect, json, math, os, platform, random, re
import subprocess, sys, tempfile, time, traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))           # aiqarus from this checkout; it need not be installed

STAGES = ('sft_bf16', 'simpo_bf16', 'packed_gdn', 'generate', 'qlora_nf4', 'trainers')
RUN_1 = ('sft_bf16', 'simpo_bf16', 'packed_gdn', 'generate', 'trainers')     # the default; qlora_nf4 is run 2
BASE = ('transformers', 'tokenizers', 'peft', 'accelerate', 'flash-linear-attention')
# distribution: (import name, lowest version that will do, stages that need it)
NEEDS = {
    'transformers': ('transformers', '5.20', STAGES),         # Qwen3.5 (Gated DeltaNet) arrived in 5.20
    'tokenizers': ('tokenizers', '0.23', STAGES),
    'peft': ('peft', '0.21', STAGES),
    'accelerate': ('accelerate', '1.10', STAGES),
    'flash-linear-attention': ('fla', '0.6', STAGES),          # installed before transformers is imported: it picks kernels then
    'bitsandbytes': ('bitsandbytes', '0.46', ('qlora_nf4',)),
    'trl': ('trl', '1.16', ('trainers',)),
    'datasets': ('datasets', '4.0', ('trainers',)),
}
OPTIONAL = {'trainers'}                  # skipped, not failed, when trl/datasets are absent (pyarrow alone is 55 MB)
SIMPO = {'beta': 1.0, 'gamma': 0.3}      # simpo_v3's beta and simpo_gamma
CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

# -- what is installed, what can be -------------------------------------------------------------------------------

def version_tuple(v: str) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", v.split('+')[0])[:3])

def installed(dist: str) -> str | None:
    "The installed version of `dist` if it is importable, else None."
    module = NEEDS[dist][0]
    if importlib.util.find_spec(module) is None: return None
    try: return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError: return '0'

def needs_of(stages) -> list:
    return [d for d, (_, _, used) in NEEDS.items() if any(s in used for s in stages)]

def requirement_status(stages, wheel_dirs) -> dict:
    "For each distribution the stages need: the installed version, or the wheel that would be installed, or what is missing."
    out = {}
    for dist in needs_of(stages):
        have, low = installed(dist), NEEDS[dist][1]
        if have and version_tuple(have) >= version_tuple(low): out[dist] = {'status': 'installed', 'version': have}; continue
        stem = dist.replace('-', '_').lower()
        wheels = sorted(str(w) for d in wheel_dirs for w in Path(d).glob('*.whl') if w.name.lower().startswith(stem + '-'))
        out[dist] = {'status': 'from wheel' if wheels else 'missing', 'wheel': wheels[-1] if wheels else None,
                     'installed': have, 'needs': f">={low}"}
    return out

def install_from_wheels(status: dict, wheel_dirs) -> list:
    "pip-install, from the wheel directories only, each needed distribution that has a wheel there; returns what was installed."
    todo = [f"{d}>={s['needs'][2:]}" for d, s in status.items() if s['status'] == 'from wheel']
    if not todo: return []
    cmd = [sys.executable, '-m', 'pip', 'install', '--no-index', '--disable-pip-version-check', '-q']
    for d in wheel_dirs: cmd += ['--find-links', str(d)]
    r = subprocess.run(cmd + todo, capture_output=True, text=True)
    if r.returncode: raise RuntimeError(f"pip install {' '.join(todo)} from {', '.join(map(str, wheel_dirs))} failed: "
                                        + ' '.join(r.stderr.split())[-600:])
    importlib.invalidate_caches()
    return todo

# -- a tiny Qwen3.5 and conversations for it -----------------------------------------------------------------------

FILLER = ["The customer wrote twice this week.", "Our carrier changed the route yesterday.", "Please keep it short.",
          "This is for the quarterly audit.", "The warehouse is in Rotterdam.", "I am on the logistics team."]

def conversations(n: int, seed: int = 0) -> list:
    "`n` (prompt, chosen, rejected) triples in ChatML with Qwen-style think and tool-call blocks, of varied lengths."
    rng, out = random.Random(seed), []
    for _ in range(n):
        sid, other = f"SHP-{rng.randrange(1000, 9999)}", f"SHP-{rng.randrange(1000, 9999)}"
        pad = ' '.join(rng.choice(FILLER) for _ in range(rng.randrange(0, 12)))
        if rng.random() < 0.5:
            user = f"{pad} Where is shipment {sid}?".strip()
            chosen = (f"<think>\nThe user gave {sid}; I should look it up.\n</think>\n\n<tool_call>\n"
                      f'{{"name": "get_shipment", "arguments": {{"shipment_id": "{sid}"}}}}\n</tool_call>')
            rejected = f"<think>\nI am not sure which one.\n</think>\n\nWhich shipment do you mean?"
        else:
            user = f"{pad} Can you reroute my shipment, {sid} or {other}, I forget which?".strip()
            chosen = f"<think>\nTwo ids match; I must ask which one.\n</think>\n\nWhich one do you mean: {sid} or {other}?"
            rejected = (f"<think>\nTwo ids match; I must ask which one.\n</think>\n\n<tool_call>\n"
                        f'{{"name": "reroute_shipment", "arguments": {{"shipment_id": "{sid}"}}}}\n</tool_call>')
        prompt = ("<|im_start|>system\nYou are an operations agent. Tools: get_shipment, reroute_shipment, escalate_to_human."
                  f"<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
        out.append((prompt, chosen + '<|im_end|>', rejected + '<|im_end|>'))
    return out

_TOKENIZERS = {}

def build_tiny(device, dtype, hidden: int = 256, layers: int = 8, vocab: int = 4096, seed: int = 0, layer_types=None):
    "`(model, tokenizer, triples)`: a tiny Qwen3.5 from config (3 Gated DeltaNet layers per attention layer) on `device`."
    import torch
    from transformers import AutoModelForCausalLM
    from aiqarus.tiny import train_tokenizer, tiny_qwen3_5_config
    triples = conversations(96, seed)
    if vocab not in _TOKENIZERS:                         # trained once per run, on seed 0's conversations
        _TOKENIZERS[vocab] = train_tokenizer([p + c + r for p, c, r in conversations(96, 0)], vocab, chat_template=CHATML)
    tok = _TOKENIZERS[vocab]
    torch.manual_seed(seed)
    cfg = tiny_qwen3_5_config(len(tok), hidden, layers, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    if layer_types: cfg.layer_types = list(layer_types)        # e.g. attention only, to test packing without fla on a CPU
    model = AutoModelForCausalLM.from_config(cfg, dtype=dtype).to(device)
    model.generation_config.pad_token_id, model.generation_config.eos_token_id = tok.pad_token_id, tok.eos_token_id
    return model, tok, triples

def encode(tok, prompt: str, completion: str) -> tuple:
    p = tok(prompt, add_special_tokens=False)['input_ids']; c = tok(completion, add_special_tokens=False)['input_ids']
    return p + c, [-100] * len(p) + c

def padded_batch(rows, pad_id: int, device) -> dict:
    "Right-padded `input_ids`, `attention_mask` and `labels` (-100 on prompt and padding)."
    import torch
    L = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), L), pad_id); mask = torch.zeros((len(rows), L), dtype=torch.long); lab = torch.full((len(rows), L), -100)
    for i, (x, y) in enumerate(rows):
        ids[i, :len(x)] = torch.tensor(x); mask[i, :len(x)] = 1; lab[i, :len(y)] = torch.tensor(y)
    return {'input_ids': ids.to(device), 'attention_mask': mask.to(device), 'labels': lab.to(device)}

def packed_batch(rows, device) -> dict:
    "One row of concatenated sequences, padding-free: position ids restart per sequence, `cu_seq_lens` mark the boundaries."
    import torch
    ids, lab, pos, lens = [], [], [], []
    for x, y in rows:
        ids += x; lab += [-100] + y[1:]; pos += list(range(len(x))); lens.append(len(x))   # no target across a boundary
    cu = torch.tensor([0] + [sum(lens[:i + 1]) for i in range(len(lens))], dtype=torch.int32, device=device)
    return {'input_ids': torch.tensor([ids], device=device), 'labels': torch.tensor([lab], device=device),
            'position_ids': torch.tensor([pos], device=device), 'cu_seq_lens_q': cu, 'cu_seq_lens_k': cu,
            'max_length_q': max(lens), 'max_length_k': max(lens),
            'use_cache': False}          # with a cache, transformers skips the packed-sequence mask and attention spans boundaries

def with_lora(model, r: int = 16):
    from peft import LoraConfig, get_peft_model
    return get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0, target_modules='all-linear', task_type='CAUSAL_LM'))

def gdn_kernels() -> dict:
    "Which implementation transformers bound for each Gated DeltaNet function (fla's Triton kernels, or the PyTorch fallback)."
    out = {}
    try: q = importlib.import_module('transformers.models.qwen3_5.modeling_qwen3_5')
    except ImportError as e: return {'error': str(e)}
    for name in ('torch_chunk_gated_delta_rule', 'torch_recurrent_gated_delta_rule', 'causal_conv1d_fn', 'causal_conv1d_update'):
        fn, impl = getattr(q, name, None), None
        for _ in range(4):                               # the hub-kernel wrapper keeps its choice as `implementation`
            if fn is None: break
            try: impl = inspect.getclosurevars(fn).nonlocals.get('implementation')
            except (TypeError, ValueError): impl = None
            if impl is not None: break
            fn = getattr(fn, '__wrapped__', None)
        out[name] = f"{impl.__module__}.{getattr(impl, '__qualname__', impl)}" if impl is not None else 'unknown'
    return out

def sync(device):
    import torch
    if str(device).startswith('cuda'): torch.cuda.synchronize()

def peak_mib(device) -> float | None:
    import torch
    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if str(device).startswith('cuda') else None

def train_steps(model, batches, steps: int, lr: float, device, loss_fn=None) -> dict:
    "`steps` AdamW steps over `batches` (cycled): losses, trained tokens per second, whether the loss fell."
    import torch
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    losses, tokens = [], 0
    model.train(); sync(device); t0 = time.perf_counter()
    for i in range(steps):
        b = batches[i % len(batches)]
        loss, n = loss_fn(model, b) if loss_fn else (model(**b).loss, int((b['labels'] != -100).sum()))
        opt.zero_grad(set_to_none=True); loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step()
        losses.append(loss.detach().item()); tokens += n
    sync(device); dt = time.perf_counter() - t0
    k = max(1, min(5, steps // 4))
    return {'steps': steps, 'loss_first': losses[0], 'loss_last': losses[-1], 'losses': [round(x, 4) for x in losses],
            'finite': all(math.isfinite(x) for x in losses), 'loss_fell': sum(losses[-k:]) / k < sum(losses[:k]) / k,
            'trained_tokens_per_s': round(tokens / dt, 1), 'seconds': round(dt, 2)}

# -- the stages ----------------------------------------------------------------------------------------------------

def stage_sft(cfg) -> dict:
    model, tok, triples = build_tiny(cfg.device, cfg.dtype, cfg.hidden, cfg.layers)
    model = with_lora(model)
    rows = [encode(tok, p, c) for p, c, _ in triples]
    batches = [padded_batch(rows[i:i + cfg.batch], tok.pad_token_id, cfg.device) for i in range(0, len(rows), cfg.batch)]
    out = train_steps(model, batches, cfg.steps, 2e-3, cfg.device)
    out.update(dtype=str(cfg.dtype), peak_mib=peak_mib(cfg.device), gdn_kernels=gdn_kernels(),
               trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad))
    out['passed'] = out['finite'] and out['loss_fell']
    return out

def sequence_logps(model, b) -> 'torch.Tensor':
    "Mean log-probability of each row's completion tokens (SimPO's length-normalised reward, before beta)."
    import torch
    logits = model(input_ids=b['input_ids'], attention_mask=b['attention_mask']).logits[:, :-1].float()
    labels = b['labels'][:, 1:]
    mask = labels != -100
    lp = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (lp * mask).sum(-1) / mask.sum(-1).clamp(min=1)

def simpo_loss(beta: float, gamma: float):
    import torch.nn.functional as F
    def loss(model, b):
        lp = sequence_logps(model, b)
        n = lp.shape[0] // 2
        margin = lp[:n] - lp[n:]                            # chosen rows first, then their rejected twins
        loss.margins.append(margin.detach().mean().item())
        return -F.logsigmoid(beta * margin - gamma).mean(), int((b['labels'] != -100).sum())
    loss.margins = []
    return loss

def stage_simpo(cfg) -> dict:
    model, tok, triples = build_tiny(cfg.device, cfg.dtype, cfg.hidden, cfg.layers, seed=1)
    model = with_lora(model)
    half = max(1, cfg.batch // 2)
    batches = []
    for i in range(0, len(triples), half):
        group = triples[i:i + half]
        rows = [encode(tok, p, c) for p, c, _ in group] + [encode(tok, p, r) for p, _, r in group]
        batches.append(padded_batch(rows, tok.pad_token_id, cfg.device))
    fn = simpo_loss(SIMPO['beta'], SIMPO['gamma'])
    out = train_steps(model, batches, cfg.steps, 2e-3, cfg.device, fn)
    k = max(1, min(5, cfg.steps // 4))
    out.update(SIMPO, dtype=str(cfg.dtype), margin_first=round(fn.margins[0], 4), margin_last=round(fn.margins[-1], 4),
               margin_rose=sum(fn.margins[-k:]) / k > sum(fn.margins[:k]) / k, peak_mib=peak_mib(cfg.device))
    out['passed'] = out['finite'] and out['loss_fell'] and out['margin_rose']
    return out

def packed_vs_separate(model, seqs, device, window: int) -> dict:
    "Max |logit difference| between each sequence run alone and the same sequences packed in one row (all, and past the window)."
    import torch
    model.eval()
    with torch.no_grad():
        alone = [model(input_ids=torch.tensor([s], device=device)).logits[0].float() for s in seqs]
        b = packed_batch([(s, s) for s in seqs], device); b.pop('labels')
        packed = model(**b).logits[0].float()
    diffs, after, start = [], [], 0
    for s, ref in zip(seqs, alone):
        d = (packed[start:start + len(s)] - ref).abs().max(-1).values
        diffs.append(float(d.max())); after.append(float(d[window:].max()) if start else float(d.max()))
        start += len(s)
    scale = float(torch.cat(alone).abs().mean())
    return {'max_abs_diff': max(diffs), 'max_abs_diff_past_window': max(after), 'per_sequence': [round(x, 6) for x in diffs],
            'mean_abs_logit': round(scale, 6), 'window': window}

def stage_packed(cfg) -> dict:
    import torch
    if importlib.util.find_spec('fla') is None:
        raise RuntimeError("needs flash-linear-attention: without it transformers refuses packed sequences on Gated DeltaNet")
    out = {'gdn_kernels': gdn_kernels()}
    model, tok, triples = build_tiny(cfg.device, torch.float32, cfg.hidden, cfg.layers, seed=2)
    window = model.config.linear_conv_kernel_dim - 1        # tokens a causal convolution can carry over a boundary
    seqs = [encode(tok, p, c)[0] for p, c, _ in triples[:4]]
    try: out['fp32'] = ref = packed_vs_separate(model, seqs, cfg.device, window); tol = 1e-3
    except Exception as e: out['fp32'], ref = {'error': f"{type(e).__name__}: {e}"[:500]}, None
    out['bf16'] = packed_vs_separate(model.to(torch.bfloat16), seqs, cfg.device, window)
    if ref is None: ref, tol = out['bf16'], 0.25 * out['bf16']['mean_abs_logit']     # bf16 alone: a looser, relative bound
    out['tolerance'], out['compared_in'] = tol, 'fp32' if ref is out.get('fp32') else 'bf16'
    out['kept_apart'] = ref['max_abs_diff'] < tol
    out['conv_window_leak'] = ref['max_abs_diff'] >= tol and ref['max_abs_diff_past_window'] < tol
    model = with_lora(model)
    rows = [encode(tok, p, c) for p, c, _ in triples]
    per_row = max(2, cfg.batch)
    batches = [packed_batch(rows[i:i + per_row], cfg.device) for i in range(0, len(rows), per_row)]
    out['train'] = train_steps(model, batches, cfg.steps, 2e-3, cfg.device)
    padded = [padded_batch(rows[i:i + per_row], tok.pad_token_id, cfg.device) for i in range(0, len(rows), per_row)]
    out['useful_token_fraction_padded'] = round(sum(int(b['attention_mask'].sum()) for b in padded)
                                                / sum(b['attention_mask'].numel() for b in padded), 4)
    out['peak_mib'] = peak_mib(cfg.device)
    out['passed'] = out['train']['finite'] and out['train']['loss_fell'] and ref['max_abs_diff_past_window'] < tol
    return out

def stage_generate(cfg) -> dict:
    import torch
    model, tok, triples = build_tiny(cfg.device, cfg.dtype, cfg.hidden, cfg.layers, seed=3)
    model.eval(); tok.padding_side = 'left'
    out = {'new_tokens': cfg.new_tokens, 'dtype': str(cfg.dtype), 'gdn_kernels': gdn_kernels()}
    for bs in (1, cfg.gen_batch):
        enc = tok([p for p, _, _ in triples[:bs]], return_tensors='pt', padding=True, add_special_tokens=False).to(cfg.device)
        kw = dict(max_new_tokens=cfg.new_tokens, min_new_tokens=cfg.new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
        with torch.no_grad():
            model.generate(**enc, **{**kw, 'max_new_tokens': 4, 'min_new_tokens': 4})     # warm-up: kernels compile here
            sync(cfg.device); t0 = time.perf_counter()
            ids = model.generate(**enc, **kw)
            sync(cfg.device); dt = time.perf_counter() - t0
        made = (ids.shape[1] - enc['input_ids'].shape[1]) * bs
        out[f'batch_{bs}'] = {'tokens_per_s': round(made / dt, 1), 'seconds': round(dt, 3), 'tokens': made}
    out['batching_speedup'] = round(out[f'batch_{cfg.gen_batch}']['tokens_per_s'] / out['batch_1']['tokens_per_s'], 2)
    out['peak_mib'] = peak_mib(cfg.device)
    out['passed'] = all(out[f'batch_{b}']['tokens'] == b * cfg.new_tokens for b in (1, cfg.gen_batch))
    return out

def stage_nf4(cfg) -> dict:
    import torch
    import bitsandbytes as bnb
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig
    from peft import prepare_model_for_kbit_training
    model, tok, triples = build_tiny('cpu', torch.float32, cfg.hidden, cfg.layers, seed=4)
    with tempfile.TemporaryDirectory() as d:
        model.save_pretrained(d); tok.save_pretrained(d)
        where = torch.cuda.current_device() if str(cfg.device).startswith('cuda') else 'cpu'
        q = AutoModelForCausalLM.from_pretrained(d, dtype=cfg.dtype, device_map={'': where}, quantization_config=BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type='nf4', bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=cfg.dtype))
    four_bit = sorted({n.rsplit('.', 1)[-1] for n, m in q.named_modules() if isinstance(m, bnb.nn.Linear4bit)})
    q = with_lora(prepare_model_for_kbit_training(q, use_gradient_checkpointing=False))
    rows = [encode(tok, p, c) for p, c, _ in triples]
    batches = [padded_batch(rows[i:i + cfg.batch], tok.pad_token_id, cfg.device) for i in range(0, len(rows), cfg.batch)]
    out = train_steps(q, batches, cfg.steps, 2e-3, cfg.device)
    out.update(quant='nf4', double_quant=True, compute_dtype=str(cfg.dtype), four_bit_modules=four_bit,
               bitsandbytes=importlib.metadata.version('bitsandbytes'), peak_mib=peak_mib(cfg.device))
    out['passed'] = out['finite'] and out['loss_fell'] and 'in_proj_qkv' in four_bit and 'q_proj' in four_bit
    return out

def stage_trainers(cfg) -> dict:
    "The project's own train_sft and train_simpo (TRL's SFTTrainer and CPOTrainer) on a tiny Qwen3.5, in bf16 on the GPU."
    for m in ('trl', 'datasets'):
        if importlib.util.find_spec(m) is None: raise ModuleNotFoundError(f"needs {m} (with pyarrow and pandas), not installed here")
    from aiqarus.tiny import build_tiny_model
    from aiqarus.training_data import make_training_set
    from aiqarus.generate import make_eval_set
    from aiqarus.eval import run_eval
    from aiqarus.pairs import pairs_from_run
    from aiqarus.sft import tiny_recipe, train_sft
    from aiqarus.simpo import train_simpo
    data, cases = make_training_set('foundation', 16, seed=5), make_eval_set(1)
    bf16 = {'bf16': True, 'dtype': 'bfloat16'} if str(cfg.device).startswith('cuda') else {}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        build_tiny_model([json.dumps(s.messages) + json.dumps(s.tools) for s in data] + [json.dumps(c.messages) for c in cases],
                         d/'base', vocab_size=4096, hidden=cfg.hidden, layers=4)
        sft = train_sft(tiny_recipe('sft', str(d/'sft'), base=d/'base', **bf16), data, d/'sft', max_steps=cfg.trainer_steps)['card']
        run_eval(cases, 'always_call_tool', d/'run', progress=False)
        pairs = pairs_from_run(d/'run', cases={c.id: c for c in cases})[:8]
        simpo = train_simpo(tiny_recipe('simpo', str(d/'simpo'), base=d/'base', **bf16), pairs, d/'simpo', sft_adapter=str(d/'sft'),
                            max_steps=cfg.trainer_steps)['card']
    ok = lambda c: c['steps'] == cfg.trainer_steps and all(math.isfinite(x) for x in c['losses'])
    return {'sft': {k: sft[k] for k in ('steps', 'losses', 'train_loss', 'seconds', 'lora_targets')},
            'simpo': {k: simpo[k] for k in ('steps', 'losses', 'reward_margins', 'eos', 'adapter_change_l1', 'seconds')},
            'passed': ok(sft) and ok(simpo) and simpo['eos']['doubled'] == 0 and simpo['adapter_change_l1'] > 0}

RUNNERS = {'sft_bf16': stage_sft, 'simpo_bf16': stage_simpo, 'packed_gdn': stage_packed, 'generate': stage_generate,
           'qlora_nf4': stage_nf4, 'trainers': stage_trainers}

# -- the run -------------------------------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='gpu_check.json', help='the JSON of figures (rewritten after each stage)')
    ap.add_argument('--only', default='', help=f"comma-separated stages (default: {','.join(RUN_1)}); one of {', '.join(STAGES)}")
    ap.add_argument('--skip', default='', help='comma-separated stages to leave out')
    ap.add_argument('--wheels', action='append', default=None, help='a directory of wheels to install from (repeatable; default: '
                    'scripts/wheels and scripts/wheels-nf4, where present)')
    ap.add_argument('--no-install', action='store_true', help='never pip-install; a stage whose packages are missing is skipped')
    ap.add_argument('--budget', type=float, default=450, help='seconds for all stages; a stage that would start later is skipped')
    ap.add_argument('--steps', type=int, default=20, help='optimizer steps per training stage')
    ap.add_argument('--trainer-steps', type=int, default=4, help='steps of train_sft / train_simpo in the trainers stage')
    ap.add_argument('--batch', type=int, default=8, help='sequences per training step')
    ap.add_argument('--gen-batch', type=int, default=32, help='prompts per batched generation')
    ap.add_argument('--new-tokens', type=int, default=128, help='tokens generated per prompt')
    ap.add_argument('--hidden', type=int, default=256, help='hidden size of the tiny Qwen3.5 (heads of 64 at 256)')
    ap.add_argument('--layers', type=int, default=8, help='layers of the tiny Qwen3.5 (every 4th is full attention)')
    ap.add_argument('--device', default='cuda', help="cuda (the check); cpu only with --dry-run or --allow-cpu (tests)")
    ap.add_argument('--allow-cpu', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--dry-run', action='store_true', help='check arguments, imports and the plan, build the tiny model on CPU; train nothing')
    a = ap.parse_args(argv)
    names = lambda s: [x.strip() for x in s.split(',') if x.strip()]
    bad = [s for s in names(a.only) + names(a.skip) if s not in STAGES]
    if bad: ap.error(f"unknown stage(s) {bad}; choose from {', '.join(STAGES)}")
    a.stages = [s for s in (names(a.only) or RUN_1) if s not in names(a.skip)]
    if not a.stages: ap.error('no stage left to run')
    if a.wheels is None: a.wheels = [str(HERE/d) for d in ('wheels', 'wheels-nf4') if (HERE/d).is_dir()]
    for d in a.wheels:
        if not Path(d).is_dir(): ap.error(f"--wheels {d}: not a directory")
    if min(a.steps, a.trainer_steps, a.batch, a.gen_batch, a.new_tokens, a.hidden, a.layers) < 1: ap.error('counts and sizes must be >= 1')
    if a.hidden % 4: ap.error('--hidden must be a multiple of 4 (4 attention heads)')
    return a

def environment(device) -> dict:
    import torch
    env = {'python': platform.python_version(), 'torch': torch.__version__, 'cuda': torch.version.cuda,
           'packages': {d: installed(d) for d in NEEDS}}
    try: env['triton'] = importlib.metadata.version('triton')
    except importlib.metadata.PackageNotFoundError: env['triton'] = None
    if str(device).startswith('cuda') and torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        env.update(gpu=p.name, capability=f"{p.major}.{p.minor}", memory_gib=round(p.total_memory / 2**30, 1),
                   bf16=torch.cuda.is_bf16_supported())
    return env

def write(report: dict, path):
    p = Path(path); p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + '.tmp'); tmp.write_text(json.dumps(report, indent=1, default=str)); tmp.replace(p)

def dry_run(a) -> int:
    "Arguments, imports and the plan, with no GPU: what each stage needs, what is installed, what would come from a wheel."
    report = {'dry_run': True, 'stages': a.stages, 'wheel_dirs': a.wheels, 'requirements': requirement_status(a.stages, a.wheels)}
    for d, s in report['requirements'].items():
        print(f"  {d:<24} {s['status']:<11} {s.get('version') or s.get('wheel') or s.get('needs')}")
    try: import torch
    except ImportError: print('dry run: torch is not installed, and this check needs it'); return 1
    report['environment'] = environment('cpu')
    t0 = time.perf_counter()
    model, tok, triples = build_tiny('cpu', torch.float32, hidden=64, layers=4)
    b = padded_batch([encode(tok, p, c) for p, c, _ in triples[:2]], tok.pad_token_id, 'cpu')
    with torch.no_grad(): loss = float(model(**b).loss)
    report['tiny_model'] = {'params': sum(p.numel() for p in model.parameters()), 'layer_types': list(model.config.layer_types),
                            'loss': round(loss, 4), 'seconds': round(time.perf_counter() - t0, 2), 'gdn_kernels': gdn_kernels()}
    write(report, a.out)
    missing = [d for d, s in report['requirements'].items() if s['status'] == 'missing']
    print(f"dry run: stages {', '.join(a.stages)}; tiny Qwen3.5 builds ({report['tiny_model']['params']} params, loss {loss:.3f}); "
          + (f"missing with no wheel: {', '.join(missing)}" if missing else 'every package installed or in a wheel') + f" -> {a.out}")
    return 0 if math.isfinite(loss) else 1

def main(argv=None) -> int:
    a = parse_args(argv)
    if a.dry_run: return dry_run(a)
    if a.device == 'cpu' and not a.allow_cpu:
        print('gpu_check: needs a CUDA device (use --dry-run on a CPU machine)'); return 2
    t_start = time.perf_counter()
    report = {'script': 'scripts/gpu_check.py', 'status': 'READY AND UNRUN until this file exists', 'stages_asked': a.stages,
              'started': time.strftime('%Y-%m-%dT%H:%M:%S'), 'stages': {}}
    report['requirements'] = status = requirement_status(a.stages, a.wheels)
    if not a.no_install:
        try: report['installed_from_wheels'] = install_from_wheels(status, a.wheels)
        except RuntimeError as e: report['install_error'] = str(e)
        report['requirements'] = status = requirement_status(a.stages, a.wheels)
    import torch
    if a.device.startswith('cuda') and not torch.cuda.is_available():
        print('gpu_check: torch sees no CUDA device (use --dry-run on a CPU machine)'); return 2
    a.dtype = torch.bfloat16 if a.device.startswith('cuda') else torch.float32
    report['environment'] = environment(a.device)
    report['status'] = 'ran'
    write(report, a.out)
    for stage in a.stages:
        left = a.budget - (time.perf_counter() - t_start)
        lacking = [d for d in needs_of([stage]) if status[d]['status'] != 'installed']
        if stage in ('sft_bf16', 'simpo_bf16', 'generate', 'qlora_nf4', 'trainers'):
            lacking = [d for d in lacking if d != 'flash-linear-attention']    # these run on the PyTorch fallback too
        if lacking: r = {'status': 'skipped', 'reason': f"not installed and no wheel: {', '.join(lacking)}"}
        elif left < 20: r = {'status': 'skipped', 'reason': f"out of time ({a.budget:.0f} s budget)"}
        else:
            t0 = time.perf_counter()
            if a.device.startswith('cuda'): torch.cuda.reset_peak_memory_stats()
            try:
                r = RUNNERS[stage](a)
                r['status'] = 'passed' if r.pop('passed') else 'failed'
            except Exception as e:
                r = {'status': 'skipped' if stage in OPTIONAL and isinstance(e, ImportError) else 'failed',
                     'error': f"{type(e).__name__}: {e}"[:1000], 'traceback': traceback.format_exc()[-3000:]}
            r['stage_seconds'] = round(time.perf_counter() - t0, 1)
        report['stages'][stage] = r
        note = ' -- packed sequences leak through the convolution window' if r.get('conv_window_leak') else ''
        print(f"gpu_check {stage}: {r['status']}" + (f" ({r.get('reason') or r.get('error')})" if r['status'] != 'passed' else
                                                     f" in {r['stage_seconds']} s{note}"), flush=True)
        write(report, a.out)
    report['total_seconds'] = round(time.perf_counter() - t_start, 1)
    report['ok'] = all(r['status'] == 'passed' or (s in OPTIONAL and r['status'] == 'skipped') for s, r in report['stages'].items())
    write(report, a.out)
    print(f"gpu_check: {'ok' if report['ok'] else 'NOT ok'} in {report['total_seconds']} s -> {a.out}")
    return 0 if report['ok'] else 1

if __name__ == '__main__':
    sys.exit(main())
