"""`aiqarus.llm.GeminiClient` on the real google-genai SDK, pointed (`base_url`) at a scripted `generateContent` server
on 127.0.0.1: plain text, structured JSON against a schema, a 429 then success, a 500 burst that exhausts the retries,
a reply cut at the token limit (finishReason MAX_TOKENS), a blocked prompt or reply (SAFETY) — and where the key goes
(the `x-goog-api-key` header) and where it never goes (the URL, logs, the generation directory)."""
import json, logging, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import pytest
from aiqarus.llm import (GeminiClient, LLMRequestError, RetryableLLMError, TruncatedReply, BlockedReply, complete_many,
                         load_llm, run_async)
from aiqarus.llm_generate import GEN_SCHEMA, make_plan, generate_with_llm, read_shards

pytest.importorskip('google.genai')

KEY = 'zq7-fake-gemini-key-7f3c9e1d-never-log-me'   # a made-up value, shaped like no real key
MODEL = 'gemini-test'

def candidate(text, finish='STOP', **kw):
    return {'candidates': [{'content': {'role': 'model', 'parts': [{'text': text}]}, 'finishReason': finish, **kw}],
            'usageMetadata': {'promptTokenCount': 10, 'candidatesTokenCount': 5}}

def api_error(code, status, message):
    return code, {'error': {'code': code, 'message': message, 'status': status}}

SAFETY = (200, {'candidates': [{'finishReason': 'SAFETY', 'safetyRatings': [
    {'category': 'HARM_CATEGORY_DANGEROUS_CONTENT', 'probability': 'HIGH', 'blocked': True}]}]})
PROMPT_BLOCKED = (200, {'promptFeedback': {'blockReason': 'PROHIBITED_CONTENT'}})

class GeminiServer:
    "A `models/{model}:generateContent` endpoint that plays `steps` in order (then `reply` forever) and records each request."
    def __init__(self, *steps, reply=None):
        self.steps, self.reply = list(steps), reply or (lambda body: candidate('hello'))
        self.requests, self.lock = [], threading.Lock()
        srv = self
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
                with srv.lock:
                    srv.requests.append({'path': self.path, 'headers': {k.lower(): v for k, v in self.headers.items()}, 'body': body})
                    step = srv.steps.pop(0) if srv.steps else 'ok'
                if step == 'ok': status, payload = 200, srv.reply(body)
                elif isinstance(step, int): status, payload = api_error(step, 'INTERNAL' if step >= 500 else 'RESOURCE_EXHAUSTED', f'scripted {step}')
                else: status, payload = step
                data = json.dumps(payload).encode()
                self.send_response(status); self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data))); self.end_headers(); self.wfile.write(data)
        self.http = ThreadingHTTPServer(('127.0.0.1', 0), H)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"

@pytest.fixture
def serve(monkeypatch):
    monkeypatch.setenv('GEMINI_API_KEY', KEY)
    monkeypatch.delenv('GOOGLE_API_KEY', raising=False)
    made = []
    def start(*steps, **kw):
        s = GeminiServer(*steps, **kw); made.append(s); return s
    yield start
    for s in made: s.http.shutdown()

def client(s, **kw): return GeminiClient(MODEL, base_url=s.url, rpm=None, backoff=0.001, **kw)

# -- what goes on the wire ---------------------------------------------------------------------------------------

def test_plain_text_and_the_request(serve):
    s = serve()
    assert complete_many(client(s), ['Say hello.'], system='Be brief.', max_tokens=64) == ['hello']
    (r,) = s.requests
    assert r['path'].endswith(f'/models/{MODEL}:generateContent') and KEY not in r['path']
    assert r['headers']['x-goog-api-key'] == KEY                     # the key travels in the header, nowhere else
    assert r['body']['contents'] == [{'parts': [{'text': 'Say hello.'}], 'role': 'user'}]
    assert r['body']['systemInstruction']['parts'] == [{'text': 'Be brief.'}]
    assert r['body']['generationConfig'] == {'maxOutputTokens': 64, 'temperature': 0.0}

