"""scripts/gpu_check.py on CPU: its --dry-run passes here (as CI runs it), bad use exits 2, it installs only from the
wheels it is given, and the logic of each stage — padded and packed batches, the SimPO loss, generation, NF4 — runs on
a CPU-sized tiny Qwen3.5. What only a GPU can show (bf16 kernels, flash-linear-attention, tokens/s) is the script's job."""
import importlib.util, json, subprocess, sys
from pathlib import Path
import pytest
import torch
from conftest import ROOT

SCRIPT = ROOT/'scripts'/'gpu_check.py'
spec = importlib.util.spec_from_file_location('gpu_check', SCRIPT)
gc = importlib.util.module_from_spec(spec); spec.loader.exec_module(gc)

def run(*args, timeout=300):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)

def cpu_cfg(*extra):
    cfg = gc.parse_args(['--device', 'cpu', '--allow-cpu', '--steps', '4', '--batch', '4', '--gen-batch', '3', '--new-tokens', '5',
                         '--hidden', '64', '--layers', '4', *extra])
    cfg.dtype = torch.float32
    return cfg

def test_header_says_ready_and_unrun():
    assert 'READY AND UNRUN' in SCRIPT.read_text().split('"""')[1]

def test_dry_run_passes_on_cpu(tmp_path):
    r = run('--dry-run', '--out', str(tmp_path/'dry.json'))
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((tmp_path/'dry.json').read_text())
    assert report['dry_run'] and report['stages'] == list(gc.RUN_1)
    assert set(gc.BASE) <= set(report['requirements'])
    assert report['tiny_model']['params'] > 0 and 'linear_attention' in report['tiny_model']['layer_types']
    assert 'dry run: stages' in r.stdout

@pytest.mark.parametrize('args, says', [(['--only', 'sft,nope'], 'unknown stage'), (['--wheels', '/no/such/dir'], 'not a directory'),
                                        (['--hidden', '30'], 'multiple of 4'), (['--only', 'generate', '--skip', 'generate'], 'no stage')])
def test_bad_arguments_exit_2(args, says):
    r = run('--dry-run', *args, timeout=60)
    assert r.returncode == 2 and says in r.stderr

def test_the_check_itself_needs_cuda(tmp_path):
    r = run('--device', 'cpu', '--out', str(tmp_path/'x.json'), timeout=60)
    assert r.returncode == 2 and 'needs a CUDA device' in r.stdout

def test_installs_only_from_the_wheels_given(tmp_path, monkeypatch):
    (tmp_path/'flash_linear_attention-0.6.0-py3-none-any.whl').write_bytes(b'')
    monkeypatch.setattr(gc, 'installed', lambda dist: None if dist == 'flash-linear-attention' else '99.0')
    status = gc.requirement_status(['packed_gdn'], [tmp_path])
    assert status['flash-linear-attention']['status'] == 'from wheel' and status['transformers']['status'] == 'installed'
    assert gc.requirement_status(['packed_gdn'], [])['flash-linear-attention']['status'] == 'missing'
    seen = []
    monkeypatch.setattr(gc.subprocess, 'run', lambda cmd, **kw: seen.append(cmd) or subprocess.CompletedProcess(cmd, 0, '', ''))
    assert gc.install_from_wheels(status, [tmp_path]) == ['flash-linear-attention>=0.6']
    (cmd,) = seen
    assert cmd[1:4] == ['-m', 'pip', 'install'] and '--no-index' in cmd and cmd[cmd.index('--find-links') + 1] == str(tmp_path)

def test_wheel_list_is_pinned_and_complete():
    reqs = [l for l in (ROOT/'scripts'/'gpu_check_wheels.txt').read_text().splitlines() if l and not l.startswith('#')]
    names = {r.split('==')[0] for r in reqs}
    assert all('==' in r for r in reqs) and {'transformers', 'peft', 'accelerate', 'flash-linear-attention', 'fla-core', 'tokenizers'} <= names
    assert 'torch' not in names and 'bitsandbytes' not in names      # torch is the machine's; NF4's 43 MB wheel is run 2's

# -- the stages' logic, at CPU size ------------------------------------------------------------------------------------

def test_sft_simpo_and_generate_stages_on_cpu():
    cfg = cpu_cfg()
    sft = gc.stage_sft(cfg)
    assert sft['passed'] and sft['finite'] and sft['steps'] == 4 and sft['trainable_params'] > 0
    simpo = gc.stage_simpo(cfg)
    assert simpo['passed'] and simpo['margin_last'] > simpo['margin_first'] and (simpo['beta'], simpo['gamma']) == (1.0, 0.3)
    gen = gc.stage_generate(cfg)
    assert gen['passed'] and gen['batch_3']['tokens'] == 15 and gen['batch_1']['tokens_per_s'] > 0

def test_batches_mask_what_is_not_trained():
    model, tok, triples = gc.build_tiny('cpu', torch.float32, hidden=64, layers=4)
    rows = [gc.encode(tok, p, c) for p, c, _ in triples[:3]]
    b = gc.padded_batch(rows, tok.pad_token_id, 'cpu')
    assert int((b['labels'] != -100).sum()) == sum(sum(1 for y in lab if y != -100) for _, lab in rows)
    assert int(b['attention_mask'].sum()) == sum(len(x) for x, _ in rows)
    p = gc.packed_batch(rows, 'cpu')
    starts = p['cu_seq_lens_q'][:-1].tolist()
    assert p['input_ids'].shape == (1, sum(len(x) for x, _ in rows)) and p['use_cache'] is False
    assert all(int(p['position_ids'][0, s]) == 0 for s in starts) and all(int(p['labels'][0, s]) == -100 for s in starts)

def test_packing_keeps_sequences_apart_on_attention_and_needs_fla_on_deltanet():
    "Attention-only, packing is exact on CPU; on Gated DeltaNet transformers refuses it without flash-linear-attention."
    model, tok, triples = gc.build_tiny('cpu', torch.float32, hidden=64, layers=2, layer_types=['full_attention'] * 2)
    seqs = [gc.encode(tok, p, c)[0] for p, c, _ in triples[:3]]
    d = gc.packed_vs_separate(model, seqs, 'cpu', window=3)
    assert d['max_abs_diff'] < 1e-4 and len(d['per_sequence']) == 3
    rows = [gc.encode(tok, p, c) for p, c, _ in triples[:8]]
    out = gc.train_steps(gc.with_lora(model), [gc.packed_batch(rows[:4], 'cpu'), gc.packed_batch(rows[4:], 'cpu')], 4, 2e-3, 'cpu')
    assert out['finite'] and out['loss_fell']
    gdn, _, _ = gc.build_tiny('cpu', torch.float32, hidden=64, layers=4)
    if importlib.util.find_spec('fla') is None:
        with pytest.raises(ValueError, match='flash-linear-attention'):
            gc.packed_vs_separate(gdn, seqs, 'cpu', window=3)

def test_nf4_stage_on_cpu():
    pytest.importorskip('bitsandbytes')
    out = gc.stage_nf4(cpu_cfg())
    assert out['passed'] and out['double_quant'] and {'in_proj_qkv', 'q_proj', 'out_proj'} <= set(out['four_bit_modules'])
