"""The smoke demo end to end (tiny Qwen3.5 from config), its resume, and its run-to-run reproducibility."""
import json, subprocess, sys, time
from pathlib import Path

AQ = str(Path(sys.executable).parent/'aiqarus')
STAGES = ('data', 'base', 'eval_base', 'sft', 'eval_sft', 'eval_walkthrough', 'eval_pairs_pool', 'report', 'pairs', 'simpo', 'eval_simpo', 'compare', 'probe')

def demo(tmp, name):
    t0 = time.time()
    r = subprocess.run([AQ, 'demo', '--preset', 'smoke', '--runs-dir', str(tmp/name), '--figures-dir', str(tmp/f'fig_{name}')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout, time.time() - t0

def figures(run):
    from aiqarus.eval import load_run
    r = load_run(run)       # the backend's name holds the model's path, which differs between directories: compare the rest
    s = {k: v for k, v in r.summary.items() if k != 'run'}
    return s, [{k: v for k, v in x.to_dict().items() if k != 'backend'} for x in r.records]

def test_smoke_demo_end_to_end_resume_and_reproducible(tmp_path):
    out, secs = demo(tmp_path, 'a')
    print(f"smoke demo: {secs:.0f} s")          # a figure, not a timed assertion
    for st in STAGES: assert f"[{st}] done" in out, (st, out)
    s = json.loads((tmp_path/'a'/'demo_summary.json').read_text())
    assert s['stages']['simpo']['eos']['doubled'] == 0
    assert (tmp_path/'fig_a'/'confusion_sft.png').exists() and (tmp_path/'fig_a'/'steering_sweep.png').exists() and (tmp_path/'fig_a'/'probe_by_layer.png').exists()
    out2, _ = demo(tmp_path, 'a')                              # resume: everything up to date
    for st in STAGES: assert f"[{st}] up to date" in out2
    demo(tmp_path, 'b')                                         # same seed, fresh directory
    for run in ('eval_base/baseline', 'eval_sft/sft', 'eval_simpo/simpo'):
        assert figures(tmp_path/'a'/run) == figures(tmp_path/'b'/run), run