def test_structured_json_with_a_response_schema_becomes_a_passed_sample(serve, tmp_path):
    "A well-formed conversation in schema-shaped JSON goes through generation into a shard, and QA passes it."
    from aiqarus.qa import run_qa
    item = make_plan(8, seed=0)[0]
    assert item['action'] == 'answer_directly'
    conv = {'messages': [{'role': 'system', 'content': 'You are a compliance assistant.'},
                         {'role': 'user', 'content': 'How long is the refund window for orders?'},
                         {'role': 'assistant', 'content': 'Refunds are accepted within 30 days of delivery.',
                          'think': 'This is a general policy question I can answer directly from policy; no tool call is needed.'}]}
    s = serve(reply=lambda body: candidate(json.dumps(conv)))
    counts = generate_with_llm(client(s), [item], tmp_path/'gen', progress=False)
    assert counts == {'planned': 1, 'already_done': 0, 'written': 1, 'rejected': 0, 'failed': 0}
    cfg = s.requests[0]['body']['generationConfig']
    assert cfg['responseMimeType'] == 'application/json' and cfg['responseJsonSchema'] == GEN_SCHEMA
    assert cfg['temperature'] == 0.7 and cfg['maxOutputTokens'] == 3000
    qa = run_qa(read_shards(tmp_path/'gen'))
    assert [x.id for x in qa.passed] == [item['id']] and not qa.rejected

def test_load_llm_spec_round_trips_with_base_url(serve):
    s = serve()
    g = load_llm(f'gemini:{MODEL}?base_url={s.url}&rpm=none&max_retries=2')
    assert (g.base_url, g.limits.rpm, g.limits.max_retries) == (s.url, None, 2)
    assert load_llm(g.name).name == g.name and KEY not in repr(g) + json.dumps(g.describe())

# -- retried, and when retries run out ---------------------------------------------------------------------------

def test_429_then_success_is_retried(serve):
    s = serve(429, 'ok')
    assert complete_many(client(s), ['hi']) == ['hello'] and len(s.requests) == 2

def test_500_burst_exhausts_retries_with_a_clear_error(serve, tmp_path):
    s = serve(*[500] * 10)
    with pytest.raises(RetryableLLMError) as e:
        complete_many(client(s, max_retries=3), ['hi'])
    assert str(e.value) == f'gemini:{MODEL}?base_url={s.url}: HTTP 500' and len(s.requests) == 3
    # through generation: no sample is written, and nothing on disk is half a line
    s.steps[:] = [500] * 10
    counts = generate_with_llm(client(s, max_retries=3), make_plan(1, seed=0), tmp_path/'gen', progress=False)
    assert counts['written'] == 0 and not list((tmp_path/'gen').glob('shard-*.jsonl'))
    for p in (tmp_path/'gen').glob('*.jsonl'):
        text = p.read_text()
        assert text.endswith('\n') and all(json.loads(line) for line in text.splitlines())

def test_connection_refused_is_retried_then_reported_in_one_line(serve):
    s = serve(); s.http.shutdown(); s.http.server_close()
    with pytest.raises(RetryableLLMError, match='connection or timeout'):
        complete_many(client(s, max_retries=2), ['hi'])

def test_a_refused_key_fails_fast_and_is_masked(serve):
    s = serve(*[api_error(401, 'UNAUTHENTICATED', f'API key not valid: {KEY}')] * 3)
    with pytest.raises(LLMRequestError) as e:
        complete_many(client(s), ['hi'])
    assert len(s.requests) == 1 and KEY not in str(e.value)
    assert 'HTTP 401: API key not valid: *** (check GEMINI_API_KEY)' in str(e.value)

@pytest.mark.parametrize('code, status', [(400, 'INVALID_ARGUMENT'), (403, 'PERMISSION_DENIED'), (404, 'NOT_FOUND')])
def test_client_errors_fail_fast(serve, code, status):
    s = serve(*[api_error(code, status, f'scripted {code}')] * 3)
    with pytest.raises(LLMRequestError, match=f'gemini:.*HTTP {code}: scripted {code}'):
        complete_many(client(s), ['hi'])
    assert len(s.requests) == 1

# -- a 200 that is not an answer -----------------------------------------------------------------------------------

CUT_AT = '\\"status\\": \\"in_tr'     # the reply stops inside the tool result's JSON

