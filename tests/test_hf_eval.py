"""The hf: backend end to end in the harness: a tiny Qwen3.5-architecture model built from config, batched, on CPU."""
import json
from aiqarus.tiny import build_tiny_model
from aiqarus.generate import make_eval_set
from aiqarus.eval import run_eval
from aiqarus.backends import HFBackend
from aiqarus.judge import RuleJudge

def test_tiny_qwen3_5_through_the_harness(tmp_path):
    cases = make_eval_set(1)          # one case per category
    build_tiny_model([m['content'] for c in make_eval_set(3) for m in c.messages], tmp_path/'tiny')
    b = HFBackend(str(tmp_path/'tiny'), max_new_tokens=8, batch_size=16)
    r = run_eval(cases, b, tmp_path/'run', judge=RuleJudge(), progress=False)
    assert r.n_cases == 14
    assert r.model_calls <= max(len(c.expected) for c in cases) + 1
    assert b.generated_tokens > 0
    recs = [json.loads(l) for l in (tmp_path/'run'/'scores'/'v1'/'results.jsonl').read_text().splitlines()]
    assert all(rec['turns'][0]['raw'] for rec in recs)        # the raw model text is kept verbatim
    assert set(json.loads((tmp_path/'run'/'scores'/'v1'/'summary.json').read_text())['per_category']) == {c.category for c in cases}
