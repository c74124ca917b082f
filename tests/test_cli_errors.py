"""Bad input at the command line: one line on stderr naming what and where, exit code 2, no traceback, nothing written or changed."""
import hashlib, json, os, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT

AQ = str(Path(sys.executable).parent/'aiqarus')

def _tree(d):
    d = Path(d)
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob('*')) if p.is_file()} if d.exists() else {}

def run(args, cwd=None, env=None):
    e = {**os.environ, **(env or {})}
    return subprocess.run([AQ, *args], capture_output=True, text=True, cwd=cwd or ROOT, env=e)

def assert_user_error(r, *must):
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-1500:])
    err = r.stderr.strip()
    assert 'Traceback' not in r.stderr and len(err.splitlines()) == 1, r.stderr
    for m in must: assert m in err, (m, err)

@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
    d = tmp_path_factory.mktemp('run')/'run'
    r = run(['eval', '--backend', 'always_call_tool', '--n-per-category', '1', '--run-dir', str(d)])
    assert r.returncode == 0, r.stderr
    return d

SETTINGS = {
    'compute = modall': ("settings.ini:2: compute = 'modall'", 'local, modal'),
    'judge_backend = rules': ("settings.ini:2: judge_backend = 'rules'", 'rule'),
    'seed = abc': ("settings.ini:2: seed = 'abc'", 'not an integer'),
    'openai_base_url = localhost:8000': ('openai_base_url', 'not an http(s) URL'),
    'base_modle = x': ('settings.ini:2', 'unknown setting', 'base_modle'),
}

@pytest.mark.parametrize('line', list(SETTINGS))
def test_bad_settings_file(tmp_path, line):
    (tmp_path/'settings.ini').write_text(f"[aiqarus]\n{line}\n")
    assert_user_error(run(['settings'], cwd=tmp_path), *SETTINGS[line])

def test_misspelled_section_and_bad_env(tmp_path):
    (tmp_path/'settings.ini').write_text("[aiqarsu]\nseed = 1\n")
    assert_user_error(run(['settings'], env={'AIQARUS_SETTINGS': str(tmp_path/'settings.ini')}), 'no [aiqarus] section', "['aiqarsu']")
    assert_user_error(run(['settings'], env={'AIQARUS_SEED': 'abc'}), 'AIQARUS_SEED', "'abc'")

@pytest.mark.parametrize('args, must', [
    (['--n-per-category', '0'], ['--n-per-category 0']),
    (['--limit', '-5'], ['--limit -5']),
    (['--category', 'a,b'], ['--category', "['a', 'b']"]),
    (['--category', 'clarification_lop'], ['clarification_lop', 'clarification_loop']),
    (['--backend', 'hf:/nonexistent?batchsize=4'], ['batchsize', 'batch_size']),
    (['--backend', 'nonsense'], ['unknown backend']),
])
def test_bad_eval_selection(tmp_path, args, must):
    assert_user_error(run(['eval', '--backend', 'oracle', '--run-dir', str(tmp_path/'run'), *args]), *must)
    assert not (tmp_path/'run').exists()

def test_bad_cases_files(tmp_path):
    from aiqarus.generate import make_eval_set
    from aiqarus.schema import write_jsonl
    cases = make_eval_set(1)
    (tmp_path/'empty.jsonl').write_text('')
    assert_user_error(run(['eval', '--cases', str(tmp_path/'empty.jsonl'), '--run-dir', str(tmp_path/'r1')]), 'empty.jsonl', 'no cases')
    write_jsonl(tmp_path/'dup.jsonl', [cases[0], cases[0]])
    assert_user_error(run(['eval', '--cases', str(tmp_path/'dup.jsonl'), '--run-dir', str(tmp_path/'r2')]), 'duplicate case id', cases[0].id)
    odd = cases[1].to_dict(); odd['category'] = 'made_up'
    write_jsonl(tmp_path/'odd.jsonl', [cases[0], odd])
    assert_user_error(run(['eval', '--cases', str(tmp_path/'odd.jsonl'), '--run-dir', str(tmp_path/'r3')]), 'made_up', 'unknown categor')
    good = json.dumps(cases[0].to_dict()).encode()
    (tmp_path/'latin1.jsonl').write_bytes(good + b'\n' + 'caf\xe9'.encode('latin-1') + b'\n')
    assert_user_error(run(['eval', '--cases', str(tmp_path/'latin1.jsonl'), '--run-dir', str(tmp_path/'r4')]), 'latin1.jsonl:2', 'UnicodeDecodeError')
    (tmp_path/'broken.jsonl').write_bytes(good + b'\n{"id": "x", \n')
    assert_user_error(run(['eval', '--cases', str(tmp_path/'broken.jsonl'), '--run-dir', str(tmp_path/'r5')]), 'broken.jsonl:2')
    assert not any((tmp_path/f'r{i}').exists() for i in range(1, 6))

