"""llama.cpp's real server (llama-cpp-python[server], built by `make server`) on SmolLM2-135M-Instruct: the llamacpp
backend sends exactly the prompt the hf backend renders, a tool-calling eval runs end to end through it, and the
LLM generation path writes schema-shaped samples through the openai client. `make test` builds the server first."""
import json
from pathlib import Path
import pytest
from aiqarus.serve import LlamaServer, ServerFailed, have_llama_server
from aiqarus.llm_generate import _SHAPES

pytestmark = pytest.mark.skipif(not have_llama_server(), reason="llama-cpp-python[server] not installed: make server")

@pytest.fixture(scope='module')
def smollm2():
    from aiqarus.sft import smollm2_path
    d, f = smollm2_path()
    return Path(d)/f

@pytest.fixture(scope='module')
def backend(smollm2):
    from aiqarus.backends import LlamaCppBackend
    from aiqarus.sft import HERMES_THINK
    b = LlamaCppBackend(str(smollm2), max_new_tokens=48, chat_template=HERMES_THINK, n_ctx=4096)
    yield b
    b.close()

def test_prompt_is_the_hf_backends_token_for_token(backend, smollm2):
    from aiqarus.backends import HFBackend, Request
    from aiqarus.schema import ToolSpec
    from aiqarus.sft import HERMES_THINK
    from aiqarus.generate import make_eval_set
    hf = HFBackend(str(smollm2.parent), gguf=smollm2.name, chat_template=HERMES_THINK, max_new_tokens=8)
    for c in make_eval_set(1)[:5]:
        r = Request(c.messages[:2], [(ToolSpec.from_dict(t) if isinstance(t, dict) else t).to_openai() for t in c.tools], None, 0)
        assert backend.prompt(r) == hf.prompt(r)
        served = _tokenize(backend, backend.prompt(r))              # llama.cpp's own tokenizer, as the completion sees it
        assert served == hf.tok(hf.prompt(r), add_special_tokens=False)['input_ids']

def _tokenize(backend, text):
    import urllib.request
    backend._connect()
    req = urllib.request.Request(backend.server.base_url.removesuffix('/v1') + '/extras/tokenize', method='POST',
                                 data=json.dumps({'input': text}).encode(), headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=30) as r: return json.loads(r.read())['tokens']

def test_an_eval_runs_through_the_server_and_records_it(backend, tmp_path):
    from aiqarus.eval import run_eval, load_run
    from aiqarus.generate import make_eval_set
    cases = make_eval_set(1)[:6]
    run_eval(cases, backend, tmp_path/'run', judge=None, progress=False)
    run = load_run(tmp_path/'run')
    assert len(run.records) == 6
    meta = json.loads((tmp_path/'run'/'run.json').read_text())
    b = meta['backend']
    assert b['name'].startswith('llamacpp:') and b['server']['server'] == 'llama-cpp-python'
    assert b['decoding']['temperature'] == 0.0 and b['model']['files']          # the GGUF's sha256 is in the run
    assert backend.generated_tokens > 0

def test_a_server_that_cannot_load_its_model_fails_in_one_error(tmp_path):
    bad = tmp_path/'empty.gguf'; bad.write_bytes(b'not a model')
    srv = LlamaServer(bad, startup_timeout=60)
    with pytest.raises(ServerFailed, match='exited with'): srv.start()
    assert srv.proc is None

def test_llm_generation_through_the_server(smollm2, tmp_path):
    from aiqarus.llm import load_llm
    from aiqarus.llm_generate import make_plan, generate_with_llm, read_shards
    with LlamaServer(smollm2, n_ctx=4096) as srv:
        counts = generate_with_llm(load_llm(srv.spec()), make_plan(2, seed=3), tmp_path/'llm', progress=False)
    assert counts['written'] + counts['rejected'] == 2 and counts['failed'] == 0
    for s in read_shards(tmp_path/'llm'):                   # what the grammar guarantees a finished reply: one of the shapes
        assert tuple(m['role'] for m in s.messages) in _SHAPES

def test_the_server_turns_the_generation_schema_into_a_grammar():
    "llama-cpp-python falls back to plain JSON when it cannot convert a schema; GEN_SCHEMA must convert, positions kept."
    from llama_cpp.llama_grammar import SchemaConverter
    from aiqarus.llm_generate import GEN_SCHEMA
    conv = SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    conv.visit(GEN_SCHEMA, '')
    g = conv.format_grammar()
    for role in ('system', 'user', 'assistant', 'tool'): assert f'\\"{role}\\"' in g       # each role a literal at its position
    assert 'tuple-4' in g and 'think' in g
