"""`aiqarus pairs` and `aiqarus train` from the shell, on the committed write-up run and a tiny Qwen3.5."""
import json, subprocess, sys
from pathlib import Path
from conftest import ROOT

AQ = str(Path(sys.executable).parent/'aiqarus')

def test_pairs_from_writeup_run(tmp_path):
    r = subprocess.run([AQ, 'pairs', str(ROOT/'data'/'runs'/'writeup_sft'), '--out', str(tmp_path/'pairs.jsonl'),
                        '--category', 'clarification_loop', '--category', 'clarification_follow_through'], capture_output=True, text=True, check=True)
    rows = [json.loads(l) for l in open(tmp_path/'pairs.jsonl')]
    assert len(rows) == 98 + 96
    p = next(x for x in rows if x['case_id'] == 'clarification_loop_0001')
    assert p['rejected'].count('<tool_call>') == 2 and 'Which one do you mean' in p['chosen']

def test_train_sft_cli(tmp_path):
    from aiqarus.tiny import build_tiny_model
    from aiqarus.training_data import make_training_set
    from aiqarus.schema import write_jsonl
    data = make_training_set('foundation', 12, seed=9)
    write_jsonl(tmp_path/'train.jsonl', data)
    build_tiny_model([json.dumps(s.messages) + json.dumps(s.tools) for s in data], tmp_path/'base', vocab_size=4096)
    common = ['--base', str(tmp_path/'base'), '--max-steps', '1', '--compute', 'local']
    r = subprocess.run([AQ, 'train', 'sft', '--recipe', str(ROOT/'recipes'/'sft_mini.yaml'), '--data', str(tmp_path/'train.jsonl'), '--out', str(tmp_path/'sft')] + common,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    card = json.loads((tmp_path/'sft'/'run_card.json').read_text())
    assert card['steps'] == 1 and card['dropped_by_truncation'] == 0 and (tmp_path/'sft'/'adapter_model.safetensors').exists()
