"""The one OpenAI-compatible client (`aiqarus.llm.OpenAICompatClient`, on the openai SDK) and the `openai:` eval
backend built on it, against a scripted local server on 127.0.0.1: what is retried and what fails fast (counting the
requests the server saw), what goes on the wire, where the key goes (the server) and where it never goes (reprs,
describe(), error messages, logs), and the concurrency / requests-per-minute limits. Gemini gets the same wrapper."""
import asyncio, json, logging, sys, threading, time, traceback, types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import pytest
from aiqarus.llm import (OpenAICompatClient, GeminiClient, LLMRequestError, RetryableLLMError, OPENAI_MESSAGE_KEYS,
                         complete_many, load_llm)
from aiqarus.backends import OpenAIBackend, Request, load_backend
from aiqarus.schema import assistant, tool_call, tool_result, user, system

KEY = 'sk-test-0123456789-not-a-real-key'

class Server:
    "A chat-completions endpoint that plays `steps` in order (then 'ok' forever) and records what it was sent."
    def __init__(self, *steps, reply=None, delay=0.0):
        self.steps, self.reply, self.delay = list(steps), reply or (lambda body: {'role': 'assistant', 'content': 'fine'}), delay
        self.bodies, self.headers, self.inflight, self.peak, self.lock = [], [], 0, 0, threading.Lock()
        srv = self
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
                with srv.lock:
                    srv.bodies.append(body); srv.headers.append({k.lower(): v for k, v in self.headers.items()})
                    step = srv.steps.pop(0) if srv.steps else 'ok'
                    srv.inflight += 1; srv.peak = max(srv.peak, srv.inflight)
                try:
                    time.sleep(srv.delay)
                    if step == 'drop': self.close_connection = True; self.connection.shutdown(2); return
                    if step == 'hang': time.sleep(1.5)        # longer than the client's timeout in the test
                    if isinstance(step, tuple): status, payload = step
                    elif isinstance(step, int): status, payload = step, {'error': {'message': f'scripted {step}'}}
                    else: status, payload = 200, {'choices': [{'message': srv.reply(body)}]}
                    data = json.dumps(payload).encode()
                    self.send_response(status); self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(data))); self.end_headers(); self.wfile.write(data)
                finally:
                    with srv.lock: srv.inflight -= 1
        self.http = ThreadingHTTPServer(('127.0.0.1', 0), H)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"

@pytest.fixture
def serve():
    made = []
    def start(*steps, **kw):
        s = Server(*steps, **kw); made.append(s); return s
    yield start
    for s in made: s.http.shutdown()

def one_request(messages=None, tools=None):
    return Request(messages or [user('hi')], tools or [], None, 0)

# -- retried: 429, 5xx, dropped connections, timeouts --------------------------------------------------------------

def test_429_then_success_is_retried(serve):
    s = serve(429, 'ok')
    assert complete_many(OpenAICompatClient(s.url, model='m', backoff=0.01), ['hi']) == ['fine']
    assert len(s.bodies) == 2

def test_backend_retries_5xx_drop_and_timeout(serve):
    s = serve(503, 'drop', 'hang', 'ok')
    b = OpenAIBackend(s.url, model='m', backoff=0.01, timeout=0.5)
    assert b.generate([one_request()]) == [{'role': 'assistant', 'content': 'fine'}]
    assert len(s.bodies) == 4

def test_retries_give_up_after_max_retries_attempts(serve):
    s = serve(*[429] * 10)
    with pytest.raises(RetryableLLMError, match='HTTP 429'):
        complete_many(OpenAICompatClient(s.url, model='m', backoff=0.01, max_retries=3), ['hi'])
    assert len(s.bodies) == 3

# -- not retried: 4xx fails fast, in one line ----------------------------------------------------------------------

@pytest.mark.parametrize('code', [400, 401, 403, 404])
def test_client_errors_fail_fast(serve, code, monkeypatch):
    monkeypatch.delenv('OPENAI_API_KEY', raising=False)
    s = serve(*[code] * 5)
    with pytest.raises(LLMRequestError) as e:
        complete_many(OpenAICompatClient(s.url, model='m', backoff=0.01), ['hi'])
    assert len(s.bodies) == 1                                   # no retries
    msg = str(e.value)
    assert '\n' not in msg and f'HTTP {code}' in msg and f'scripted {code}' in msg and s.url in msg
    if code == 401: assert 'OPENAI_API_KEY' in msg and 'not set' in msg
    if code == 404: assert 'model name' in msg

def test_backend_fails_fast_on_401(serve):
    s = serve(*[401] * 5)
    with pytest.raises(LLMRequestError, match='HTTP 401'):
        OpenAIBackend(s.url, model='m', backoff=0.01, concurrency=1).generate([one_request()])
    assert len(s.bodies) == 1

# -- the wire format -----------------------------------------------------------------------------------------------

def test_wire_messages_are_standard_and_carry_no_raw(serve):
    s = serve()
    call = assistant('', think='ORD-1001 is given; look it up.', tool_calls=[tool_call('get_order', {'order_id': 'ORD-1001'})])
    call['raw'] = '<think>\nORD-1001 is given; look it up.\n</think>\n\n<tool_call>{"name": "get_order"}</tool_call>'   # as eval keeps it
    call['metadata'] = {'turn': 0}
    msgs = [system('You are an agent.'), user('Where is ORD-1001?'), call, tool_result('{"status": "shipped"}', name='get_order')]
    tools = [{'type': 'function', 'function': {'name': 'get_order', 'parameters': {'type': 'object'}}}]
    OpenAIBackend(s.url, model='m').generate([one_request(msgs, tools)])
    body = s.bodies[-1]
    assert '"raw"' not in json.dumps(body) and 'reasoning_content' not in json.dumps(body)
    assert all(set(m) <= set(OPENAI_MESSAGE_KEYS) for m in body['messages'])
    a, t = body['messages'][2], body['messages'][3]
    assert a['content'].startswith('<think>\nORD-1001 is given; look it up.\n</think>')       # reasoning re-embedded
    assert json.loads(a['tool_calls'][0]['function']['arguments']) == {'order_id': 'ORD-1001'}
    assert t['tool_call_id'] == a['tool_calls'][0]['id']
    assert body['temperature'] == 0 and body['max_tokens'] == 512 and body['tools'] == tools
    assert set(body) <= {'model', 'messages', 'max_tokens', 'temperature', 'tools'}

