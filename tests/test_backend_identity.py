"""Backend identity for self-describing run directories: every backend's `describe()` — spec, weights with their
sha256, adapter, decoding, and the chat template it actually renders — on the scripted anchors, a tiny Qwen3.5 built
from config (CPU), and an OpenAI-compatible server; the hash cache; and a changed weight file changing the hash."""
import hashlib, json, shutil
from pathlib import Path
import pytest
import aiqarus.backends as backends
from aiqarus.backends import (HFBackend, OpenAIBackend, OracleBackend, AlwaysCallToolBackend, backend_identity, describe_weights,
                              file_sha256, load_backend, template_sha256)

KEYS = {'spec', 'name', 'model', 'adapter', 'decoding', 'chat_template_sha256'}

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    from aiqarus.tiny import build_tiny_model
    from aiqarus.generate import make_eval_set
    d = tmp_path_factory.mktemp('tiny')
    build_tiny_model([m['content'] for c in make_eval_set(2) for m in c.messages], d)
    return d

def sha(p): return hashlib.sha256(Path(p).read_bytes()).hexdigest()

def test_scripted_describe_is_stable():
    for spec in ('oracle', 'always_call_tool'):
        a, b = load_backend(spec).describe(), load_backend(spec).describe()
        assert a == b and set(a) == KEYS and json.loads(json.dumps(a)) == a
        assert a == {'spec': spec, 'name': spec, 'model': {'name': spec, 'files': {}}, 'adapter': None, 'decoding': {},
                     'chat_template_sha256': None}
    assert OracleBackend().describe()['spec'] is None and AlwaysCallToolBackend().describe()['spec'] is None   # not made from a spec

def test_tiny_model_describe_hashes_its_weights(tiny):
    b = load_backend(f'hf:{tiny}?max_new_tokens=4&batch_size=2&enable_thinking=false')
    d = b.describe()
    assert set(d) >= KEYS and json.loads(json.dumps(d)) == d                  # fits in run.json as is
    assert d['spec'] == f'hf:{tiny}?max_new_tokens=4&batch_size=2&enable_thinking=false'
    assert d['model'] == {'path': str(Path(tiny).resolve()), 'files': {'model.safetensors': sha(tiny/'model.safetensors')}}
    assert d['adapter'] is None
    assert {k: d['decoding'][k] for k in ('max_new_tokens', 'batch_size', 'enable_thinking', 'do_sample')} == \
           {'max_new_tokens': 4, 'batch_size': 2, 'enable_thinking': False, 'do_sample': False}
    assert '<|im_end|>' in d['decoding']['stop']
    assert d['chat_template_sha256'] == template_sha256(b.tok.chat_template) is not None
    assert d == b.describe()

def test_chat_template_hash_is_of_the_template_injected(tiny):
    patched = HFBackend(str(tiny), max_new_tokens=2, chat_template='{{ messages[0].content }}')
    assert patched.describe()['chat_template_sha256'] == hashlib.sha256(b'{{ messages[0].content }}').hexdigest()
    assert patched.describe()['chat_template_sha256'] != HFBackend(str(tiny), max_new_tokens=2).describe()['chat_template_sha256']

def test_changing_a_weight_file_changes_the_hash(tiny, tmp_path):
    from safetensors.torch import load_file, save_file
    d = tmp_path/'m'; shutil.copytree(tiny, d)
    before = describe_weights(d)['files']['model.safetensors']
    assert before == sha(tiny/'model.safetensors')
    w = load_file(d/'model.safetensors')
    name = sorted(w)[0]; w[name] = w[name] + 1.0                             # same shapes, same size on disk: new bytes
    save_file(w, d/'model.safetensors', metadata={'format': 'pt'})
    after = describe_weights(d)['files']['model.safetensors']
    assert after != before and after == sha(d/'model.safetensors')

def test_hashes_are_cached_by_path_size_and_mtime(tmp_path, monkeypatch):
    f = tmp_path/'adapter_model.safetensors'; f.write_bytes(b'x' * 1000)
    first = file_sha256(f)
    def no_reading(*a, **k): raise AssertionError('the file was read again')
    monkeypatch.setattr(backends, 'open', no_reading, raising=False)        # shadows the builtin inside aiqarus.backends
    assert file_sha256(f) == first
    monkeypatch.undo()
    f.write_bytes(b'y' * 1001)
    assert file_sha256(f) == hashlib.sha256(b'y' * 1001).hexdigest()

def test_describe_weights_shapes(tmp_path):
    (tmp_path/'model-00001-of-00002.safetensors').write_bytes(b'a'); (tmp_path/'model-00002-of-00002.safetensors').write_bytes(b'b')
    (tmp_path/'model.gguf').write_bytes(b'g'); (tmp_path/'training_args.bin').write_bytes(b't'); (tmp_path/'optimizer.pt').write_bytes(b'o')
    (tmp_path/'tokenizer.json').write_text('{}'); (tmp_path/'checkpoint-10').mkdir(); (tmp_path/'checkpoint-10'/'model.safetensors').write_bytes(b'c')
    files = describe_weights(tmp_path)['files']
    assert sorted(files) == ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.gguf', 'optimizer.pt', 'training_args.bin']
    assert describe_weights(tmp_path, only='model.gguf')['files'] == {'model.gguf': hashlib.sha256(b'g').hexdigest()}
    assert describe_weights(tmp_path/'model.gguf')['files'] == {'model.gguf': hashlib.sha256(b'g').hexdigest()}
    assert describe_weights('nobody/not-downloaded-model') == {'name': 'nobody/not-downloaded-model', 'files': {}}

def test_adapter_is_described(tiny, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    m = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny), LoraConfig(r=2, target_modules=['q_proj', 'v_proj']))
    m.save_pretrained(tmp_path/'adapter')
    d = HFBackend(str(tiny), adapter=str(tmp_path/'adapter'), max_new_tokens=2).describe()
    assert d['adapter']['files'] == {'adapter_model.safetensors': sha(tmp_path/'adapter'/'adapter_model.safetensors')}
    assert d['model']['files'] == {'model.safetensors': sha(tiny/'model.safetensors')}

def test_server_backend_describe(monkeypatch):
    monkeypatch.setenv('OPENAI_API_KEY', 'sk-never-in-describe-0000')
    b = load_backend('openai:http://127.0.0.1:9/v1?model=qwen3-8b&max_new_tokens=64')
    d = b.describe()
    assert set(d) >= KEYS and 'sk-never' not in json.dumps(d)
    assert d['spec'] == 'openai:http://127.0.0.1:9/v1?model=qwen3-8b&max_new_tokens=64'
    assert d['model'] == {'name': 'qwen3-8b', 'base_url': 'http://127.0.0.1:9/v1', 'files': {}}
    assert d['decoding']['temperature'] == 0.0 and d['decoding']['max_new_tokens'] == 64
    assert d['chat_template_sha256'] is None and d['api_key_env'] == 'OPENAI_API_KEY'

def test_backend_identity_covers_the_guardrail():
    from aiqarus.guardrail import GuardrailBackend
    g = GuardrailBackend(load_backend('oracle'), mode='replace')
    d = backend_identity(g)
    assert d['spec'] == 'oracle' and d['name'] == g.name and d['wraps'] == 'oracle'
    assert backend_identity(load_backend('oracle')) == load_backend('oracle').describe()
