"""The OpenAI-compatible paths (eval backend and LLM client — one client, `aiqarus.llm.OpenAICompatClient`, on the
openai SDK) against a local server on 127.0.0.1: retries on 429 and on a dropped connection, tools passed natively,
no internet needed. More of the client (fail-fast statuses, the wire format, the key) is in test_openai_client.py."""
import json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import pytest
from aiqarus.backends import OpenAIBackend, Request
from aiqarus.llm import OpenAICompatClient, complete_many
from aiqarus.parse import parse_turn
from aiqarus.generate import make_case

class Script:
    "What the fake server does on each request, in order; then 'ok' forever."
    def __init__(self, *steps): self.steps, self.seen, self.headers = list(steps), [], []

def serve(script, reply):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
            script.seen.append(body); script.headers.append({k.lower(): v for k, v in self.headers.items()})
            step = script.steps.pop(0) if script.steps else 'ok'
            if step == 'drop':   # close the socket without an HTTP response
                self.close_connection = True; self.connection.shutdown(2); return
            if step == '429':
                self.send_response(429); self.send_header('Content-Length', '0'); self.end_headers(); return
            data = json.dumps({'choices': [{'message': reply(body)}]}).encode()
            self.send_response(200); self.send_header('Content-Type', 'application/json'); self.send_header('Content-Length', str(len(data))); self.end_headers()
            self.wfile.write(data)
    srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/v1"

@pytest.fixture
def server():
    made = []
    def start(script, reply):
        srv, url = serve(script, reply); made.append(srv); return url
    yield start
    for s in made: s.shutdown()

def tool_reply(body):
    name = body['tools'][0]['function']['name']
    return {'role': 'assistant', 'content': None, 'tool_calls': [{'id': 'c1', 'type': 'function', 'function': {'name': name, 'arguments': '{"x": "1"}'}}]}

def test_eval_backend_retries_and_passes_tools(server):
    script = Script('429', 'drop', 'ok')
    url = server(script, tool_reply)
    c = make_case('handoff_routing', 0)
    b = OpenAIBackend(url, model='m', backoff=0.01, concurrency=1)
    out = b.generate([Request(c.messages, [{'type': 'function', 'function': {'name': 'get_x', 'parameters': {'type': 'object'}}}], None, 0)])[0]
    assert parse_turn(out).tool_calls == [{'name': 'get_x', 'arguments': {'x': '1'}}]
    assert len(script.seen) == 3 and script.seen[-1]['tools'][0]['function']['name'] == 'get_x'

def test_llm_client_retries_then_gives_up(server):
    script = Script('429', 'drop')
    url = server(script, lambda b: {'role': 'assistant', 'content': '{"ok": true}'})
    c = OpenAICompatClient(url, model='m', backoff=0.01)
    assert complete_many(c, ['hi'], json_schema={'type': 'object'}) == ['{"ok": true}']
    assert script.seen[-1]['response_format']['type'] == 'json_schema'
    bad = Script(*['429'] * 10)
    url2 = server(bad, lambda b: {})
    with pytest.raises(Exception, match='429'):
        complete_many(OpenAICompatClient(url2, model='m', backoff=0.01, max_retries=3), ['hi'])
    assert len(bad.seen) == 3

def test_api_key_comes_from_environment(server, monkeypatch):
    script = Script()
    url = server(script, lambda b: {'role': 'assistant', 'content': 'x'})
    monkeypatch.setenv('OPENAI_API_KEY', 'sk-test-not-a-real-key')
    assert complete_many(OpenAICompatClient(url), ['hi']) == ['x']
    assert script.headers[-1]['authorization'] == 'Bearer sk-test-not-a-real-key'    # read when the connection is made
    monkeypatch.delenv('OPENAI_API_KEY')
    complete_many(OpenAICompatClient(url), ['hi'])
    assert script.headers[-1]['authorization'] == 'Bearer no-key'                    # a placeholder for local servers

def test_guardrail_wraps_openai_backend(server):
    from aiqarus.guardrail import GuardrailBackend
    contradiction = {'role': 'assistant', 'content': "<think>\nTwo shipments match; I should ask which one.\n</think>\n\n",
                     'tool_calls': [{'id': 'c1', 'type': 'function', 'function': {'name': 'verify_shipment', 'arguments': '{"shipment_id": "SHP-1029"}'}}]}
    script = Script()
    url = server(script, lambda body: contradiction)
    g = GuardrailBackend(OpenAIBackend(url, model='m', backoff=0.01), mode='regenerate')
    msgs = [{'role': 'system', 'content': 'Pending: SHP-1029 and SHP-1030.'}, {'role': 'user', 'content': 'Verify the shipment.'}]
    out = g.generate([Request(msgs, [], None, 0)])[0]
    p = parse_turn(out)
    assert p.action == 'clarify' and 'SHP-1029 or SHP-1030' in p.content
    assert len(script.seen) == 2 and 'do not call any tool' in script.seen[1]['messages'][-1]['content']   # regenerated once, then replaced
    assert g.stats.fired == 1 and g.stats.replaced == 1
