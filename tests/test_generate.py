"""Data generation: byte-identical output for a seed, the v3 volumes and mix (and computed difficulty), and an LLM-backed run
killed with SIGKILL against a local server, then resumed: nothing lost, nothing duplicated."""
import collections, json, os, signal, subprocess, sys, textwrap, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from aiqarus.schema import read_jsonl, Sample, Case, normalize_mix, DEFAULT_MIX
from aiqarus.training_data import PRESETS

AQ = str(Path(sys.executable).parent/'aiqarus')

def test_same_seed_same_bytes(tmp_path):
    for d in ('a', 'b'): subprocess.run([AQ, 'generate', '--preset', 'smoke', '--out-dir', str(tmp_path/d)], check=True, capture_output=True)
    for f in ('foundation', 'behavioral', 'categories', 'eval'):
        assert (tmp_path/'a'/f'{f}.jsonl').read_bytes() == (tmp_path/'b'/f'{f}.jsonl').read_bytes()

def test_v3_volumes_and_mix(tmp_path):
    r = subprocess.run([AQ, 'generate', '--preset', 'v3', '--out-dir', str(tmp_path)], check=True, capture_output=True, text=True)
    n = {f: sum(1 for _ in open(tmp_path/f'{f}.jsonl')) for f in ('foundation', 'behavioral', 'categories', 'eval')}
    assert n == {'foundation': 21501, 'behavioral': 3123, 'categories': 1538, 'eval': 1400}
    assert 27_000 <= sum(n.values()) <= 28_000
    acts = collections.Counter(json.loads(l)['action'] for l in open(tmp_path/'foundation.jsonl'))
    target = normalize_mix(DEFAULT_MIX)
    for a, share in target.items(): assert abs(acts[a] / n['foundation'] - share) <= 0.01, (a, acts[a], share)
    cats = collections.Counter(json.loads(l)['category'] for l in open(tmp_path/'eval.jsonl'))
    assert len(cats) == 14 and set(cats.values()) == {100}
    # difficulty is computed from each case (aiqarus.generate.case_difficulty), not drawn: every label occurs,
    # and the label and its features come back from the written case alone
    from aiqarus.generate import case_difficulty
    evals = [json.loads(l) for l in open(tmp_path/'eval.jsonl')]
    assert collections.Counter(e['difficulty'] for e in evals).keys() == {'easy', 'medium', 'hard'}
    assert all(case_difficulty(e) == (e['difficulty'], e['metadata']['difficulty_features']) for e in evals)

def test_overbalanced_mix(tmp_path):
    subprocess.run([AQ, 'generate', '--preset', 'mini', '--type', 'foundation', '--out-dir', str(tmp_path),
                    '--mix', 'call_tool=30,answer_directly=15,clarify=28,escalate=17,refuse=10'], check=True, capture_output=True)
    acts = collections.Counter(json.loads(l)['action'] for l in open(tmp_path/'foundation.jsonl'))
    assert abs(acts['clarify'] / PRESETS['mini']['foundation'] - 0.28) <= 0.01

# ---- LLM generation against a local OpenAI-compatible server -------------------------------------

REPLY = json.dumps({'messages': [{'role': 'system', 'content': 'You are an agent.'}, {'role': 'user', 'content': 'What is net 30?'},
                                 {'role': 'assistant', 'content': 'Payment is due 30 days after the invoice date.', 'think': 'General question; no tool needed.'}]})

def start_server(delay=0.02):
    n = {'i': 0}
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_POST(self):
            self.rfile.read(int(self.headers['Content-Length']))
            n['i'] += 1
            time.sleep(delay)
            if n['i'] % 7 == 0:      # a free-tier 429 now and then
                self.send_response(429); self.send_header('Content-Length', '0'); self.end_headers(); return
            data = json.dumps({'choices': [{'message': {'role': 'assistant', 'content': REPLY}}]}).encode()
            self.send_response(200); self.send_header('Content-Length', str(len(data))); self.end_headers(); self.wfile.write(data)
    srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv

RUN = textwrap.dedent('''
    import sys
    from aiqarus.llm import OpenAICompatClient
    from aiqarus.llm_generate import make_plan, generate_with_llm
    plan = [{**p, 'action': 'answer_directly'} for p in make_plan(120)]
    generate_with_llm(OpenAICompatClient(sys.argv[1], model='m', concurrency=2, backoff=0.01), plan, sys.argv[2], shard_size=25, progress=False)
''')

def test_llm_generation_survives_sigkill(tmp_path):
    srv = start_server()
    url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    script = tmp_path/'run.py'; script.write_text(RUN)
    out = tmp_path/'llm'
    p = subprocess.Popen([sys.executable, str(script), url, str(out)])
    deadline = time.time() + 60
    def written(): return sum(sum(1 for _ in open(f)) for f in out.glob('*.jsonl')) if out.exists() else 0
    while time.time() < deadline and written() < 30: time.sleep(0.02)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    first = written()
    assert 0 < first < 120, first
    subprocess.run([sys.executable, str(script), url, str(out)], check=True, timeout=120)
    srv.shutdown()
    from aiqarus.llm_generate import read_shards, make_plan
    ids = [s.id for s in read_shards(out)] + [r['plan_id'] for r in read_jsonl(out/'rejects.jsonl')] if (out/'rejects.jsonl').exists() else [s.id for s in read_shards(out)]
    assert len(ids) == len(set(ids)) == 120
    assert sorted(ids) == sorted(p['id'] for p in make_plan(120))
