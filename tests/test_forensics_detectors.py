"""Forensics detectors on hand-labelled positives and negatives (>= 20 each): precision and recall >= 0.9."""
import yaml
from aiqarus.parse import think_action_contradiction, invented_values   # the definitions forensics (and every stage) uses
from aiqarus.parse import parse_turn
from conftest import FIXTURES

D = yaml.safe_load((FIXTURES/'forensics_labelled.yaml').read_text())

def prf(pos_hits, neg_hits, n_pos):
    tp, fp = sum(pos_hits), sum(neg_hits)
    return tp / max(1, tp + fp), tp / n_pos

def test_contradiction_detector():
    pos, neg = D['contradiction']['positive'], D['contradiction']['negative']
    assert len(pos) >= 20 and len(neg) >= 20
    det = lambda x: think_action_contradiction(x['think'], parse_turn(x['output']).action)
    p, r = prf([det(x) for x in pos], [det(x) for x in neg], len(pos))
    print(f"contradiction: precision {p:.2f} recall {r:.2f}")
    assert p >= 0.9 and r >= 0.9, (p, r, [x['think'] for x in pos if not det(x)], [x['think'] for x in neg if det(x)])

def test_hallucination_detector():
    pos, neg = D['hallucination']['positive'], D['hallucination']['negative']
    assert len(pos) >= 20 and len(neg) >= 20
    det = lambda x: bool(invented_values({k: str(v) if not isinstance(v, bool) else v for k, v in x['arguments'].items()}, x['context']))
    p, r = prf([det(x) for x in pos], [det(x) for x in neg], len(pos))
    print(f"hallucination: precision {p:.2f} recall {r:.2f}")
    assert p >= 0.9 and r >= 0.9, (p, r, [x for x in pos if not det(x)], [x for x in neg if det(x)])
