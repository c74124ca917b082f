"""Every key of settings.ini changes what a command does (overridden from the environment, seen in the command's own output)."""
import json, os, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT

AQ = str(Path(sys.executable).parent/'aiqarus')

def out(args, **env):
    r = subprocess.run([AQ, *args], capture_output=True, text=True, cwd=ROOT, env={**os.environ, **{f"AIQARUS_{k.upper()}": v for k, v in env.items()}})
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout

EVAL, TRAIN_V3, TRAIN_MINI = ['eval', '--n-per-category', '1', '--dry-run'], ['train', 'sft', '--recipe', 'sft_v3', '--dry-run'], ['train', 'sft', '--recipe', 'sft_mini', '--dry-run']

def test_every_key_is_covered():
    from aiqarus.config import _DEFAULTS
    assert set(_DEFAULTS) == set(CHECKS) | {'handoff_tools'}, set(_DEFAULTS) ^ set(CHECKS)

CHECKS = {   # key: (command, value, what its output must then contain)
    'base_model': (TRAIN_V3, 'org/other-4b', 'model org/other-4b'),
    'mini_model': (TRAIN_MINI, 'org/other-mini', 'model org/other-mini'),
    'generator_backend': (['generate', '--dry-run'], 'gemini', 'backend gemini:gemini-3.1-pro-preview'),
    'generator_model': (['generate', '--dry-run'], 'gen-x', None),        # with generator_backend=gemini, below
    'judge_backend': (EVAL, 'none', 'judge none'),
    'judge_model': (EVAL, 'judge-x', None),                                # with judge_backend=openai, below
    'openai_base_url': (EVAL, 'http://127.0.0.1:9/v1', None),              # with judge_backend=openai, below
    'compute': (TRAIN_V3, 'modal', 'compute modal app aiqarus on B200'),
    'modal_app': (TRAIN_V3, 'my-app', None), 'modal_gpu': (TRAIN_V3, 'H100', None),
    'modal_volume': (TRAIN_V3, 'my-vol', None), 'modal_mount': (TRAIN_V3, '/mnt/x', None),
    'data_dir': (['generate', '--dry-run'], '/tmp/aq-data', '-> /tmp/aq-data/mini'),
    'figures_dir': (['demo', '--dry-run'], '/tmp/aq-fig', 'figures -> /tmp/aq-fig/demo-default'),
    'runs_dir': (EVAL, '/tmp/aq-runs', '-> /tmp/aq-runs/oracle'),
    'adapters_dir': (TRAIN_V3, '/tmp/aq-adapters', '-> /tmp/aq-adapters/sft-sft_v3'),
    'seed': (EVAL, '7', 'seed 7'),
}

@pytest.mark.parametrize('key', [k for k, v in CHECKS.items() if v[2]])
def test_key_changes_the_command(key):
    cmd, value, expect = CHECKS[key]
    assert expect not in out(cmd)
    assert expect in out(cmd, **{key: value})

def test_model_and_url_keys_name_the_client():
    assert 'backend gemini:gen-x' in out(['generate', '--dry-run'], generator_backend='gemini', generator_model='gen-x')
    o = out(EVAL, judge_backend='openai', judge_model='judge-x', openai_base_url='http://127.0.0.1:9/v1')
    assert 'judge openai:http://127.0.0.1:9/v1?model=judge-x' in o

def test_modal_keys_name_the_target():
    o = out(TRAIN_V3, compute='modal', modal_app='my-app', modal_gpu='H100', modal_volume='my-vol', modal_mount='/mnt/x')
    assert 'modal app my-app on H100, volume my-vol at /mnt/x' in o

def test_handoff_tools_decide_escalation(tmp_path):
    "A call to a tool named in handoff_tools is an escalation; the same call is an ordinary tool call otherwise."
    (tmp_path/'turns.jsonl').write_text(json.dumps('<tool_call>\n{"name": "page_finance_lead", "arguments": {}}\n</tool_call>') + '\n')
    cmd = ['parse', str(tmp_path/'turns.jsonl'), '--tools', 'page_finance_lead']
    assert json.loads(out(cmd))['action'] == 'call_tool'
    assert json.loads(out(cmd, handoff_tools='page_finance_lead'))['action'] == 'escalate'