def test_existing_run_is_never_mixed_or_touched(finished_run):
    before = _tree(finished_run)
    assert_user_error(run(['eval', '--backend', 'always_call_tool', '--n-per-category', '1', '--run-dir', str(finished_run), '--no-resume']),
                      'already holds a run', 'choose a new run directory')
    r = run(['eval', '--backend', 'oracle', '--n-per-category', '1', '--run-dir', str(finished_run)])
    assert_user_error(r, 'holds another run', 'backend')
    assert 'resume=True' not in r.stderr
    assert_user_error(run(['eval', '--backend', 'always_call_tool', '--n-per-category', '1', '--seed', '4', '--run-dir', str(finished_run)]), 'seed: 0 -> 4')
    assert _tree(finished_run) == before

def test_forensics_and_report_mistakes(tmp_path, finished_run):
    before = _tree(finished_run)
    assert_user_error(run(['forensics', str(finished_run), '--category', 'typo', '--figures-dir', str(tmp_path/'f')]), '--category typo', 'clarification_loop')
    assert_user_error(run(['report', str(tmp_path/'nothing-here'), '--figures-dir', str(tmp_path/'f')]), 'not a run directory')
    assert_user_error(run(['score', str(tmp_path/'nothing-here')]), 'nothing-here')
    assert_user_error(run(['train', 'sft', '--recipe', 'sft_maxi', '--data', 'x.jsonl', '--dry-run']), 'sft_maxi', 'sft_mini')
    assert_user_error(run(['demo', '--preset', 'huge', '--dry-run']), '--preset huge')
    assert _tree(finished_run) == before and not (tmp_path/'f').exists()

def test_works_outside_the_repository(tmp_path):
    "Recipes ship in the package: the mini recipe resolves from any directory."
    r = run(['train', 'sft', '--recipe', 'sft_mini', '--data', 'x.jsonl', '--dry-run'], cwd=tmp_path)
    assert r.returncode == 0 and 'sft_mini.yaml' in r.stdout, r.stderr

def test_rubric_that_cannot_answer_stops_qa(tmp_path):
    "`qa --rubric` against a server that refuses the key: one line, exit 2, a single request — not 'rubric rejected N'."
    import http.server, threading
    hits = []
    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.path); body = b'{"error": {"message": "invalid api key", "type": "invalid_request_error"}}'
            self.send_response(401); self.send_header('Content-Type', 'application/json'); self.send_header('Content-Length', str(len(body)))
            self.end_headers(); self.wfile.write(body)
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Refuse)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        assert run(['generate', '--preset', 'smoke', '--out-dir', str(tmp_path/'data')]).returncode == 0
        before = _tree(tmp_path/'data')
        r = run(['qa', str(tmp_path/'data'), '--rubric', f'openai:http://127.0.0.1:{srv.server_address[1]}/v1?model=judge'])
        assert_user_error(r, 'did not answer', 'HTTP 401', 'nothing was counted as rejected')
        assert len(hits) == 1 and 'rubric rejected' not in r.stdout
        assert _tree(tmp_path/'data') == before
    finally: srv.shutdown()

def test_serve_refuses_what_is_no_gguf_and_qa_an_empty_dir(tmp_path):
    assert_user_error(run(['serve', str(tmp_path/'model.bin')]), 'serve', 'not a .gguf file')
    assert_user_error(run(['serve', str(tmp_path/'missing.gguf')]), 'serve', 'not a .gguf file')
    assert_user_error(run(['qa', str(tmp_path)]), 'no training JSONL files')
