"""The run directory under kill -9 and resume: the journal keeps every finished wave, resume re-generates none of it and
continues conversations mid-way, the result equals an uninterrupted run, and a mismatched resume changes nothing."""
import hashlib, json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import pytest
from aiqarus.eval import run_eval, read_journal, load_run, score_run, RunMismatch
from aiqarus.generate import make_eval_set
from aiqarus.backends import OracleBackend
from aiqarus.judge import RuleJudge

N = 20   # cases per category: 280 cases

SLOW_RUN = textwrap.dedent('''
    import sys, time
    from aiqarus.eval import run_eval
    from aiqarus.generate import make_eval_set
    from aiqarus.backends import OracleBackend
    from aiqarus.judge import RuleJudge
    class Slow(OracleBackend):
        def generate(self, reqs):
            out = super().generate(reqs)
            time.sleep(1.5)
            return out
    run_eval(make_eval_set({n}), Slow(), sys.argv[1], judge=RuleJudge(), progress=False)
''')

class CountingOracle(OracleBackend):
    "The oracle, counting the turns it is asked for."
    def __init__(self): self.asked = []
    def generate(self, reqs):
        self.asked += [(r.case.id, r.turn) for r in reqs]
        return super().generate(reqs)

def _tree(d):
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(d).rglob('*')) if p.is_file()}

def test_sigkill_after_first_wave_then_resume(tmp_path):
    killed, clean = tmp_path/'killed', tmp_path/'clean'
    script = tmp_path/'slow.py'; script.write_text(SLOW_RUN.format(n=N))
    p = subprocess.Popen([sys.executable, str(script), str(killed)])
    journal = killed/'journal.jsonl'
    deadline = time.time() + 90
    while time.time() < deadline and not (journal.exists() and journal.stat().st_size > 0): time.sleep(0.05)
    time.sleep(0.3)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    done = read_journal(killed)
    assert 0 < len(done) and not (killed/'scores').exists()
    first_wave = {k for k, o in done.items() if o.wave == 0}
    assert len(first_wave) == 14 * N                         # the whole first wave is on disk
    with open(journal, 'ab') as f: f.write(b'{"case_id": "partial-line-from-a-killed-wr')   # what a kill mid-write leaves
    b = CountingOracle()
    r = run_eval(make_eval_set(N), b, killed, judge=RuleJudge(), progress=False)
    assert not set(b.asked) & set(done), "a finished turn was generated again"
    assert r.turns_served == len(b.asked) and r.model_calls >= 1
    keys = list(read_journal(killed))
    assert len(keys) == len(set(keys))
    full = run_eval(make_eval_set(N), OracleBackend(), clean, judge=RuleJudge(), progress=False)
    a, c = load_run(killed), load_run(clean)
    assert [x.to_dict() for x in a.records] == [x.to_dict() for x in c.records]
    assert a.summary == c.summary
    assert r.turns_served + len(done) == full.turns_served

def test_resume_of_finished_run_adds_nothing(tmp_path):
    cases = make_eval_set(2)
    run_eval(cases, 'always_call_tool', tmp_path, progress=False)
    before = _tree(tmp_path)
    r = run_eval(cases, 'always_call_tool', tmp_path, progress=False)
    assert (r.n_new, r.model_calls) == (0, 0) and _tree(tmp_path) == before

def test_refuses_to_overwrite_or_mix(tmp_path):
    cases = make_eval_set(1)
    run_eval(cases, 'oracle', tmp_path, progress=False)
    before = _tree(tmp_path)
    with pytest.raises(FileExistsError): run_eval(cases, 'oracle', tmp_path, resume=False, progress=False)
    with pytest.raises(RunMismatch, match='seed'): run_eval(cases, 'oracle', tmp_path, seed=5, progress=False)
    with pytest.raises(RunMismatch, match='backend'): run_eval(cases, 'always_call_tool', tmp_path, progress=False)
    with pytest.raises(RunMismatch, match='cases_sha256'): run_eval(make_eval_set(1, seed=3), 'oracle', tmp_path, progress=False)
    assert _tree(tmp_path) == before

def test_empty_and_duplicate_selections_are_errors(tmp_path):
    with pytest.raises(ValueError, match='empty'): run_eval([], 'oracle', tmp_path/'a', progress=False)
    c = make_eval_set(1)[0]
    with pytest.raises(ValueError, match='duplicate'): run_eval([c, c], 'oracle', tmp_path/'b', progress=False)
    assert not (tmp_path/'a').exists() and not (tmp_path/'b').exists()

def test_rescore_sees_a_parser_change_and_keeps_the_raw_layer(tmp_path, monkeypatch):
    "Change a parser rule: the new score version differs, the raw layer is byte-identical."
    cases = make_eval_set(2)
    run_eval(cases, 'oracle', tmp_path, progress=False)
    raw = {k: v for k, v in _tree(tmp_path).items() if not k.startswith('scores/')}
    import aiqarus.eval as ev
    real = ev.parse_turn
    def stricter(raw, tools=None, handoff_tools=None):
        p = real(raw, tools=tools, handoff_tools=handoff_tools)
        if p.action == 'clarify': p.action = 'answer_directly'        # a (wrong) rule change: clarifying questions read as answers
        return p
    monkeypatch.setattr(ev, 'parse_turn', stricter)
    n = score_run(tmp_path)
    old, new = load_run(tmp_path, n - 1), load_run(tmp_path, n)
    assert old.summary['accuracy'] == 1.0 and new.summary['accuracy'] < 1.0
    assert new.summary['per_action']['clarify']['accuracy'] == 0.0
    assert {k: v for k, v in _tree(tmp_path).items() if not k.startswith('scores/')} == raw
