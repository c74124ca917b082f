"""Tool names the OpenAI API refuses (BFCL's and When2Call's dotted names) go out renamed and come back as they were:
against a local fake server, no internet needed."""
import json, re, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from aiqarus.backends import OpenAIBackend, Request, ToolNameMap
from aiqarus.parse import parse_turn
from aiqarus.schema import ToolSpec

def serve(seen):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers['Content-Length']))); seen.append(body)
            name = body['tools'][0]['function']['name']
            reply = {'role': 'assistant', 'content': None,
                     'tool_calls': [{'id': 'c1', 'type': 'function', 'function': {'name': name, 'arguments': '{"numbers": [1, 2]}'}}]}
            data = json.dumps({'choices': [{'message': reply}]}).encode()
            self.send_response(200); self.send_header('Content-Type', 'application/json'); self.send_header('Content-Length', str(len(data)))
            self.end_headers(); self.wfile.write(data)
    srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/v1"

def test_dotted_tool_names_round_trip_through_the_openai_backend():
    seen = []
    srv, url = serve(seen)
    try:
        tools = [ToolSpec('math.sum', 'Sum.', {'type': 'object', 'properties': {'numbers': {'type': 'array'}}}).to_openai(),
                 ToolSpec('math_sum', 'Another tool already called math_sum.').to_openai()]
        history = [{'role': 'user', 'content': 'add 1 and 2'},
                   {'role': 'assistant', 'content': '', 'tool_calls': [{'type': 'function', 'function': {'name': 'math.sum', 'arguments': {'numbers': [3]}}}]},
                   {'role': 'tool', 'content': '3', 'name': 'math.sum'}, {'role': 'user', 'content': 'again with 1 and 2'}]
        out = OpenAIBackend(url, model='m', concurrency=1).generate([Request(history, tools, None, 0)])[0]
    finally: srv.shutdown()
    sent = seen[0]
    wire = [t['function']['name'] for t in sent['tools']]
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", w) for w in wire) and wire[1] == 'math_sum' and wire[0] != 'math_sum'
    assert sent['messages'][1]['tool_calls'][0]['function']['name'] == wire[0] and sent['messages'][2]['name'] == wire[0]
    assert parse_turn(out).tool_calls == [{'name': 'math.sum', 'arguments': {'numbers': [1, 2]}}]   # decoded back
    assert out['tool_name_map'] == {wire[0]: 'math.sum'}

def test_valid_names_are_sent_untouched():
    m = ToolNameMap(['get_order', 'escalate_to_human'])
    assert not m.renames and m.wire_tools(tools := [{'type': 'function', 'function': {'name': 'get_order'}}]) is tools
