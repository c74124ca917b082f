"""aiqarus.agreement: When2Call's reference answers and the held-out turns scored by parse_turn. The loader reads the
directory it is given; these tests use tests/fixtures/when2call_mini (same format, written for the project). The tests
on the real When2Call file run only where ../shared/external/when2call exists."""
import hashlib, json, shutil
from pathlib import Path
import pytest, yaml
from statsmodels.stats.proportion import proportion_confint
from aiqarus.agreement import (when2call_split, load_when2call_answers, agreement_table, label_noise, heldout_agreement,
                               agreement_report, score, wilson, cue_precision, fit_confidence, training_text,
                               reviewed_label_noise, WHEN2CALL_FILE, WHEN2CALL_ROLES)
from aiqarus.schema import ACTIONS, PREDICTED_ACTIONS
from conftest import FIXTURES, ROOT

MINI = FIXTURES/'when2call_mini'
HELDOUT = FIXTURES/'heldout'
from conftest import SHARED_EXTERNAL
REAL = SHARED_EXTERNAL/'when2call'
needs_real = pytest.mark.skipif(not REAL.exists(), reason='the real When2Call file is only checked where ../shared/external/when2call exists')

def test_split_rule_is_the_documented_hash():
    for u in ['276e4475-e087-4660-9a3a-1fe295fa452c', 'a', '00005eed-0000-0000-0000-000000000002']:
        even = int(hashlib.sha256(u.encode()).hexdigest()[-1], 16) % 2 == 0
        assert when2call_split(u) == ('calibration' if even else 'test')

def test_loader_reads_the_directory_it_is_given(tmp_path):
    items = load_when2call_answers(MINI)
    assert len(items) == 24 and {i['label'] for i in items} == set(WHEN2CALL_ROLES)
    assert set(items[0]) >= {'uuid', 'label', 'gold', 'text', 'tools', 'split', 'accepts'}
    (tmp_path/'data'/'test').mkdir(parents=True)                          # the official repository layout
    shutil.copy(MINI/WHEN2CALL_FILE, tmp_path/'data'/'test'/WHEN2CALL_FILE)
    assert load_when2call_answers(tmp_path) == items
    with pytest.raises(FileNotFoundError): load_when2call_answers(tmp_path/'nowhere')

def test_agreement_table_counts_and_wilson():
    t = agreement_table(load_when2call_answers(MINI))
    assert list(t.index) == [*WHEN2CALL_ROLES, 'all'] and (t['n'][:-1] == 6).all() and t.loc['all', 'n'] == 24
    assert t.loc['cannot_answer', 'agreed'] == 6                          # refuse or escalate both count
    k, n = int(t.loc['direct', 'agreed']), int(t.loc['direct', 'n'])
    assert (t.loc['direct', 'lo'], t.loc['direct', 'hi']) == pytest.approx(proportion_confint(k, n, method='wilson'))
    assert all(map(lambda v: v != v, wilson(0, 0)))                      # NaN when there is nothing to count

def test_label_noise_lists_each_disagreement_with_its_text():
    noise = label_noise(load_when2call_answers(MINI), reviewed={})
    assert list(noise.columns) == ['split', 'uuid', 'label', 'predicted', 'cue', 'noise', 'text']
    assert len(noise) == 24 - int(agreement_table(load_when2call_answers(MINI)).loc['all', 'agreed'])
    assert 'Shall I proceed' in noise.text.iloc[0]

def _heldout(tmp_path, rows):
    (tmp_path/'dev.jsonl').write_text(''.join(json.dumps({'tools': [], 'register': 'x', 'note': '', **r}) + '\n' for r in rows))
    return tmp_path/'dev.jsonl'

def test_heldout_agreement_table_and_confusion(tmp_path):
    p = _heldout(tmp_path, [{'id': 'a', 'action': 'refuse', 'text': "I'm not able to share that."},
                            {'id': 'b', 'action': 'answer_directly', 'text': ''},
                            {'id': 'c', 'action': 'call_tool', 'text': '{"name": "get_x", "arguments": {}}'}])
    h = heldout_agreement(p)
    assert list(h['confusion'].index) == list(ACTIONS) and list(h['confusion'].columns) == list(PREDICTED_ACTIONS)
    assert h['confusion'].loc['answer_directly', 'unclassified'] == 1 and h['table'].loc['all', 'agreed'] == 2

def test_report_is_json_and_scores_only_the_files_asked_for(tmp_path):
    _heldout(tmp_path, [{'id': 'a', 'action': 'clarify', 'text': 'which site, north or south'}])
    (tmp_path/'test.jsonl').write_text('not json\n')                       # never read unless asked for
    rep = agreement_report(MINI, tmp_path, heldout_splits=('dev',))
    json.dumps(rep)
    assert set(rep['when2call']) >= {'calibration', 'test', 'disagreements', 'label_noise', 'split_rule'}
    assert list(rep['heldout']) == ['dev'] and rep['heldout']['dev']['table']['clarify']['agreed'] == 1
    assert agreement_report() == {}

def test_package_does_not_depend_on_shared():
    for p in (ROOT/'aiqarus').glob('*.py'): assert '/work/shared' not in p.read_text(), p

@needs_real
def test_when2call_agreement_reaches_the_bar():
    items = score(load_when2call_answers(REAL))
    for half, bar in (('calibration', 0.97), ('test', 0.95)):
        t = agreement_table([i for i in items if i['split'] == half])
        for role in ('tool_call', 'request_for_info', 'cannot_answer'): assert t.loc[role, 'rate'] >= bar, (half, role, t)
        assert t.loc['direct', 'n'] > 100                                  # reported, with its label-noise list

@needs_real
def test_reviewed_label_noise_names_real_disagreements():
    noise = label_noise(load_when2call_answers(REAL))
    judged = noise[noise.noise != '']
    assert len(judged) == len(reviewed_label_noise())                      # every reviewed item is still a disagreement

@needs_real
def test_shipped_confidences_are_the_fitted_ones():
    shipped = yaml.safe_load((ROOT/'aiqarus'/'data'/'action_cues.yaml').read_text())['confidence']
    fitted = fit_confidence(training_text(FIXTURES, REAL))
    assert {k: shipped[k] for k in fitted} == fitted

def test_heldout_dev_per_action():
    t = heldout_agreement(HELDOUT/'dev.jsonl')['table']                   # the tuning set: a regression check, not a measure
    for a in ACTIONS: assert t.loc[a, 'rate'] >= 0.95, t
