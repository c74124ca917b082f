"""External suites on the fixtures (tests/fixtures/external: hand-written items in the official When2Call / BFCL v4
formats): loading, malformed records, schema translation, the scripted anchors' sanity figures, the benchmarks'
metrics and the cross-suite table. The same checks on the real files are in test_suites_real.py."""
import json, warnings
from pathlib import Path
import pytest
from jsonschema import Draft202012Validator
from aiqarus.schema import JSONLError, EXTERNAL_LABELS
from aiqarus.eval import run_eval, load_run
from aiqarus.parse import parse_turn
from aiqarus.backends import oracle_text
from aiqarus import suites as S

FIX = Path(__file__).parent/'fixtures'/'external'

@pytest.fixture(scope='module')
def cases(): return {n: S.load_suite(n, FIX) for n in S.SUITES}

@pytest.fixture(scope='module')
def runs(cases, tmp_path_factory):
    d = tmp_path_factory.mktemp('suite_runs')
    return {(b, n): load_run(run_eval(cs, b, d/b/n, progress=False, judge=None).run_dir)
            for b in ('oracle', 'always_call_tool') for n, cs in cases.items()}

def test_every_suite_loads_one_turn_cases(cases):
    assert [len(cases[n]) for n in S.SUITES] == [6, 3, 2, 2, 5]
    for n, cs in cases.items():
        for c in cs:
            assert c.category == n and c.metadata['suite'] == n and len(c.expected) == 1
            assert c.id == c.metadata['source_id'] and c.metadata['source_file'] == S.SUITES[n]['file']
            for t in c.tools: Draft202012Validator.check_schema(t['parameters'])

def test_expected_actions_come_from_the_shared_mapping(cases):
    for c in cases['when2call']:
        acts = EXTERNAL_LABELS['when2call'][c.metadata['gold']]
        assert (c.expected[0].action, tuple(c.expected[0].accept)) == (acts[0], acts[1:])
    for n in S.BFCL_NO_CALL:
        assert all(c.expected[0].accepts(a) for c in cases[n] for a in ('answer_directly', 'clarify', 'escalate', 'refuse'))
        assert not any(c.expected[0].accepts('call_tool') for c in cases[n])
    assert all(c.expected[0].action == 'call_tool' for n in ('bfcl-live-relevance', 'bfcl-live-simple') for c in cases[n])

def test_live_simple_expects_the_function_not_the_values(cases):
    c = cases['bfcl-live-simple'][1]
    assert c.expected[0].tool_calls == [{'name': 'uber.ride', 'arguments': {}}]
    assert c.metadata['possible_answer'][0]['uber.ride']['type'] == ['comfort']
    # the oracle's call is an accepted one, and it is what the oracle writes
    ref = c.metadata['reference_calls']['0'][0]
    assert S.bfcl_ast_check([ref], c.tools[0], c.metadata['possible_answer']) == (True, '')
    assert parse_turn(oracle_text(c, 0)).tool_calls == [ref]

def test_bfcl_types_become_json_schema():
    raw = {'type': 'dict', 'properties': {'a': {'type': 'float'}, 'b': {'type': 'tuple', 'items': {'type': 'any'}},
                                          'c': {'type': 'integer', 'enum': ['1', '2']}, 'd': {'type': 'boolean', 'enum': ['True', 'dontcare']}}}
    s = S.bfcl_json_schema(raw)
    Draft202012Validator.check_schema(s)
    assert s['type'] == 'object' and s['properties']['a'] == {'type': 'number'} and s['properties']['b'] == {'type': 'array', 'items': {}}
    assert s['properties']['c']['enum'] == [1, 2] and 'enum' not in s['properties']['d']
    assert Draft202012Validator(s).is_valid({'a': 1, 'b': [1, 'x'], 'c': 2, 'd': True})
    with pytest.raises(ValueError, match=r"parameters\.q: unknown type 'quaternion'"):
        S.bfcl_json_schema({'type': 'dict', 'properties': {'q': {'type': 'quaternion'}}})

