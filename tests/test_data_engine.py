"""The offline engine on the v3 preset: grammatical by construction (no tool name turned into a verb phrase in any user turn, no
unfilled slot, no broken spacing or article), request shapes in disjoint pools (train / dev / test / pairs), answer points on every
answer turn and stated by every gold answer, the restraint split, determinism, and the QA figures the issue asked for."""
import collections, re, time
import pytest
from aiqarus.generate import (BUILDERS, CATEGORIES, DOMAINS, LEXICON, PHRASES, POOLS, RESTRAINT_MINIMUM, SHAPES, Draw, make_case,
                              make_eval_set, make_split, pool_shapes, scene_case, tool_library, _rng)
from aiqarus.training_data import PRESETS, gold_messages, make_training_set
from aiqarus.qa import diversity_report, run_qa, user_turns

@pytest.fixture(scope='module')
def v3():
    P, t0 = PRESETS['v3'], time.perf_counter()
    train = [s for t in ('foundation', 'behavioral', 'categories') for s in make_training_set(t, P[t])]
    ev = make_eval_set(P['eval_per_category'])
    return train, ev, time.perf_counter() - t0

@pytest.fixture(scope='module')
def others():
    "Every other case the engine writes: the pairs pool and the two restraint splits."
    return make_eval_set(100, pool='pairs') + make_split('dev') + make_split('test')

# ---- grammatical by construction --------------------------------------------------------------------

TOOL_WORDS = sorted({t.name.replace('_', ' ') for t in tool_library()['known'] + tool_library()['novel']})
DEFECTS = {'unfilled slot': r"[{}]", 'double space': r"  ", 'space before punctuation': r" [,.;:?!]", 'double stop': r"(?<!\.)\.\.(?!\.)",
           'the the': r"(?i)\bthe the\b", 'a before a vowel': r"(?i)\ba (?!one)[aeiou]\w", 'an before a consonant': r"(?i)\ban (?!hour)[b-df-hj-np-tv-z]\w",
           'punctuation pile-up': r",[.?!]|[.?!][,;]"}

def test_no_user_turn_names_a_tool(v3, others):
    "The bug this engine replaces: 'Please approve pto request it.', 'close opportunity won it' — tool names made into verbs."
    train, ev, _ = v3
    bad = [(x.id, w, t) for x in train + ev + others for t in user_turns(x) for w in TOOL_WORDS if w in t.lower()]
    assert not bad, bad[:5]

def test_no_broken_sentences(v3, others):
    train, ev, _ = v3
    said = [t for x in train + ev + others for t in user_turns(x)]
    written = [m.get(f) or '' for s in train for m in s.messages if m['role'] == 'assistant' for f in ('content', 'reasoning_content')]
    bad = [(k, t) for t in said + written for k, rx in DEFECTS.items() if re.search(rx, t)]
    assert not bad, collections.Counter(k for k, _ in bad).most_common() + bad[:5]

# ---- disjoint pools ----------------------------------------------------------------------------------

def _shapes(xs): return {x.metadata['shape'] for x in xs}

def test_pools_share_no_shape(v3, others):
    train, ev, _ = v3
    pairs, dev, test = others[:1400], [c for c in others if '_dev_' in c.id], [c for c in others if '_test_' in c.id]
    assert not _shapes(train) & _shapes(ev)
    assert not _shapes(pairs) & (_shapes(train) | _shapes(ev) | _shapes(dev) | _shapes(test))
    assert not _shapes(dev) & _shapes(test)
    assert not _shapes([c for c in ev if c.metadata['pool'] == 'dev']) & _shapes([c for c in ev if c.metadata['pool'] == 'test'])
    for cat in CATEGORIES:                     # at least 12 shapes per category in the eval pool, none in any other pool
        used = _shapes(c for c in ev if c.category == cat)
        assert len(used) >= 12, (cat, len(used))
        assert {s.split('+')[0] for s in used} <= pool_shapes(cat, 'dev') | pool_shapes(cat, 'test')   # '+follow_up...': a second turn

def test_content_lists_share_nothing_across_pools():
    "Context sentences, replies, privileged actions, sensitive data and questions: a text is in one pool only."
    def pooled(tree, path=()):
        if isinstance(tree, dict) and set(tree) >= {'train', 'eval', 'pairs'}: yield path, tree
        elif isinstance(tree, dict):
            for k, v in tree.items(): yield from pooled(v, path + (k,))
    for src in (PHRASES, LEXICON):
        for path, pools in pooled(src):
            seen = collections.Counter(str(x) for p in ('train', 'eval', 'pairs') for x in pools[p])
            assert all(v == 1 for v in seen.values()), (path, [k for k, v in seen.items() if v > 1])

