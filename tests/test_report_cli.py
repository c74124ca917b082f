"""`aiqarus report` / `forensics` from the shell: the write-up's tables printed back from the constructed fixture (a golden test
of the report layer, not a measurement), --vs with paired McNemar tests (Holm-adjusted), charts written."""
import json, subprocess, sys
from pathlib import Path
from conftest import FIXTURES

WRITEUP = FIXTURES/'writeup'/'writeup_sft'      # constructed to match the write-up's published aggregates (its README says how)

AQ = str(Path(sys.executable).parent/'aiqarus')

def test_report_prints_writeup_tables_from_the_constructed_fixture(tmp_path):
    r = subprocess.run([AQ, 'report', str(WRITEUP), '--figures-dir', str(tmp_path)], capture_output=True, text=True, check=True)
    out = r.stdout
    assert 'accuracy 70.7%' in out and 'on 1370 cases' in out
    for line in ('clarify          293       1%', 'escalate          16      19%', 'call_tool (93%)', 'refuse (49%)', 'worst four: mean 14.3%'):
        assert line in out, line
    assert 'strong categories (>=95%): 8, mean 97.6%' in out                   # the table's mean, not the text's 96.4%
    assert {p.name for p in (tmp_path/'writeup_sft').iterdir()} >= {'confusion.png', 'categories.png', 'actions.png', 'judge.png', 'report.md'}
    assert 'Constructed, not measured' in (tmp_path/'writeup_sft'/'report.md').read_text().splitlines()[2]
    assert 'old layout' in r.stderr                                              # the fixture's layout: no cases, nothing to replay

def test_report_vs(tmp_path):
    for b in ('oracle', 'always_call_tool'):
        subprocess.run([AQ, 'eval', '--backend', b, '--n-per-category', '3', '--run-dir', str(tmp_path/b)], capture_output=True, check=True)
    r = subprocess.run([AQ, 'report', str(tmp_path/'oracle'), '--vs', str(tmp_path/'always_call_tool'), '--figures-dir', str(tmp_path/'fig')],
                       capture_output=True, text=True, check=True)
    out = r.stdout
    assert 'paired on 42 shared cases' in out and "McNemar's exact test" in out and 'Holm-adjusted' in out and 'Fisher' not in out
    assert '### by expected action (cases)' in out and '### by expected action (turns)' in out
    # 27 cases open with call_tool: always_call_tool gets that turn right and the case wrong, the oracle both right
    assert '| call_tool | 27 | 0% | 100% | +100 [+82, +100] | 0 | 27 | 1.5e-08 | 7.5e-08 | True |' in out
    # 3 cases per category: 3 of 3 gained is p = 0.25 on its own, and Holm over 14 categories leaves it within noise
    assert '| clarification_loop | 3 | 0% | 100% | +100 [+21, +100] | 0 | 3 | 0.250 | 1.000 | False |' in out
    for f in ('actions', 'action_turns', 'categories'): assert (tmp_path/'fig'/'oracle'/f'vs_always_call_tool_{f}.png').exists(), f

def test_forensics_cli(tmp_path):
    r = subprocess.run([AQ, 'forensics', str(WRITEUP), '--category', 'clarification_loop', '--figures-dir', str(tmp_path)],
                       capture_output=True, text=True, check=True)
    assert '77 of 98 failures reasoned about clarifying; 73 of those called a tool' in r.stdout
    assert 'easy 1/22, hard 1/36, medium 0/42' in r.stdout
    assert 'failures with invented parameter values: 29 (20 values with think-block evidence the model knew)' in r.stdout
    assert json.loads((tmp_path/'writeup_sft'/'forensics_clarification_loop.json').read_text())['constructed'] is True
