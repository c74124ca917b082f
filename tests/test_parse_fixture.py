"""Action classification on the hand-labelled fixture (>= 250 turns, >= 40 per action)."""
import collections, yaml
from aiqarus.parse import parse_turn
from aiqarus.schema import ACTIONS
from conftest import FIXTURES

ITEMS = yaml.safe_load((FIXTURES/'labelled_turns.yaml').read_text())

def test_fixture_shape():
    counts = collections.Counter(i['action'] for i in ITEMS)
    assert len(ITEMS) >= 250
    assert set(counts) == set(ACTIONS)
    assert min(counts.values()) >= 40, counts
    fmts = collections.Counter(parse_turn(i['output']).format for i in ITEMS)
    for f in ('hermes_json', 'qwen_xml', 'openai', 'bare_json', 'prose'): assert fmts[f] >= 3, fmts

def test_action_accuracy():
    wrong = [(i['action'], parse_turn(i['output']).action, str(i['output'])[:120]) for i in ITEMS
             if parse_turn(i['output']).action != i['action']]
    acc = 1 - len(wrong)/len(ITEMS)
    print(f"action accuracy {acc:.3f} on {len(ITEMS)} turns")
    assert acc >= 0.97, wrong

def test_per_action_accuracy():
    by = collections.defaultdict(list)
    for i in ITEMS: by[i['action']].append(parse_turn(i['output']).action == i['action'])
    for a, v in by.items(): assert sum(v)/len(v) >= 0.9, (a, sum(v), len(v))
