"""Package-level promises: fast import without torch, a working CLI, strict JSONL errors."""
import json, subprocess, sys, time
from pathlib import Path
from conftest import ROOT

def test_import_is_fast_and_torch_free():
    code = ("import time, sys; t=time.perf_counter(); import aiqarus, aiqarus.config, aiqarus.schema, aiqarus.parse; "
            "print(time.perf_counter()-t, 'torch' in sys.modules, 'transformers' in sys.modules, 'pandas' in sys.modules)")
    best = min((subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.split() for _ in range(3)),
               key=lambda r: float(r[0]))
    assert float(best[0]) < 0.5, best
    assert best[1:] == ['False', 'False', 'False'], best

def cli(*args, **kw):
    return subprocess.run([sys.executable, '-m', 'aiqarus.cli', *args], capture_output=True, text=True, cwd=ROOT, **kw)

def test_cli_lists_every_stage():
    from aiqarus.cli import STAGES
    r = subprocess.run([str(Path(sys.executable).parent/'aiqarus'), '--help'], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    for st in STAGES: assert st in r.stdout

def test_cli_parse(tmp_path):
    f = tmp_path/'outs.jsonl'
    f.write_text('\n'.join(json.dumps(x) for x in [
        '<tool_call>\n{"name": "get_order", "arguments": {"order_id": "ORD-1"}}\n</tool_call>',
        'Which order do you mean?',
        {'role': 'assistant', 'content': None, 'tool_calls': [{'function': {'name': 'escalate_to_human', 'arguments': '{}'}}]}]) + '\n')
    r = subprocess.run([str(Path(sys.executable).parent/'aiqarus'), 'parse', str(f), '--tools', 'get_order'], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert [json.loads(l)['action'] for l in r.stdout.splitlines()] == ['call_tool', 'clarify', 'escalate']

def test_cli_parse_bad_line_names_file_and_line(tmp_path):
    f = tmp_path/'outs.jsonl'
    f.write_text('"fine"\n{"broken": \n')
    r = subprocess.run([str(Path(sys.executable).parent/'aiqarus'), 'parse', str(f)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0 and f"{f}:2" in r.stderr
