"""The Modal app as Modal will see it when deployed — its functions' GPU, Volume, timeout and signatures, the image's pip
line against the versions tested here, the files it ships — all read offline with no token; each job run through
`.local()` on a tiny Qwen3.5; and `dispatch(compute='modal')` refused, before any work, when it cannot start."""
import functools, importlib.metadata, importlib.util, inspect, json, shlex, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT

modal = pytest.importorskip('modal')
from modal._utils.async_utils import synchronizer
import aiqarus
from aiqarus.config import settings
from aiqarus import compute
from aiqarus.compute import JOBS, ModalNotReady, dispatch

def load_app(monkeypatch, **env):
    for k in ('MODAL_TOKEN_ID', 'MODAL_TOKEN_SECRET'): monkeypatch.delenv(k, raising=False)
    for k, v in env.items(): monkeypatch.setenv(k, v)
    settings(reload=True)
    spec = importlib.util.spec_from_file_location('aiqarus_modal_app', ROOT/'modal'/'app.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m

@pytest.fixture(autouse=True)
def fresh_settings():
    yield
    settings(reload=True)

def image_layers(image) -> list:
    "The image as Modal will build it, base first: ('commands', Dockerfile lines) and ('files', container paths) per layer."
    out = []
    def walk(img):
        for dep in img._deps():
            if type(dep).__name__ == '_Image': walk(dep)
            elif type(dep).__name__ == '_Mount':
                out.append(('files', sorted(str(r) for e in dep._entries for _, r in e.get_files_to_upload())))
        fn = inspect.getclosurevars(img._load).nonlocals.get('dockerfile_function')
        if fn is not None: out.append(('commands', fn('2025.06').commands))
    walk(synchronizer._translate_in(image))
    assert out, 'modal changed how an Image keeps its layers: update image_layers'
    return out

def pip_requirements(image) -> list:
    lines = [c for kind, cmds in image_layers(image) if kind == 'commands' for c in cmds if ' pip install ' in c and 'upgrade' not in c]
    assert len(lines) == 1, lines
    return shlex.split(lines[0].split(' pip install ', 1)[1])

def installed_version(name: str) -> str:
    return importlib.metadata.version(name).split('+')[0]      # 2.13.0+cpu is torch 2.13.0

# -- as deployed ---------------------------------------------------------------------------------------------------

def test_app_imports_offline(monkeypatch):
    m = load_app(monkeypatch)
    assert m.app.name == settings().modal_app
    assert all(callable(getattr(m, f).local) for f in JOBS)

@pytest.mark.parametrize('env', [{}, {'AIQARUS_MODAL_GPU': 'H100', 'AIQARUS_MODAL_MOUNT': '/vol', 'AIQARUS_MODAL_VOLUME': 'aq-test'}])
def test_functions_as_modal_sees_them(monkeypatch, env):
    m = load_app(monkeypatch, **env)
    S = settings()
    for name, job in JOBS.items():
        fn = getattr(m, name)
        info = fn.info()                             # the function's own record; no network for a locally defined function
        assert info.gpus == [(S.modal_gpu, 1)]
        assert {p: v.name for p, v in info.volumes.items()} == {S.modal_mount: S.modal_volume}
        assert info.timeout == m.TIMEOUT == 24 * 3600    # Modal's ceiling
        assert info.secrets == [] and info.max_retries is None   # no key in the image; a failed job is not re-run blindly
        assert inspect.signature(fn._raw_f_).parameters.keys() == inspect.signature(job).parameters.keys(), name
        assert [p.default for p in inspect.signature(fn._raw_f_).parameters.values()] == \
               [p.default for p in inspect.signature(job).parameters.values()], name

def test_image_pins_match_the_tested_versions(monkeypatch):
    from packaging.specifiers import SpecifierSet
    m = load_app(monkeypatch)
    reqs = pip_requirements(m.image)
    pinned = dict(r.split('==') for r in reqs if '==' in r)
    assert pinned == {**m.PINS, **m.GPU_PINS}
    assert {k: installed_version(k) for k in m.PINS} == m.PINS      # the versions this environment runs the tests with
    assert 'vllm' not in sys.modules                             # vLLM is checked by its declared requirements, not installed
    for dep, spec in m.VLLM_DECLARES.items():
        assert m.PINS[dep] in SpecifierSet(spec), f"vllm {m.GPU_PINS['vllm']} declares {dep}{spec}, the image pins {m.PINS[dep]}"
    declared = [m.requirement_name(d) for d in __import__('tomllib').loads((ROOT/'pyproject.toml').read_text())['project']['dependencies']]
    assert set(declared) <= {m.requirement_name(r) for r in reqs}, 'every core dependency is in the image'

def test_image_ships_the_package_data_and_the_settings(monkeypatch):
    m = load_app(monkeypatch)
    layers = image_layers(m.image)
    files = {f for kind, fs in layers if kind == 'files' for f in fs}
    pkg = Path(aiqarus.__file__).parent
    data = {f"/root/aiqarus/{p.relative_to(pkg).as_posix()}" for p in pkg.rglob('*.yaml')} | {f"/root/aiqarus/{p.name}" for p in pkg.glob('*.py')}
    assert {'/root/aiqarus/recipes/sft_v3.yaml', '/root/aiqarus/recipes/simpo_v3.yaml'} <= data <= files
    assert '/root/settings.ini' in files and not any('__pycache__' in f for f in files)
    env = [c for kind, cmds in layers if kind == 'commands' for c in cmds if c.startswith('ENV ')]
    assert any('AIQARUS_COMPUTE=local' in c for c in env) and any('AIQARUS_SETTINGS=/root/settings.ini' in c for c in env)

# -- each job through .local() on a tiny Qwen3.5 ----------------------------------------------------------------------

def test_each_job_runs_locally_on_a_tiny_qwen3_5(monkeypatch, tmp_path):
    from aiqarus.tiny import build_tiny_model
    from aiqarus.training_data import make_training_set
    from aiqarus.generate import make_eval_set
    from aiqarus.schema import write_jsonl
    from aiqarus.pairs import pairs_from_run, write_pairs
    m = load_app(monkeypatch)
    data = make_training_set('foundation', 8, seed=3)
    cases = make_eval_set(1, seed=0)[:3]
    write_jsonl(tmp_path/'train.jsonl', data); write_jsonl(tmp_path/'cases.jsonl', cases)
    build_tiny_model([json.dumps(s.messages) + json.dumps(s.tools) for s in data] + [json.dumps(c.messages) for c in cases],
                     tmp_path/'base', vocab_size=4096)
    tiny = {'model_name_or_path': str(tmp_path/'base'), 'aiqarus_chat_template': 'qwen3_5', 'max_length': 4096,
            'per_device_train_batch_size': 2, 'logging_steps': 1}
    card = m.sft.local('sft_mini', str(tmp_path/'train.jsonl'), str(tmp_path/'sft'), 1, tiny)
    assert card['steps'] == 1 and (tmp_path/'sft'/'adapter_model.safetensors').exists()
    run = m.eval.local(f"hf:{tmp_path/'base'}?adapter={tmp_path/'sft'}&max_new_tokens=16", str(tmp_path/'run'), str(tmp_path/'cases.jsonl'))
    assert run['n'] == 3 and (tmp_path/'run'/'run.json').exists()
    failed = m.eval.local('always_call_tool', str(tmp_path/'anchor'), n_per_category=1)
    pairs = pairs_from_run(tmp_path/'anchor')
    assert failed['n'] == 14 and pairs
    write_pairs(pairs[:4], tmp_path/'pairs.jsonl')
    card = m.simpo.local('simpo_mini', str(tmp_path/'pairs.jsonl'), str(tmp_path/'simpo'), str(tmp_path/'sft'), 1, tiny)
    assert card['steps'] == 1 and card['sft_adapter'] == str(tmp_path/'sft') and card['eos']['doubled'] == 0

# -- dispatch(compute='modal'): refused before any work ---------------------------------------------------------------

@pytest.fixture
def no_token(monkeypatch):
    "No Modal credentials anywhere: not in the environment, not in ~/.modal.toml; every job and every Modal lookup recorded."
    for k in ('MODAL_TOKEN_ID', 'MODAL_TOKEN_SECRET', 'MODAL_OAUTH_REFRESH_TOKEN'): monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(modal.config, '_user_config', {})
    calls = []
    def recorder(job):
        @functools.wraps(job)                            # keeps the job's signature, which dispatch checks paths against
        def ran(*a, **k): calls.append(('local', job.__name__))
        return ran
    for name, job in list(JOBS.items()): monkeypatch.setitem(JOBS, name, recorder(job))
    monkeypatch.setattr(modal.Function, 'from_name', lambda *a, **k: calls.append(('modal', a)))
    return calls

def test_modal_without_a_token_fails_before_any_work(no_token):
    with pytest.raises(ModalNotReady) as e:
        dispatch('sft', 'sft_v3', '/data/v3/qa/passed.jsonl', '/data/adapter/x', compute='modal')
    msg = str(e.value)
    assert '\n' not in msg and all(s in msg for s in ('MODAL_TOKEN_ID', 'MODAL_TOKEN_SECRET', '`modal token new`'))
    assert no_token == []                                # no job ran here, nothing was looked up on Modal

def test_modal_without_a_token_from_the_cli(tmp_path):
    "The shell sees the same line, and exits non-zero before touching the data (which does not exist)."
    env = {k: v for k, v in __import__('os').environ.items() if not k.startswith('MODAL_')}
    env.update(HOME=str(tmp_path), MODAL_CONFIG_PATH=str(tmp_path/'none.toml'))
    r = subprocess.run([str(Path(sys.executable).parent/'aiqarus'), 'train', 'sft', '--recipe', 'sft_mini', '--data', '/data/missing.jsonl',
                        '--out', '/data/adapter/x', '--compute', 'modal'], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode != 0 and 'modal token new' in r.stdout + r.stderr
    assert 'missing.jsonl' not in r.stdout + r.stderr       # refused before the data was read

def test_modal_paths_must_be_on_the_volume(no_token, monkeypatch):
    monkeypatch.setenv('MODAL_TOKEN_ID', 'ak-test'); monkeypatch.setenv('MODAL_TOKEN_SECRET', 'as-test')
    with pytest.raises(ModalNotReady, match=r'out_dir=adapters/sft-v3 is not on it'):
        dispatch('sft', 'sft_v3', '/data/v3/qa/passed.jsonl', 'adapters/sft-v3', compute='modal')
    own = Path(__file__)                                  # a recipe file of one's own, not on the Volume
    with pytest.raises(ModalNotReady, match='recipe='):
        dispatch('sft', str(own), '/data/d.jsonl', '/data/o', compute='modal')
    assert no_token == []

def test_modal_dispatch_forwards_to_the_deployed_function(no_token, monkeypatch):
    monkeypatch.setenv('MODAL_TOKEN_ID', 'ak-test'); monkeypatch.setenv('MODAL_TOKEN_SECRET', 'as-test')
    class Deployed:
        def __init__(self, app, name): self.at = (app, name)
        def hydrate(self): return self
        def remote(self, *a, **k): return {'ran': self.at, 'args': a, 'kw': k}
    monkeypatch.setattr(modal.Function, 'from_name', Deployed)
    shipped = str(Path(aiqarus.__file__).parent/'recipes'/'sft_v3.yaml')      # what the CLI passes for --recipe sft_v3
    out = dispatch('sft', shipped, '/data/d.jsonl', '/data/o', max_steps=2, compute='modal')
    assert out == {'ran': (settings().modal_app, 'sft'), 'args': (shipped, '/data/d.jsonl', '/data/o'), 'kw': {'max_steps': 2}}
    class Missing(Deployed):
        def hydrate(self): raise modal.exception.NotFoundError('App not found')
    monkeypatch.setattr(modal.Function, 'from_name', Missing)
    with pytest.raises(ModalNotReady, match='modal deploy modal/app.py'):
        dispatch('eval', 'oracle', '/data/runs/x', compute='modal')
