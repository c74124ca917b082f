"""`aiqarus report` / `forensics` from the shell: the write-up's tables printed back, --vs with significance, charts written."""
import subprocess, sys
from pathlib import Path
from conftest import ROOT

AQ = str(Path(sys.executable).parent/'aiqarus')

def test_report_prints_writeup_tables(tmp_path):
    r = subprocess.run([AQ, 'report', str(ROOT/'data'/'runs'/'writeup_sft'), '--figures-dir', str(tmp_path)], capture_output=True, text=True, check=True)
    out = r.stdout
    assert 'overall accuracy 70.7%' in out and 'on 1370 cases' in out
    for line in ('clarify          293       1%', 'escalate          16      19%', 'call_tool (93%)', 'refuse (49%)', 'worst four: mean 14.3%'):
        assert line in out, line
    assert {p.name for p in (tmp_path/'writeup_sft').iterdir()} >= {'confusion.png', 'categories.png', 'actions.png', 'judge.png', 'report.md'}

def test_report_vs(tmp_path):
    for b in ('oracle', 'always_call_tool'):
        subprocess.run([AQ, 'eval', '--backend', b, '--n-per-category', '3', '--run-dir', str(tmp_path/b)], capture_output=True, check=True)
    r = subprocess.run([AQ, 'report', str(tmp_path/'oracle'), '--vs', str(tmp_path/'always_call_tool'), '--figures-dir', str(tmp_path/'fig')],
                       capture_output=True, text=True, check=True)
    assert 'beyond_noise' in r.stdout and 'True' in r.stdout
    assert (tmp_path/'fig'/'oracle'/'vs_always_call_tool_actions.png').exists()

def test_forensics_cli(tmp_path):
    r = subprocess.run([AQ, 'forensics', str(ROOT/'data'/'runs'/'writeup_sft'), '--category', 'clarification_loop', '--figures-dir', str(tmp_path)],
                       capture_output=True, text=True, check=True)
    assert '77 of 98 failures reasoned about clarifying; 73 of those called a tool' in r.stdout
    assert 'easy 1/22, hard 1/36, medium 0/42' in r.stdout
