"""The ablation's contract on its smoke preset (tiny Qwen3.5 from config), through the CLI: dev then test, the same cases for every
arm, pairs never mined from a split, arm (b) on (a)'s token budget, every test look on record, paired comparisons against (a)."""
import json, subprocess, sys
from pathlib import Path
import pytest

AQ = str(Path(sys.executable).parent/'aiqarus')
ARMS = 'abcdef'

def demo(root, split):
    r = subprocess.run([AQ, 'demo', '--preset', 'ablation-smoke', '--split', split, '--runs-dir', str(root/'run'), '--figures-dir', str(root/'fig')],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout

@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp('ablation')
    return root, demo(root, 'dev'), demo(root, 'test')

def stage(root, name): return json.loads((root/'run'/name/'stage.json').read_text())['result']

def test_every_arm_on_the_same_cases_of_each_split(smoke):
    from aiqarus.ablation import arm_run_dir, ABLATION_PRESETS, Demo, ABLATION_CODE
    root, dev, test = smoke
    a = Demo(ABLATION_PRESETS['ablation-smoke'], root/'run', root/'fig', code=ABLATION_CODE)
    ids = {}
    for split in ('dev', 'test'):
        for arm in ARMS:
            d = arm_run_dir(a, arm, split)
            ids[split, arm] = {json.loads(l)['id'] for l in (d/'cases.jsonl').read_text().splitlines()}
        assert len({frozenset(ids[split, arm]) for arm in ARMS}) == 1, split
    shapes = lambda split: {json.loads(l)['metadata']['shape'] for l in (arm_run_dir(a, 'a', split)/'cases.jsonl').read_text().splitlines()}
    assert not shapes('dev') & shapes('test')                             # ... and no shared surface shape
    assert stage(root, 'split_dev')['leakage'] == 0 and stage(root, 'split_test')['leakage'] == 0

def test_pairs_come_from_the_pairs_pool_only(smoke):
    root, *_ = smoke
    pairs = [json.loads(l) for l in (root/'run'/'pairs'/'pairs.jsonl').read_text().splitlines()]
    pool = {json.loads(l)['id'] for l in (root/'run'/'eval_pool'/'a_on_pairs_pool'/'cases.jsonl').read_text().splitlines()}
    assert pairs and {p['case_id'] for p in pairs} <= pool
    shapes = lambda path: {json.loads(l)['metadata']['shape'] for l in path.read_text().splitlines()}
    pool_shapes = shapes(root/'run'/'eval_pool'/'a_on_pairs_pool'/'cases.jsonl')
    for sp in ('dev', 'test'): assert not pool_shapes & shapes(root/'run'/f'eval_a_{sp}'/'a'/'cases.jsonl'), sp   # (c), (d) train on other surfaces
    c, d = stage(root, 'simpo_c'), stage(root, 'adv_d')
    assert c['pairs'] == d['pairs'] == len(pairs) and c['steps'] == d['steps']   # (c) and (d): same pairs, same steps

def test_arm_b_gets_arm_a_token_budget(smoke):
    root, *_ = smoke
    a, b = stage(root, 'sft_a'), stage(root, 'sft_b')
    card_a = json.loads((root/'run'/'sft_a'/'adapter'/'run_card.json').read_text())
    card_b = json.loads((root/'run'/'sft_b'/'adapter'/'run_card.json').read_text())
    assert b['token_budget'] == card_a['tokens_seen'] > 0                   # what (a) was actually trained on, as TRL counted it
    assert card_a['tokens_seen'] < card_a['tokens']                         # a tenth of a pass: less than its whole data set
    longest = 4096
    assert abs(card_b['tokens_seen'] - card_a['tokens_seen']) < longest     # both as TRL counted them: matched to within one sample
    assert b['tokens_seen'] == card_b['tokens_seen']
    share = lambda arm, act: stage(root, f'data_{arm}')['action_shares'][act]
    assert share('b', 'clarify') > share('a', 'clarify') and share('b', 'call_tool') < share('a', 'call_tool')   # the over-balanced mix

def test_test_looks_are_recorded_once_per_arm_and_resume_skips(smoke, tmp_path):
    root, dev, test = smoke
    looks = [json.loads(l) for l in (root/'run'/'test_looks.jsonl').read_text().splitlines()]
    assert sorted((x['arm'], x['event']) for x in looks) == sorted((arm, e) for arm in ARMS for e in ('started', 'done'))
    for st in ('data:a', 'sft:a', 'sft:b', 'pairs', 'simpo:c', 'adv:d', 'sweep'): assert f"[{st}] up to date" in test
    again = demo(root, 'test')
    assert 'done in' in again and '[eval:a:test] up to date' in again
    assert len((root/'run'/'test_looks.jsonl').read_text().splitlines()) == 2 * len(ARMS)   # a resumed run does not look again

def test_paired_comparisons_against_a(smoke):
    root, *_ = smoke
    for split in ('dev', 'test'):
        cmp = json.loads((root/'run'/f'compare_{split}'/'compare.json').read_text())
        assert sorted(cmp['vs_a']) == list('bcdef')
        for arm, rows in cmp['vs_a'].items():
            act = [r for r in rows if r['level'] == 'action' and r['unit'] == 'turn']
            assert act and all(r['n_pairs'] > 0 and r['ci_low'] <= r['diff'] <= r['ci_high'] for r in act)
            assert {r['family_size'] for r in act} <= {sum(r['p_value'] == r['p_value'] for r in act)}   # Holm over this comparison's rows
        kinds = {(r['arm'], r['direction']) for r in cmp['directions']}
        assert {(arm, k) for arm in ARMS for k in ('unwarranted_call', 'over_restraint')} <= kinds
        assert (root/'run'/f'compare_{split}'/'ablation.md').read_text().count('## (a) →') == 5
    assert 'answer_directly' in json.loads((root/'run'/'guard_e_test'/'e'/'run.json').read_text())['backend']['name']
    sweep = stage(root, 'sweep')
    assert [s['alpha'] for s in sweep['sweep']] == [0.0, 1.0] and sweep['alpha'] in (0.0, 1.0)
    probe = stage(root, 'probe')
    assert probe['residual_norm'] > 0 and abs(probe['relative_norm'] - probe['vector_norm'] / probe['residual_norm']) < 1e-3

def test_split_is_refused_for_presets_without_splits():
    r = subprocess.run([AQ, 'demo', '--preset', 'smoke', '--split', 'test', '--dry-run'], capture_output=True, text=True)
    assert r.returncode == 2 and '--split is for the ablation presets' in r.stderr + r.stdout
    r = subprocess.run([AQ, 'demo', '--preset', 'ablation', '--split', 'holdout', '--dry-run'], capture_output=True, text=True)
    assert r.returncode == 2 and 'unknown' in r.stderr + r.stdout
    r = subprocess.run([AQ, 'demo', '--preset', 'ablation', '--split', 'test', '--dry-run'], capture_output=True, text=True)
    assert r.returncode == 0 and 'split test' in r.stdout

def try_(root, *extra, name='smoke'):
    return subprocess.run([AQ, 'demo', '--preset', 'ablation-smoke', '--try', name, '--runs-dir', str(root/'run'), '--figures-dir', str(root/'fig'), *extra],
                          capture_output=True, text=True)

def test_a_dev_try_scores_checkpoints_on_dev_only_and_refuses_a_mismatched_dir(smoke):
    import hashlib
    root, *_ = smoke
    looks = (root/'run'/'test_looks.jsonl').read_text()
    r = try_(root)
    assert r.returncode == 0, r.stderr[-3000:]
    out = root/'run'/'tries'/'smoke'
    t = json.loads((out/'try.json').read_text())
    steps = [c['step'] for c in t['checkpoints']]
    assert len(steps) == 2 and steps[1] == 2 * steps[0] and [c['passes'] for c in t['checkpoints']] == [0.1, 0.2]
    ids = lambda p: [json.loads(l)['id'] for l in p.read_text().splitlines()]
    for s in steps: assert ids(out/f'dev_step{s}'/'cases.jsonl') == ids(root/'run'/'eval_a_dev'/'a'/'cases.jsonl')   # (a)'s dev cases, in order
    w = {s: hashlib.sha256((out/'adapter'/f'checkpoint-{s}'/'adapter_model.safetensors').read_bytes()).hexdigest() for s in steps}
    assert w[steps[0]] != w[steps[1]]                                        # two checkpoints of one run, not one adapter twice
    assert t['a_dev'] and all(c['goal']['met'] in (True, False) for c in t['checkpoints'])
    assert (root/'run'/'test_looks.jsonl').read_text() == looks             # a try never looks at test
    again = try_(root)
    assert again.returncode == 0 and 'trained:' not in again.stdout          # resumes: nothing re-trained
    m = json.loads((out/'train.json').read_text()); m['key'] = '0' * 16; (out/'train.json').write_text(json.dumps(m))
    bad = try_(root)
    assert bad.returncode != 0 and 'made by another try setting' in bad.stderr
    r = try_(root, '--split', 'test')
    assert r.returncode == 2 and 'never with --split test' in r.stderr + r.stdout

def test_a_preference_try_mines_its_start_model_on_the_pairs_pool_only(smoke):
    root, *_ = smoke
    looks = (root/'run'/'test_looks.jsonl').read_text()
    if not (root/'run'/'tries'/'smoke'/'try.json').exists(): assert try_(root).returncode == 0
    r = try_(root, name='smoke-simpo')
    assert r.returncode == 0, r.stderr[-3000:]
    out = root/'run'/'tries'/'smoke-simpo'
    ids = lambda p: {json.loads(l)['id'] for l in p.read_text().splitlines()}
    pool = ids(out/'pool'/'cases.jsonl')
    pairs = [json.loads(l) for l in (out/'pairs.jsonl').read_text().splitlines()]
    assert pairs and {p['case_id'] for p in pairs} <= pool                                  # mined on the pool ...
    assert not pool & (ids(root/'run'/'eval_a_dev'/'a'/'cases.jsonl') | ids(root/'run'/'eval_a_test'/'a'/'cases.jsonl'))   # ... never on a split
    from aiqarus.ablation import TRIES
    assert {p['expected_action'] for p in pairs} <= set(TRIES['smoke-simpo'].actions)
    card = json.loads((out/'adapter'/'run_card.json').read_text())
    assert card['kind'] == 'simpo' and card['sft_adapter'].endswith('tries/smoke/adapter') and card['n_pairs'] == len(pairs)
    t = json.loads((out/'try.json').read_text())
    assert t['pairs'] == len(pairs) and len(t['checkpoints']) == 1
    assert (root/'run'/'test_looks.jsonl').read_text() == looks

def test_a_steering_try_sweeps_a_on_dev_first_turns_and_states_the_norm(smoke):
    root, *_ = smoke
    looks = (root/'run'/'test_looks.jsonl').read_text()
    r = try_(root, name='smoke-steer')
    assert r.returncode == 0, r.stderr[-3000:]
    t = json.loads((root/'run'/'tries'/'smoke-steer'/'try.json').read_text())
    probe = stage(root, 'probe')
    assert [s['alpha'] for s in t['sweep']] == [2.0] and t['relative_norm'] == probe['relative_norm']
    n_dev = len((root/'run'/'split_dev'/'cases.jsonl').read_text().splitlines())
    assert all(s['n'] == n_dev and abs(sum(s['distribution'].values()) - 1) < 0.02 for s in t['sweep'])   # every dev case's first turn
    assert t['sweep'][0]['share_of_residual_norm'] == round(2.0 * probe['relative_norm'], 3)
    assert 'up to date' in try_(root, name='smoke-steer').stdout
    assert (root/'run'/'test_looks.jsonl').read_text() == looks