def shipment_conversation() -> str:
    tool = json.dumps({'shipment_id': 'SHP-1029', 'status': 'in_transit', 'eta': '2025-03-02', 'carrier': 'Maersk'})
    return json.dumps({'messages': [
        {'role': 'system', 'content': 'You are a logistics operations assistant.'},
        {'role': 'user', 'content': 'Where is shipment SHP-1029 right now?'},
        {'role': 'assistant', 'content': '', 'think': 'The user gave the shipment id SHP-1029, so I should look it up with get_shipment.',
         'tool_calls': [{'name': 'get_shipment', 'arguments': {'shipment_id': 'SHP-1029'}}]},
        {'role': 'tool', 'content': tool},
        {'role': 'assistant', 'content': 'Shipment SHP-1029 is in transit with Maersk, arriving 2025-03-02.',
         'think': 'The tool result shows it is in transit, so I can answer the user now.'}]})

def cut_reply() -> str:
    full = shipment_conversation()
    return full[:full.index(CUT_AT) + len(CUT_AT)]

def test_max_tokens_is_a_truncated_reply_never_text(serve):
    s = serve((200, candidate(cut_reply(), 'MAX_TOKENS')))
    with pytest.raises(TruncatedReply) as e:
        complete_many(client(s), ['write'], max_tokens=3000)
    assert e.value.text == cut_reply() and e.value.finish_reason == 'MAX_TOKENS'
    assert 'reply cut at the token limit (finishReason MAX_TOKENS, max_output_tokens=3000)' in str(e.value)
    assert len(s.requests) == 1                                           # a cut reply is not retried

def test_max_tokens_through_generation_reaches_qa(serve, tmp_path):
    "A cut reply is closed and kept with its finish reason, so QA rejects it as cut (or, if nothing can be salvaged, generation records it naming the limit)."
    from aiqarus.qa import run_qa
    item = make_plan(8, seed=0)[4]
    s = serve(reply=lambda body: candidate(cut_reply(), 'MAX_TOKENS'))
    counts = generate_with_llm(client(s), [item], tmp_path/'gen', progress=False)
    assert counts['written'] + counts['rejected'] == 1 and counts['failed'] == 0
    if counts['written']:
        (smp,) = read_shards(tmp_path/'gen')
        assert smp.metadata['finish_reason'] == 'MAX_TOKENS'
        res = run_qa([smp])
        assert not res.passed and any('reply cut at the token limit' in r for _, why in res.rejected for r in why['truncated_tool_json'])
    else:
        (row,) = [json.loads(l) for l in open(tmp_path/'gen'/'rejects.jsonl')]
        assert row['plan_id'] == item['id'] and 'MAX_TOKENS' in row['reason']


# -- the key: environment in, header out, nowhere else -------------------------------------------------------------

def test_key_appears_in_no_log_file_or_output(serve, tmp_path, caplog, capsys):
    "Generate with every kind of reply — good, rate-limited, refused with the key echoed back, cut, blocked — at DEBUG."
    caplog.set_level(logging.DEBUG)
    for name in ('google_genai', 'httpx', 'httpx2', 'httpcore', 'aiohttp', 'tenacity', 'aiqarus'):
        logging.getLogger(name).setLevel(logging.DEBUG)
    item = make_plan(8, seed=0)[4]
    steps = [429, 'ok', api_error(403, 'PERMISSION_DENIED', f'key {KEY} may not use {MODEL}'),
             (200, candidate(cut_reply(), 'MAX_TOKENS')), SAFETY, 500, 'ok']
    s = serve(*steps, reply=lambda body: candidate(shipment_conversation()))
    plan = make_plan(6, seed=0)
    g = client(s, concurrency=1)
    from aiqarus.llm_generate import GenerationAborted
    for _ in range(4):                      # a refused key stops the run at once (not a rejection); the rerun resumes
        try: generate_with_llm(g, plan, tmp_path/'gen', progress=True); break
        except GenerationAborted as e: assert KEY not in str(e)
    rejects = [json.loads(l) for l in open(tmp_path/'gen'/'rejects.jsonl')]
    assert len(read_shards(tmp_path/'gen')) >= 1 and len(rejects) >= 1 and item['id'] in {p['id'] for p in plan}
    assert all(r['headers']['x-goog-api-key'] == KEY for r in s.requests)       # the key was really in use
    assert not any(KEY in r['path'] for r in s.requests)
    out = capsys.readouterr()
    seen = caplog.text + out.out + out.err + repr(g) + json.dumps(g.describe())
    written = {p: p.read_bytes() for p in tmp_path.rglob('*') if p.is_file()}
    assert written and KEY not in seen
    assert not [str(p) for p, b in written.items() if KEY.encode() in b]
    assert KEY[:12] not in seen + ''.join(b.decode(errors='replace') for b in written.values())  # not even a prefix