def test_eval_split_same_uses_training_shapes(v3):
    train, _, _ = v3
    same = make_eval_set(10, eval_split='same')
    assert {c.metadata['pool'] for c in same} == {'train'}
    assert {s.split('+')[0] for s in _shapes(same)} <= {s for c in CATEGORIES for s in pool_shapes(c, 'train')}
    ids = [v for c in same for e in c.expected for call in e.tool_calls for k, v in call['arguments'].items() if k.endswith('_id')]
    assert ids and all(int(v.split('-')[1]) < 5500 for v in ids)            # eval ids, training shapes

# ---- answer points ---------------------------------------------------------------------------------

def test_every_answer_turn_has_points(v3, others):
    _, ev, _ = v3
    missing = [(c.id, k) for c in ev + others for k, e in enumerate(c.expected) if e.action == 'answer_directly' and not e.answer_points]
    assert not missing, missing[:5]
    for d in LEXICON.values():                 # a policy answer's points are facts its answer states
        for q in (q for p in ('train', 'eval', 'pairs') for q in d['questions'][p]): assert all(p in q['answer'] for p in q['points']), q

def test_gold_answers_state_their_points():
    "Training targets teach what the eval scores: every gold answer_directly turn states every answer point of its turn."
    for cat in CATEGORIES:
        for i in range(25):
            rng = _rng('points', cat, i)
            d = DOMAINS[sorted(DOMAINS)[i % len(DOMAINS)]]
            scene = BUILDERS[cat](d, Draw(rng, 'train', 'train'), False)
            case = scene_case(scene, f'{cat}_{i}', cat, d, False)
            msgs = gold_messages(case, rng, scene.gold, scene.slots)
            turns = [m for m in msgs[len(case.messages):] if m['role'] == 'assistant']
            for e, m in zip(case.expected, turns):
                if e.action == 'answer_directly':
                    assert all(p.lower() in m['content'].lower() for p in e.answer_points), (cat, i, e.answer_points, m['content'])

# ---- the restraint split, determinism, time ----------------------------------------------------------

def test_restraint_split(others):
    for split in ('dev', 'test'):
        cases = [c for c in others if f'_{split}_' in c.id]
        assert len(cases) >= 280
        acts = collections.Counter(e.action for c in cases for e in c.expected)
        assert all(acts[a] >= m for a, m in RESTRAINT_MINIMUM.items()), acts

def test_deterministic():
    assert [c.to_dict() for c in make_split('test', seed=3)] == [c.to_dict() for c in make_split('test', seed=3)]
    assert [c.to_dict() for c in make_eval_set(3, pool='pairs')] == [c.to_dict() for c in make_eval_set(3, pool='pairs')]
    a, b = make_training_set('categories', 40, seed=5), make_training_set('categories', 40, seed=5)
    assert [s.to_dict() for s in a] == [s.to_dict() for s in b]
    assert [s.to_dict() for s in a] != [s.to_dict() for s in make_training_set('categories', 40, seed=6)]

def test_v3_in_under_ten_minutes(v3):
    assert v3[2] <= 600, v3[2]

# ---- the acceptance figures, as QA reports them ---------------------------------------------------------

def test_v3_qa_figures(v3):
    train, ev, _ = v3
    res = run_qa(train)
    assert len(res.passed) / len(train) >= 0.98, res.rejection_table()
    rep = diversity_report(res.passed, ev)
    assert {k: v['count'] for k, v in rep['leakage_levels'].items()} == {
        'exact_first_turn': 0, 'near_duplicate_first_turn': 0, 'near_duplicate_user_turns': 0, 'shared_shape': 0}, rep['leakage_levels']
    assert rep['leakage'] == 0
    assert rep['near_duplicate_rate'] <= 0.10, rep['near_duplicate_examples']
    assert rep['eval_distinct_masked_first_user_turns'] >= 1300
    assert len(rep['shapes_per_category_eval']) == 14 and min(rep['shapes_per_category_eval'].values()) >= 12
    print({k: v for k, v in rep.items() if k not in ('leakage_levels', 'near_duplicate_examples', 'leaked_ids')})