def test_reply_reasoning_and_tool_calls_reach_the_parser(serve):
    from aiqarus.parse import parse_turn
    reply = {'role': 'assistant', 'content': None, 'reasoning_content': 'Two ids match; still, call.',
             'tool_calls': [{'id': 'c1', 'type': 'function', 'function': {'name': 'get_x', 'arguments': '{"x": "1"}'}}]}
    s = serve(reply=lambda body: reply)
    out = OpenAIBackend(s.url, model='m').generate([one_request()])[0]
    p = parse_turn(out)
    assert p.tool_calls == [{'name': 'get_x', 'arguments': {'x': '1'}}] and 'Two ids match' in p.think

def test_backend_works_across_waves(serve):
    s = serve()
    b = OpenAIBackend(s.url, model='m')
    for _ in range(3): assert b.generate([one_request(), one_request()]) == [{'role': 'assistant', 'content': 'fine'}] * 2
    assert len(s.bodies) == 6

# -- the key -------------------------------------------------------------------------------------------------------

def test_api_key_is_sent_but_never_shown(serve, monkeypatch, caplog):
    monkeypatch.setenv('OPENAI_API_KEY', KEY)
    for name in ('', 'openai', 'httpx', 'httpx2', 'httpcore', 'httpcore2'): caplog.set_level(logging.DEBUG, logger=name)
    ok = serve()
    c = OpenAICompatClient(ok.url, model='m')
    b = OpenAIBackend(ok.url, model='m')
    assert complete_many(c, ['hi']) == ['fine'] and b.generate([one_request()])
    assert all(h['authorization'] == f'Bearer {KEY}' for h in ok.headers)
    bad = serve((401, {'error': {'message': f'Incorrect API key provided: {KEY}'}}))    # servers do echo keys
    with pytest.raises(LLMRequestError) as e:
        complete_many(OpenAICompatClient(bad.url, model='m'), ['hi'])
    shown = [repr(c), repr(b), str(vars(c)), str(vars(b)), json.dumps(c.describe()), json.dumps(b.describe()),
             str(e.value), ''.join(traceback.format_exception(e.value)), caplog.text, c.name, b.name]
    assert 'POST' in caplog.text                      # the SDK's debug log was captured, and checked
    assert not [s for s in shown if KEY in s]
    assert '***' in str(e.value)

def test_key_is_read_from_the_named_variable(serve, monkeypatch):
    monkeypatch.setenv('MY_SERVER_KEY', 'sk-other-key-123')
    s = serve()
    complete_many(load_llm(f'openai:{s.url}?model=m&api_key_env=MY_SERVER_KEY'), ['hi'])
    assert s.headers[-1]['authorization'] == 'Bearer sk-other-key-123'

# -- limits --------------------------------------------------------------------------------------------------------

def test_concurrency_limit_holds_on_the_server(serve):
    s = serve(delay=0.05)
    b = OpenAIBackend(s.url, model='m', concurrency=2)
    assert len(b.generate([one_request() for _ in range(8)])) == 8
    assert s.peak == 2

def test_rpm_limit_paces_request_starts(serve):
    s = serve(429)                                  # the retry counts against the minute too
    c = OpenAICompatClient(s.url, model='m', rpm=2, backoff=0.01)
    clock, slept = [0.0], []
    async def fake_sleep(t): slept.append(t); clock[0] += t
    c.limits.limiter.clock, c.limits.limiter.sleep = (lambda: clock[0]), fake_sleep
    assert complete_many(c, ['a', 'b']) == ['fine', 'fine']
    assert len(s.bodies) == 3 and len(slept) == 1 and slept[0] >= 59    # the third start waited out the minute

# -- one set of defaults, options checked ---------------------------------------------------------------------------

def test_one_set_of_defaults():
    c, b = OpenAICompatClient('http://127.0.0.1:9/v1'), OpenAIBackend('http://127.0.0.1:9/v1')
    assert c.temperature == b.client.temperature == 0.0
    assert c.limits.describe() == b.client.limits.describe() == {'concurrency': 8, 'rpm': None, 'max_retries': 6, 'backoff': 1.0, 'max_wait': 60.0}
    assert c.name == b.name == 'openai:http://127.0.0.1:9/v1?model=default'

def test_unknown_options_are_refused_in_one_line():
    with pytest.raises(ValueError) as e: load_backend('hf:some/model?batchsize=4')
    assert "'batchsize'" in str(e.value) and 'batch_size' in str(e.value) and '\n' not in str(e.value)
    with pytest.raises(ValueError, match="did you mean 'concurrency'"): load_backend('openai:http://127.0.0.1:9/v1?concurency=2')
    with pytest.raises(ValueError, match="did you mean 'concurrency'"): load_llm('openai:http://127.0.0.1:9/v1?concurency=2')
    with pytest.raises(ValueError, match='expected a whole number'): load_backend('hf:some/model?batch_size=four')

# -- Gemini: the same wrapper ----------------------------------------------------------------------------------------

