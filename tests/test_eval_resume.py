"""Kill an eval run with SIGKILL part-way, resume it, and get the same summary as an uninterrupted run."""
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
from aiqarus.eval import run_eval
from aiqarus.generate import make_eval_set
from aiqarus.schema import read_jsonl

N = 20   # cases per category: 280 cases

SLOW_RUN = textwrap.dedent('''
    import sys, time
    from aiqarus.eval import run_eval
    from aiqarus.generate import make_eval_set
    from aiqarus.backends import OracleBackend
    from aiqarus.judge import RuleJudge
    class Slow(OracleBackend):
        name = 'oracle'
        def generate(self, reqs):
            time.sleep(1.5)
            return super().generate(reqs)
    run_eval(make_eval_set({n}), Slow(), sys.argv[1], judge=RuleJudge(), progress=False)
''')

def comparable(summary):
    s = dict(summary); s['run'] = {k: v for k, v in s['run'].items() if k not in ('started', 'finished', 'cases_per_s')}
    return s

def test_sigkill_then_resume(tmp_path):
    from aiqarus.judge import RuleJudge
    killed, clean = tmp_path/'killed', tmp_path/'clean'
    script = tmp_path/'slow.py'; script.write_text(SLOW_RUN.format(n=N))
    p = subprocess.Popen([sys.executable, str(script), str(killed)])
    res = killed/'results.jsonl'
    deadline = time.time() + 60
    while time.time() < deadline and not (res.exists() and res.stat().st_size > 0): time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    n_before = len(read_jsonl(res))
    assert 0 < n_before < 14 * N, n_before
    assert not (killed/'summary.json').exists()
    with open(res, 'ab') as f: f.write(b'{"case_id": "partial-line-from-a-killed-wr')   # what a kill mid-write leaves
    r = run_eval(make_eval_set(N), 'oracle', killed, judge=RuleJudge(), progress=False)
    assert r.n_new == 14 * N - n_before
    ids = [d['case_id'] for d in read_jsonl(res)]
    assert len(ids) == len(set(ids)) == 14 * N
    full = run_eval(make_eval_set(N), 'oracle', clean, judge=RuleJudge(), progress=False)
    assert comparable(json.loads((killed/'summary.json').read_text())) == comparable(json.loads((clean/'summary.json').read_text()))

def test_resume_of_finished_run_adds_nothing(tmp_path):
    cases = make_eval_set(2)
    run_eval(cases, 'always_call_tool', tmp_path, progress=False)
    before = (tmp_path/'results.jsonl').read_bytes()
    r = run_eval(cases, 'always_call_tool', tmp_path, progress=False)
    assert r.n_new == 0 and (tmp_path/'results.jsonl').read_bytes() == before

def test_refuses_to_overwrite(tmp_path):
    import pytest
    cases = make_eval_set(1)
    run_eval(cases, 'oracle', tmp_path, progress=False)
    with pytest.raises(FileExistsError): run_eval(cases, 'oracle', tmp_path, resume=False, progress=False)
