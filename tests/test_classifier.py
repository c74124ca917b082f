"""The action classifier (`aiqarus.parse.classify_prose`, `parse_turn`) on each failure class of the issue "An action
classifier measured on text others wrote", its honest output (`unclassified`, `cue`, `confidence`) and the hand-off
tool rule. The sentences (tests/fixtures/classifier_cases.yaml) are training text: the lexicon was extended until they
read right, so they guard against regressions and measure nothing — tests/test_agreement.py holds the measures."""
import json, yaml, pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from aiqarus.parse import parse_turn, classify_prose, is_handoff_tool, handoff_tool_names, ParsedTurn
from aiqarus.schema import PREDICTED_ACTIONS, UNCLASSIFIED, ToolSpec
from conftest import FIXTURES

CASES = yaml.safe_load((FIXTURES/'classifier_cases.yaml').read_text(encoding='utf-8'))
CLASSES = {k: v for k, v in CASES.items() if k != 'known_misses'}
ISSUE_CLASSES = ['refuse_lecture', 'refuse_premise', 'refuse_ai_limits', 'cannot_capability', 'howto_answer',
                 'lowercase_clarify', 'policy_answer', 'mixed_clarify', 'escalate_nokeyword', 'unclassified']

def test_every_failure_class_has_cases():
    for k in ISSUE_CLASSES: assert len(CLASSES[k]['turns']) >= 8, k

@pytest.mark.parametrize('action,text', [pytest.param(c['action'], t, id=f"{k}-{i}") for k, c in CLASSES.items()
                                         for i, t in enumerate(c['turns'])])
def test_failure_class(action, text):
    got = classify_prose(text)
    assert got.action == action, got

@pytest.mark.xfail(reason='known misses: phrasings the lexicon does not know yet (listed in the fixture)', strict=False)
@pytest.mark.parametrize('action,text', [(m['action'], m['text']) for m in CASES['known_misses']])
def test_known_misses(action, text): assert classify_prose(text).action == action

def test_parse_turn_reports_the_prose_decision():
    for c in CLASSES.values():
        for t in c['turns']:
            if not t.strip(): continue
            p, q = parse_turn(t), classify_prose(t)
            assert (p.action, p.cue, p.confidence) == tuple(q), t

MIXED = [("I've handed this to the benefits team. Is the number ending 4410 still the best one for them?", 'escalate'),
         ("Is there a reason you need the vault code? I can't share it outside the security team.", 'refuse'),
         ("I can't change the delivery date. Would you like me to send you the carrier's contact details instead?", 'refuse'),
         ("Sorry, I couldn't find that invoice. Could you check the number on the PDF?", 'clarify'),
         ("I didn't forward anything to legal. Do you want me to?", 'clarify'),
         ("I can't file the claim without the policy number — what is it?", 'clarify')]

@pytest.mark.parametrize('text,action', MIXED)
def test_mixed_turns_take_the_action_the_turn_ends_on(text, action): assert classify_prose(text).action == action

@pytest.mark.parametrize('out', ['', '   \n\t', None, b'', '<think>I should ask which account.</think>', '<think></think>   '])
def test_empty_turn_is_unclassified(out):
    p = parse_turn(out)
    assert (p.action, p.confidence) == (UNCLASSIFIED, 0.0)

@pytest.mark.parametrize('text', ['[' * 2000, 'qwfp arst zxcv', '}}}]]]', '@@@ ### $$$', 'lorem ipsum dolor sit amet', 'ok', '...', 'zzz 42 qq'])
def test_garbage_is_not_a_confident_answer(text):
    p = parse_turn(text)
    assert p.action == UNCLASSIFIED or (p.action != 'answer_directly' and p.confidence < 0.5), p

@pytest.mark.parametrize('out', ['<tool_call>\n{"name": "get_order", "arguments": {"order_id": "ORD-9"}}\n</tool_call>',
                                 '<tool_call>\n<function=get_order>\n<parameter=order_id>\nORD-9\n</parameter>\n</function>\n</tool_call>',
                                 '{"name": "get_order", "arguments": {"order_id": "ORD-9"}}',
                                 {'role': 'assistant', 'content': None, 'tool_calls': [{'type': 'function', 'function': {'name': 'get_order', 'arguments': '{}'}}]}])
def test_structured_calls_are_certain(out):
    p = parse_turn(out, tools=['get_order'])
    assert (p.action, p.cue, p.confidence) == ('call_tool', 'tool_call: get_order', 1.0)

def test_a_lookup_tool_is_not_a_handoff():
    tools = ['get_escalation_status', 'escalate_to_human', 'list_escalations', 'escalation_history']
    assert handoff_tool_names(tools) == ['escalate_to_human']
    call = lambda n: parse_turn('<tool_call>{"name": "%s", "arguments": {}}</tool_call>' % n, tools=tools).action
    assert [call(n) for n in tools] == ['call_tool', 'escalate', 'call_tool', 'call_tool']
    assert is_handoff_tool('getEscalationStatus') is False and is_handoff_tool('escalate_ticket') is True

def test_marks_and_setting_stay_authoritative():
    assert is_handoff_tool('get_escalation_status', handoff_tools=['get_escalation_status'])
    assert is_handoff_tool('get_escalation_status', [ToolSpec('get_escalation_status', handoff=True)])
    assert is_handoff_tool({'name': 'lookup_and_escalate', 'handoff': True})
    assert not is_handoff_tool('notify_lead') and is_handoff_tool('notify_lead', [ToolSpec('notify_lead', handoff=True)])

TEXT = st.one_of(st.text(max_size=400), st.lists(st.sampled_from(["I can't", 'escalated', 'which', '?', 'not', 'the team', ' ', '\n',
                 '1.', 'Why', 'no —', 'please', '"', "'", 'ok', 'refund', 'won\'t be issued', 'to']), max_size=40).map(''.join))

@settings(max_examples=1500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(TEXT)
def test_output_is_honest(text):
    p = parse_turn(text)
    assert p.action in PREDICTED_ACTIONS and 0.0 <= p.confidence <= 1.0
    assert (p.action == UNCLASSIFIED) == (p.confidence == 0.0)
    assert p.cue or p.action == UNCLASSIFIED
    json.dumps(p.to_dict())
