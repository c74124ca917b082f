"""The Modal app imports offline with no token, and its functions run locally (.local())."""
import importlib.util, os
from pathlib import Path
from conftest import ROOT

def load_app(monkeypatch):
    for k in ('MODAL_TOKEN_ID', 'MODAL_TOKEN_SECRET'): monkeypatch.delenv(k, raising=False)
    spec = importlib.util.spec_from_file_location('aiqarus_modal_app', ROOT/'modal'/'app.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m

def test_app_imports_offline(monkeypatch):
    m = load_app(monkeypatch)
    assert m.app.name == 'aiqarus'
    assert all(callable(getattr(m, f).local) for f in ('sft', 'simpo', 'eval'))

def test_eval_runs_locally(monkeypatch, tmp_path):
    m = load_app(monkeypatch)
    s = m.eval.local('always_call_tool', str(tmp_path/'run'), n_per_category=1)
    assert s['n'] == 14 and s['per_action_turns']['call_tool']['accuracy'] == 1.0
