"""The run contract's promises that cross stages: eval and forensics count the same things, answers are scored on content."""
import json
from pathlib import Path
from aiqarus.eval import run_eval, load_run, Conversation
from aiqarus.generate import make_eval_set, make_case
from aiqarus.backends import oracle_text
from aiqarus.forensics import run_forensics
from aiqarus.schema import ExpectedTurn

class ThinksAskCallsInvented:
    "Scripted: on every second restraint turn, a think block that argues for asking, then a call with an id nobody mentioned."
    name = 'thinks_ask_calls_invented'
    def __init__(self): self.n = 0
    def generate(self, reqs):
        out = []
        for r in reqs:
            e = r.case.expected[r.turn] if r.turn < len(r.case.expected) else None
            self.n += 1
            if e is None or e.action == 'call_tool' or self.n % 2: out.append(oracle_text(r.case, r.turn)); continue
            tool = next(t for t in r.case.tools if not t.get('handoff') and t['parameters'].get('required'))
            args = {k: 'ZZQ-99123' for k in tool['parameters']['required']}
            out.append("<think>\nThe user did not say which record; I should ask for clarification.\n</think>\n\n"
                       f"<tool_call>\n{json.dumps({'name': tool['name'], 'arguments': args})}\n</tool_call>")
        return out

def test_eval_and_forensics_count_the_same(tmp_path):
    run_eval(make_eval_set(4), ThinksAskCallsInvented(), tmp_path/'run', progress=False)
    s = load_run(tmp_path/'run').summary
    f = run_forensics(tmp_path/'run', tmp_path/'fig')
    assert s['flags']['think_action_contradiction'] > 0 and s['flags']['hallucinated_params'] > 0
    assert f['contradiction_cases'] == s['flags']['think_action_contradiction']
    assert f['invented_value_cases'] == s['flags']['hallucinated_params']

def _answer_case():
    c = make_case('multi_step_chaining', 0)
    c.expected = [ExpectedTurn('answer_directly', answer_points=['SHP-1029', '14 March'])]
    return c

def test_answers_are_scored_on_content():
    for text, ok in [("<think>\nThe result is in.\n</think>\n\nThe shipment SHP-1029 arrived on 14 March.", True),
                     ("<think>\nI can answer.\n</think>\n\nThree-way matching is a technique used in data analysis.", False),   # off-topic
                     ("asdf qwer zxcv uiop", False),                                                                        # garbage
                     ("", False)]:                                                                                          # empty
        conv = Conversation(_answer_case()); conv.advance(text)
        t = conv.record().turns[0]
        assert t.correct is ok, (text, t.reason)
    conv = Conversation(_answer_case()); conv.advance('')
    assert conv.record().turns[0].predicted_action == 'unclassified'          # an empty turn is not answer_directly