def test_malformed_records_are_named_and_the_rest_loads():
    errs = []
    got = S.load_suite('when2call', FIX/'malformed', errors=errs)
    assert [c.metadata['source_line'] for c in got] == [1, 8]
    path = FIX/'malformed'/'when2call'/'when2call_test_llm_judge.jsonl'
    assert all(isinstance(e, JSONLError) and e.path == str(path) for e in errs)
    assert [(e.line, e.msg.split(':')[0]) for e in errs] == [(2, 'JSONDecodeError'), (3, 'ValueError'), (5, 'ValueError'), (6, 'ValueError'), (7, 'ValueError')]
    assert "missing field(s) ['correct_answer']" in errs[1].msg and "unknown label 'maybe'" in errs[3].msg
    errs = []
    assert [c.id for c in S.load_suite('bfcl-live-simple', FIX/'malformed', errors=errs)] == ['live_simple_0-0-0', 'live_simple_2-1-0']
    msgs = [str(e) for e in errs]
    assert any('possible_answer/BFCL_v4_live_simple.json:3:' in m for m in msgs)
    assert any('BFCL_v4_live_simple.json:3:' in m and 'quaternion' in m for m in msgs)
    assert any(':4:' in m and 'only single-turn' in m for m in msgs) and any(':5:' in m and 'no possible answer' in m for m in msgs)

def test_lenient_by_default_strict_on_request():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert len(S.load_suite('when2call', FIX/'malformed')) == 2
    assert len(caught) == 5 and 'when2call_test_llm_judge.jsonl:2:' in str(caught[0].message)
    with pytest.raises(JSONLError, match=r'when2call_test_llm_judge\.jsonl:2:'):
        S.load_suite('when2call', FIX/'malformed', strict=True)
    assert len(S.load_suite('when2call', FIX/'malformed', strict=True, limit=1)) == 1   # stops before the bad line

def test_missing_files_say_where_they_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match='no BFCL_v4_irrelevance.json'):
        S.load_suite('bfcl-irrelevance', tmp_path)
    with pytest.raises(ValueError, match='unknown suite'):
        S.load_suite('bfcl-multiple', FIX)

def test_overlap_and_no_double_count(cases, runs):
    ov = S.suite_overlap(cases['when2call'], cases['bfcl-live-simple'])
    assert list(ov['source_key']) == ['live_simple_2-1-0', 'live_simple_0-0-0']
    t = S.cross_suite_table([runs[('oracle', n)] for n in S.SUITES])
    assert t.loc[('total', 'all'), 'n'] == sum(map(len, cases.values())) - 2
    assert t.loc[('total', 'all'), 'n_shared_dropped'] == 2

def test_oracle_is_right_on_every_suite(runs):
    for n in S.SUITES:
        assert runs[('oracle', n)].summary['accuracy'] == 1.0, n       # the harness's strict correctness
    m = S.when2call_metrics(runs[('oracle', 'when2call')])
    assert (m['accuracy']['rate'], m['macro_f1'], m['tool_hallucination_rate']['rate'], m['unsuitable_call_rate']['rate']) == (1.0, 1.0, 0.0, 0.0)
    b = {n: S.bfcl_metrics(runs[('oracle', n)])[n] for n in S.SUITES if n != 'when2call'}
    assert [b[n]['irrelevance_accuracy']['rate'] for n in S.BFCL_NO_CALL] == [1.0, 1.0]
    assert b['bfcl-live-relevance']['relevance_accuracy']['rate'] == 1.0 and b['bfcl-live-simple']['ast_accuracy']['rate'] == 1.0

def test_always_call_tool_fails_irrelevance_and_calls_on_relevance(runs):
    b = {n: S.bfcl_metrics(runs[('always_call_tool', n)])[n] for n in S.SUITES if n != 'when2call'}
    assert [b[n]['irrelevance_accuracy']['rate'] for n in S.BFCL_NO_CALL] == [0.0, 0.0]
    assert [b[n]['relevance_accuracy']['rate'] for n in ('bfcl-live-relevance', 'bfcl-live-simple')] == [1.0, 1.0]
    m = S.when2call_metrics(runs[('always_call_tool', 'when2call')])
    assert m['tool_hallucination_rate']['k'] == m['tool_hallucination_rate']['n'] == 1     # the no-tools question: it invents a tool
    assert m['unsuitable_call_rate']['rate'] == 1.0 and m['per_class']['tool_call']['recall']['rate'] == 1.0

