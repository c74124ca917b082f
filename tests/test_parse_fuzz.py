"""Property-based fuzzing: parse_turn never raises, whatever the model emits (>= 10,000 examples)."""
import json, os
from hypothesis import given, settings, strategies as st, HealthCheck
from aiqarus.parse import parse_turn, ParsedTurn, json_closure_problem
from aiqarus.schema import ACTIONS, PREDICTED_ACTIONS

N = int(os.environ.get('AIQARUS_FUZZ_EXAMPLES', 10_000))
SEEDS = [
    '<think>\nAsk which shipment.\n</think>\n\n<tool_call>\n{"name": "verify_shipment", "arguments": {"shipment_id": "SHP-1029"}}\n</tool_call>',
    '<tool_call>\n<function=refund_order>\n<parameter=order_id>\nORD-77\n</parameter>\n<parameter=amount>\n12.5\n</parameter>\n</function>\n</tool_call>',
    '{"name": "get_weather", "arguments": {"city": "Oslo", "days": [1, 2, {"x": null}]}}',
    'Which shipment did you receive — SHP-1029 or SHP-1030?',
    "I can't share another employee's salary; it's confidential.",
    "I've escalated this to the finance approvals queue.",
]
TOKENS = ['<think>', '</think>', '<tool_call>', '</tool_call>', '<function=', '</function>', '<parameter=', '</parameter>',
          '{', '}', '[', ']', '"', '\\', ':', ',', '```json', '```', '\n', '?', 'name', 'arguments', '\ud800', '\x00', '\u202e', '🚚', 'İ']

text = st.text(max_size=300)
mutated = st.builds(lambda s, cut, ins, pos: (s[:cut] + ins + s[cut:])[:pos] if pos else s[:cut] + ins + s[cut:],
                    st.sampled_from(SEEDS), st.integers(0, 400), st.lists(st.sampled_from(TOKENS), max_size=8).map(''.join), st.integers(0, 500))
token_soup = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=5)), max_size=60).map(''.join)
huge = st.builds(lambda s, n: s * n, st.sampled_from(SEEDS + TOKENS), st.integers(100, 3000))
nested = st.integers(1, 2000).map(lambda n: '<tool_call>' + '{"a":' * n + '1' + '}' * (n // 2))
jsonish = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                       lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4), max_leaves=12)
messages = st.builds(lambda c, tc, r: {'role': 'assistant', 'content': c, 'tool_calls': tc, 'reasoning_content': r},
                     st.one_of(st.none(), text, mutated), st.one_of(st.none(), st.lists(jsonish, max_size=3),
                     st.lists(st.builds(lambda n, a: {'type': 'function', 'function': {'name': n, 'arguments': a}},
                                        st.text(max_size=12), st.one_of(text, jsonish)), max_size=3)), st.one_of(st.none(), text))
outputs = st.one_of(text, mutated, token_soup, huge, nested, messages, jsonish)

@settings(max_examples=N, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(outputs)
def test_parse_turn_never_raises(out):
    p = parse_turn(out)
    assert isinstance(p, ParsedTurn)
    assert p.action in PREDICTED_ACTIONS
    assert not p.reason.startswith('parser error'), p.reason   # the catch-all must not be what saved us
    assert p.malformed == bool(p.reason)
    json.dumps(p.to_dict())   # always serialisable into results.jsonl

@settings(max_examples=2000, deadline=None, database=None)
@given(jsonish)
def test_closure_agrees_with_json(v):
    s = json.dumps(v)
    assert json_closure_problem(s) is None
    if len(s) > 1 and s[0] in '{[': assert json_closure_problem(s[:-1]) is not None
