"""`aiqarus pairs` and `aiqarus train` from the shell, on a run directory and a tiny Qwen3.5."""
import json, subprocess, sys
from pathlib import Path
from conftest import ROOT

AQ = str(Path(sys.executable).parent/'aiqarus')

def test_pairs_from_a_run_directory_alone(tmp_path):
    "Pairs are mined from a run directory and nothing else: each carries its case's tools from the run's cases.jsonl."
    subprocess.run([AQ, 'eval', '--backend', 'always_call_tool', '--n-per-category', '3', '--category', 'clarification_loop,clarification_follow_through',
                    '--run-dir', str(tmp_path/'run')], capture_output=True, text=True, check=True)
    subprocess.run([AQ, 'pairs', str(tmp_path/'run'), '--out', str(tmp_path/'pairs.jsonl')], capture_output=True, text=True, check=True)
    rows = [json.loads(l) for l in open(tmp_path/'pairs.jsonl')]
    cases = {json.loads(l)['id']: json.loads(l) for l in open(tmp_path/'run'/'cases.jsonl')}
    assert len(rows) == 6 and all(r['tools'] for r in rows)
    for r in rows:
        assert sorted(t['function']['name'] for t in r['tools']) == sorted(t['name'] for t in cases[r['case_id']]['tools'])
        assert r['rejected'].count('<tool_call>') == 1

def test_train_sft_cli(tmp_path):
    from aiqarus.tiny import build_tiny_model
    from aiqarus.training_data import make_training_set
    from aiqarus.schema import write_jsonl
    data = make_training_set('foundation', 12, seed=9)
    write_jsonl(tmp_path/'train.jsonl', data)
    build_tiny_model([json.dumps(s.messages) + json.dumps(s.tools) for s in data], tmp_path/'base', vocab_size=4096)
    common = ['--base', str(tmp_path/'base'), '--max-steps', '1', '--compute', 'local']
    r = subprocess.run([AQ, 'train', 'sft', '--recipe', 'sft_mini', '--data', str(tmp_path/'train.jsonl'), '--out', str(tmp_path/'sft')] + common,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    card = json.loads((tmp_path/'sft'/'run_card.json').read_text())
    assert card['steps'] == 1 and card['dropped_by_truncation'] == 0 and (tmp_path/'sft'/'adapter_model.safetensors').exists()