def test_ast_checker_rules(cases):
    c = cases['bfcl-live-simple'][1]
    tool, gt = c.tools[0], [{'uber.ride': {'loc': ['2020 Addison Street, Berkeley, CA'], 'type': ['comfort'], 'time': [600]}}]
    chk = lambda name='uber.ride', **a: S.bfcl_ast_check([{'name': name, 'arguments': a}], tool, gt)
    assert chk(loc='2020 ADDISON street berkeley, ca', type='comfort', time=600) == (True, '')
    assert chk('uber_ride', loc='2020 Addison Street, Berkeley, CA', type='comfort', time=600)[1].startswith('wrong function')
    assert chk(loc='x', type='comfort', time=600)[1].startswith("value of 'loc'")
    assert chk(loc='2020 Addison Street, Berkeley, CA', type='comfort', time=600, tip=5)[1] == "unexpected argument 'tip'"
    assert chk(loc='2020 Addison Street, Berkeley, CA', type='comfort', time=True)[1] == "wrong type for 'time': bool"
    f = {'name': 'f', 'parameters': {'type': 'object', 'required': ['x'], 'properties': {'x': {'type': 'number'}, 'y': {'type': 'string'}}}}
    assert S.bfcl_ast_check([{'name': 'f', 'arguments': {'x': 2}}], f, [{'f': {'x': [2.0], 'y': ['', 'a']}}]) == (True, '')   # int for float; y optional
    assert S.bfcl_ast_check([{'name': 'f', 'arguments': {'x': 2}}], f, [{'f': {'x': [2.0], 'y': ['a']}}])[1] == "argument 'y' left out"
    assert S.bfcl_ast_check([{'name': 'f', 'arguments': {'x': 1}}] * 2, f, [{'f': {'x': [1]}}])[1] == 'wrong number of calls: 2'

def test_cross_suite_table_and_chart(runs, tmp_path):
    t = S.cross_suite_table([runs[('always_call_tool', n)] for n in S.SUITES])
    assert t.loc[('bfcl-irrelevance', 'answer_directly'), 'benchmark_label'] == 'no call'
    assert t.loc[('when2call', 'refuse'), 'benchmark_label'] == 'cannot_answer'
    row = t.loc[('bfcl-irrelevance', 'all')]
    assert (row['unsuitable_call_rate'], row['action_accuracy']) == (1.0, 0.0) and 0 < row['unsuitable_call_ci_low'] < 1
    assert t.loc[('bfcl-live-simple', 'all'), 'over_restraint_rate'] == 0.0
    p = S.plot_cross_suite(t, tmp_path/'x.png')
    assert p.exists() and p.stat().st_size > 10_000

def test_external_table_and_protocol_notes(runs):
    models = {'oracle': [runs[('oracle', n)] for n in S.SUITES]}
    df = S.external_table(models)
    assert df.loc['oracle', 'BFCL live simple AST'] == '100% [57, 100] (n=5)'
    assert df.loc['oracle', 'When2Call macro-F1'].startswith('100.0 [100.0, 100.0]')
    assert df.loc['Llama 3.2 3B Instruct', 'When2Call tool hallucination (no tools)'] == '52%'
    assert 'published' in df.loc['Llama 3.2 3B Instruct', 'protocol'] and 'measured here' in df.loc['oracle', 'protocol']
    assert 'not measured here' in S.external_table_caption({'oracle': ['runs/oracle']})
    for n in S.SUITES: assert len(S.protocol_note(n)) > 200
    assert 'LLM-judge' in S.protocol_note('when2call') and '3,652' in S.protocol_note('when2call')

def test_metrics_refuse_records_without_cases(runs):
    r = runs[('oracle', 'when2call')]
    with pytest.raises(ValueError, match='give a Run'):
        S.when2call_metrics(r.records)
    assert S.when2call_metrics(r.records, list(r.cases.values()))['n'] == 6
