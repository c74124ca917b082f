"""The external-suite adapters on the real benchmark files (unmodified copies of When2Call's LLM-judge test set and
BFCL v4's irrelevance / live sets). Skipped only where that directory does not exist; AIQARUS_SUITE_DIR points
elsewhere. The project never depends on it: see test_suites.py for the same checks on fixtures."""
import os, re
from pathlib import Path
import pytest
from jsonschema import Draft202012Validator
from aiqarus.eval import run_eval, load_run
from aiqarus import suites as S

from conftest import SHARED_EXTERNAL
REAL = SHARED_EXTERNAL
pytestmark = pytest.mark.skipif(not REAL.exists(), reason=f"{REAL} does not exist (the real benchmark files)")
OPENAI_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")

@pytest.fixture(scope='module')
def cases():
    out = {}
    for n in S.SUITES:
        errs = []
        out[n] = S.load_suite(n, REAL, errors=errs)
        assert errs == [], (n, [str(e) for e in errs[:3]])
    return out

@pytest.fixture(scope='module')
def runs(cases, tmp_path_factory):
    d = tmp_path_factory.mktemp('real_suite_runs')
    return {(b, n): load_run(run_eval(cs, b, d/b/n, progress=False, judge=None).run_dir)
            for b in ('oracle', 'always_call_tool') for n, cs in cases.items()}

def test_counts_labels_and_sources(cases):
    assert {n: len(cs) for n, cs in cases.items()} == {n: s['n'] for n, s in S.SUITES.items()}
    gold = [c.metadata['gold'] for c in cases['when2call']]
    assert {g: gold.count(g) for g in set(gold)} == {'tool_call': 100, 'request_for_info': 100, 'cannot_answer': 100}
    assert sum(not c.tools for c in cases['when2call']) == 17                 # the paper's tool-hallucination items
    assert len({c.id for cs in cases.values() for c in cs}) == sum(map(len, cases.values()))

def test_every_schema_is_valid_json_schema(cases):
    for cs in cases.values():
        for c in cs:
            for t in c.tools: Draft202012Validator.check_schema(t['parameters'])

def test_dotted_names_are_kept_and_counted(cases):
    dotted = lambda cs: sum(any('.' in t['name'] for t in c.tools) for c in cs)
    assert (dotted(cases['when2call']), dotted(cases['bfcl-live-simple'])) == (61, 77)
    from aiqarus.backends import ToolNameMap
    for c in cases['when2call'] + cases['bfcl-live-simple']:
        m = ToolNameMap.for_tools(c.tools)
        assert all(OPENAI_NAME.fullmatch(w) for w in m.to_wire.values()) and all(m.unwire(m.wire(t['name'])) == t['name'] for t in c.tools)

def test_when2call_overlaps_live_simple_51_times(cases):
    ov = S.suite_overlap(cases['when2call'], cases['bfcl-live-simple'])
    assert len(ov) == 51 and ov['case_a'].nunique() == 51

def test_oracle_by_the_benchmarks_own_measures(runs):
    m = S.when2call_metrics(runs[('oracle', 'when2call')])
    assert (m['accuracy']['rate'], m['macro_f1'], m['tool_hallucination_rate']['rate']) == (1.0, 1.0, 0.0)
    for n in S.BFCL_NO_CALL: assert S.bfcl_metrics(runs[('oracle', n)])[n]['irrelevance_accuracy']['rate'] == 1.0
    assert S.bfcl_metrics(runs[('oracle', 'bfcl-live-relevance')])['bfcl-live-relevance']['relevance_accuracy']['rate'] == 1.0
    ls = S.bfcl_metrics(runs[('oracle', 'bfcl-live-simple')])['bfcl-live-simple']
    assert ls['relevance_accuracy']['rate'] == 1.0
    # two live_simple items accept no value for a required argument: no reply passes BFCL's checker on them
    assert ls['ast_accuracy']['k'] == 256 and sum(ls['ast_errors'].values()) == 2
    assert all('accepts no value' in k for k in ls['ast_errors'])
    t = S.cross_suite_table([runs[('oracle', n)] for n in S.SUITES])
    assert float(t['action_accuracy'].min()) == 1.0 and t.loc[('total', 'all'), 'n_shared_dropped'] == 51

def test_always_call_tool(runs):
    for n in S.BFCL_NO_CALL: assert S.bfcl_metrics(runs[('always_call_tool', n)])[n]['irrelevance_accuracy']['rate'] == 0.0
    for n in ('bfcl-live-relevance', 'bfcl-live-simple'):
        assert S.bfcl_metrics(runs[('always_call_tool', n)])[n]['relevance_accuracy']['rate'] == 1.0
    m = S.when2call_metrics(runs[('always_call_tool', 'when2call')])
    assert (m['tool_hallucination_rate']['rate'], m['unsuitable_call_rate']['rate'], m['accuracy']['rate']) == (1.0, 1.0, round(1 / 3, 4))

@pytest.mark.skipif(not (REAL/'when2call').exists(), reason='the real When2Call file is only checked where ../shared/external/when2call exists')
def test_the_documented_command_runs(tmp_path):
    "The README's command, from the shell: `aiqarus eval --suite when2call --suite-dir ../shared/external/when2call --backend oracle`."
    import subprocess, sys
    aq = str(Path(sys.executable).parent/'aiqarus')
    r = subprocess.run([aq, 'eval', '--suite', 'when2call', '--suite-dir', str(REAL/'when2call'), '--backend', 'oracle', '--run-dir', str(tmp_path/'run')],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'eval when2call: 300 cases' in r.stdout and '"macro_f1": 1.0' in r.stdout
