"""README tables rendered from run directories (`aiqarus.report.render_readme`): idempotent, prose untouched, stale blocks found,
and the real README in sync with the committed runs."""
import json
import pytest
from conftest import ROOT
from aiqarus.schema import Record, TurnResult, read_jsonl, write_jsonl
from aiqarus.eval import summarize
from aiqarus.report import render_readme, readme_blocks, readme_out_of_date

def rec(cid, cat, outcomes, exp):
    ts = [TurnResult(i, exp, exp if ok else 'call_tool', correct=ok) for i, ok in enumerate(outcomes)]
    return Record(cid, cat, 'easy', 'known', ts, [], all(outcomes))

def write_run(d, records):
    "An old-layout run directory: results.jsonl + summary.json."
    write_jsonl(d/'results.jsonl', records)
    (d/'summary.json').write_text(json.dumps(summarize(records)))
    return d

CASES = [('clarification_loop', 'clarify'), ('scope_creep', 'call_tool'), ('handoff_routing', 'escalate')] * 4

def make_runs(root, flip=()):
    "Two runs on the same 12 cases: `base` gets the clarify cases wrong, `better` gets them right (minus `flip`)."
    base, better = [], []
    for k, (cat, act) in enumerate(CASES):
        cid = f"{cat}_{k:03d}"
        base.append(rec(cid, cat, [act != 'clarify', True], act))
        better.append(rec(cid, cat, [cid not in flip, act != 'escalate' or k % 2 == 0], act))
    return write_run(root/'data'/'runs'/'base', base), write_run(root/'data'/'runs'/'better', better)

README = """# demo

Some prose that must survive. | not a table |

<!-- aiqarus:table actions data/runs/base -->
| stale | table |
<!-- /aiqarus:table -->

Between blocks.

<!-- aiqarus:table action_turns base=data/runs/base "after SimPO=data/runs/better" -->
<!-- /aiqarus:table -->

<!-- aiqarus:table categories data/runs/better -->
old
<!-- /aiqarus:table -->

<!-- aiqarus:table compare data/runs/base data/runs/better --level=category -->
<!-- /aiqarus:table -->

How a block is written (not rendered, it is in a code fence):

```
<!-- aiqarus:table actions data/runs/DOES_NOT_EXIST -->
<!-- /aiqarus:table -->
```
The end.
"""

def outside(text):
    "The README without its block bodies: what rendering must leave alone."
    out, last = [], 0
    for b in readme_blocks(text): out.append(text[last:b.start]); last = b.end
    return ''.join(out) + text[last:]

def test_render_is_idempotent_and_keeps_prose(tmp_path):
    make_runs(tmp_path)
    once = render_readme(README, tmp_path)
    assert render_readme(once, tmp_path) == once
    assert outside(once) == outside(README)
    assert once.endswith("```\n<!-- aiqarus:table actions data/runs/DOES_NOT_EXIST -->\n<!-- /aiqarus:table -->\n```\nThe end.\n")
    blocks = readme_blocks(once)
    assert [b.kind for b in blocks] == ['actions', 'action_turns', 'categories', 'compare']
    assert all('`data/runs/' in b.body.splitlines()[0] for b in blocks)          # each body names the run(s) it comes from
    assert '| expected action | n | accuracy | 95% CI | most common wrong |' in blocks[0].body
    assert '| clarify | 4 | 0% | [0%, 49%] | call_tool (100%) |' in blocks[0].body
    assert '| expected action | base | after SimPO |' in blocks[1].body
    assert '| clarification_loop | 4 | 0% | 100% |' in blocks[3].body and 'McNemar' in blocks[3].body and 'Holm' in blocks[3].body

def test_out_of_date_lists_stale_blocks(tmp_path):
    make_runs(tmp_path)
    readme = tmp_path/'README.md'
    readme.write_text(README)
    assert [b.line for b in readme_out_of_date(readme)] == [5, 11, 14, 18]
    readme.write_text(render_readme(README, tmp_path))
    assert readme_out_of_date(readme) == []
    make_runs(tmp_path, flip={'clarification_loop_000'})           # the `better` run changes: every block that reads it is stale
    assert [b.kind for b in readme_out_of_date(readme, tmp_path)] == ['action_turns', 'categories', 'compare']

def test_bad_blocks_fail_loudly(tmp_path):
    make_runs(tmp_path)
    with pytest.raises(ValueError, match='line 1: unknown table'): readme_blocks('<!-- aiqarus:table pie data/runs/base -->\n<!-- /aiqarus:table -->\n')
    with pytest.raises(ValueError, match='never closed'): readme_blocks('x\n<!-- aiqarus:table actions data/runs/base -->\n')
    with pytest.raises(ValueError, match='closes no block'): readme_blocks('<!-- /aiqarus:table -->\n')
    with pytest.raises(ValueError, match='unknown option'):
        render_readme('<!-- aiqarus:table actions data/runs/base --level=category -->\n<!-- /aiqarus:table -->\n', tmp_path)
    with pytest.raises(FileNotFoundError, match='line 1: actions data/runs/nope'):
        render_readme('<!-- aiqarus:table actions data/runs/nope -->\n<!-- /aiqarus:table -->\n', tmp_path)

def test_real_readme_tables_are_up_to_date():
    readme = ROOT/'README.md'
    assert readme_blocks(readme.read_text(encoding='utf-8')), 'README.md lost its aiqarus:table blocks'
    stale = readme_out_of_date(readme, ROOT)
    assert not stale, f"README tables out of date (re-render with `aiqarus readme`): {[str(b) for b in stale]}"

def test_a_constructed_run_says_so(tmp_path):
    "A table rendered from a run built to match published numbers (every record's backend `constructed`) says so; a measured one does not."
    from dataclasses import replace
    from aiqarus.report import CONSTRUCTED, CONSTRUCTED_NOTE
    base, better = make_runs(tmp_path)
    made = [replace(r, backend=CONSTRUCTED) for r in read_jsonl(base/'results.jsonl', Record)]
    write_run(tmp_path/'data'/'runs'/'made', made)
    text = ("<!-- aiqarus:table actions data/runs/base -->\n<!-- /aiqarus:table -->\n"
            "<!-- aiqarus:table compare data/runs/made data/runs/better -->\n<!-- /aiqarus:table -->\n")
    measured, mixed = readme_blocks(render_readme(text, tmp_path))
    assert 'Constructed' not in measured.body
    assert mixed.body.startswith(f"_{CONSTRUCTED_NOTE} (`data/runs/made`)._ _Paired, made → better")
