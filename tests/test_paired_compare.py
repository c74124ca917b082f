"""Paired before/after statistics (`aiqarus.report.compare`): McNemar's exact p against statsmodels on a constructed paired table,
Holm within each (level, unit) family, Newcombe's interval against a published example and a paired bootstrap, turn matching."""
import math
import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from aiqarus.schema import Record, TurnResult
from aiqarus.eval import summarize
from aiqarus.report import compare, paired_diff_ci, paired_outcomes, holm

def rec(cid, cat, outcomes, exp='clarify'):
    "A record whose scored turns (all expecting `exp`) came out as `outcomes`; the case is right when every turn is."
    ts = [TurnResult(i, exp, exp if ok else 'call_tool', correct=ok) for i, ok in enumerate(outcomes)]
    return Record(cid, cat, 'easy', 'known', ts, [], all(outcomes))

def paired_runs(cells:dict, prefix='c'):
    """Before/after record lists with known paired counts: `cells[(category, action)] = (both, b, c, neither)`, where
    b = right before / wrong after and c = wrong before / right after."""
    before, after, k = [], [], 0
    for (cat, act), counts in cells.items():
        for (x, y), n in zip(((True, True), (True, False), (False, True), (False, False)), counts):
            for _ in range(n):
                k += 1
                before.append(rec(f"{prefix}{k:04d}", cat, [x], act)); after.append(rec(f"{prefix}{k:04d}", cat, [y], act))
    return before, after

def test_mcnemar_matches_statsmodels():
    before, after = paired_runs({('clarification_loop', 'clarify'): (7, 3, 11, 4)})
    t = compare(before, after).set_index(['level', 'unit', 'name'])
    for key in (('category', 'case', 'clarification_loop'), ('action', 'case', 'clarify'), ('action', 'turn', 'clarify')):
        r = t.loc[key]
        assert (r['n_pairs'], r['b'], r['c']) == (25, 3, 11)
        assert r['p_value'] == pytest.approx(mcnemar([[7, 3], [11, 4]], exact=True).pvalue, abs=1e-12)
        assert r['before'] == pytest.approx(10 / 25) and r['after'] == pytest.approx(18 / 25) and r['diff'] == pytest.approx(8 / 25)
        assert r['ci_low'] < r['diff'] < r['ci_high']

def test_direction_and_pairing_by_case_id():
    "Pairs are found by case_id, not by position: shuffling one run changes nothing."
    before, after = paired_runs({('scope_creep', 'call_tool'): (5, 0, 6, 1)})
    t1, t2 = compare(before, after), compare(before, after[::-1])
    assert t1.equals(t2)
    r = t1.set_index(['level', 'unit', 'name']).loc[('category', 'case', 'scope_creep')]
    assert r['diff'] > 0 and (r['b'], r['c']) == (0, 6)

def _holm_by_hand(ps):
    "Holm's step-down, written out: sort, multiply the i-th smallest by (m - i), keep the running maximum, cap at 1."
    m, order = len(ps), sorted(range(len(ps)), key=lambda i: ps[i])
    out, run = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        run = max(run, min(1.0, (m - rank) * ps[i])); out[i] = run
    return out

def test_holm_within_each_family():
    cells = {('over_execution', 'call_tool'): (20, 0, 9, 1), ('scope_creep', 'call_tool'): (10, 1, 6, 3),
             ('handoff_routing', 'escalate'): (2, 2, 3, 5), ('clarification_loop', 'clarify'): (1, 0, 12, 20),
             ('pii_data_sensitivity', 'refuse'): (8, 4, 4, 2)}
    before, after = paired_runs(cells)
    t = compare(before, after, alpha=0.05)
    for (level, unit), fam in t.groupby(['level', 'unit']):
        ps = list(fam['p_value'])
        assert list(fam['p_holm']) == pytest.approx(list(multipletests(ps, alpha=0.05, method='holm')[1]))
        assert list(fam['p_holm']) == pytest.approx(_holm_by_hand(ps))
        assert (fam['family_size'] == len(fam)).all()
        assert list(fam['beyond_noise']) == [q < 0.05 for q in fam['p_holm']]
    cats = t[(t.level == 'category') & (t.unit == 'case')].set_index('name')
    acts = t[(t.level == 'action') & (t.unit == 'case')].set_index('name')
    assert len(cats) == 5 and len(acts) == 4            # the category family is corrected over 5 tests, the action family over 4
    # over_execution alone: raw p = 2·0.5^9 ≈ 0.0039 < 0.05; Holm over 5 keeps it (rank 2: ×4 ≈ 0.016), and scope_creep
    # (1 vs 6, p ≈ 0.125) is not beyond noise either way
    assert cats.loc['over_execution', 'beyond_noise'] and not cats.loc['scope_creep', 'beyond_noise']
    # the same p-value means different things in different family sizes: call_tool pools two categories
    assert acts.loc['call_tool', 'n_pairs'] == 50

def test_holm_skips_rows_without_pairs():
    h = holm([0.01, float('nan'), 0.04])
    assert math.isnan(h[1]) and h[0] == pytest.approx(0.02) and h[2] == pytest.approx(0.04)

def test_newcombe_published_example():
    """Newcombe's method 10 on the Cavo et al. (2012) complete-response table — 59 both, 16 before only, 6 after only, 80 neither —
    printed by Fagerland, Lydersen & Laake, *Statistical Analysis of Contingency Tables* (2017), ch. 8, and asserted by their R
    package's tests (contingencytables, test-ch8.R): estimate −0.0621, 95% CI −0.1186 to −0.0046."""
    d, lo, hi = paired_diff_ci(59, 16, 6, 80)
    assert (round(d, 4), round(lo, 4), round(hi, 4)) == (-0.0621, -0.1186, -0.0046)

def test_newcombe_agrees_with_paired_bootstrap():
    "An independent computation: at n = 4,000 pairs the percentile interval of a paired (multinomial) bootstrap should agree to ~0.002."
    both, b, c, neither = 2400, 300, 500, 800
    n = both + b + c + neither
    rng = np.random.default_rng(0)
    draws = rng.multinomial(n, np.array([both, b, c, neither]) / n, size=40_000)
    diffs = (draws[:, 2] - draws[:, 1]) / n
    boot_lo, boot_hi = np.percentile(diffs, [2.5, 97.5])
    d, lo, hi = paired_diff_ci(both, b, c, neither)
    assert d == pytest.approx(0.05)
    assert lo == pytest.approx(boot_lo, abs=0.002) and hi == pytest.approx(boot_hi, abs=0.002)

def test_newcombe_edges():
    d, lo, hi = paired_diff_ci(0, 0, 10, 0)               # all gained: the interval stays inside [-1, 1] and away from 0
    assert d == 1 and 0 < lo < hi <= 1
    assert all(math.isnan(x) for x in paired_diff_ci(0, 0, 0, 0))

def test_turn_matching_counts_unmatched_turns():
    before = [rec('a', 'clarification_loop', [True, False, True]), rec('b', 'clarification_loop', [False]),
              rec('c', 'clarification_loop', [True, True])]
    after = [rec('a', 'clarification_loop', [True, True]), rec('b', 'clarification_loop', [True, True, True]),
             rec('c', 'clarification_loop', [True, False])]
    rows = paired_outcomes(before, after, 'turn')
    assert sum(r['before'] is not None and r['after'] is None for r in rows) == 1        # a, turn 2: reached before only
    assert sum(r['before'] is None and r['after'] is not None for r in rows) == 2        # b, turns 1 and 2: after only
    t = compare(before, after).set_index(['level', 'unit', 'name'])
    r = t.loc[('action', 'turn', 'clarify')]
    # matched turns: a0 (T,T) a1 (F,T) b0 (F,T) c0 (T,T) c1 (T,F)
    assert (r['n_pairs'], r['n_unmatched_before'], r['n_unmatched_after'], r['b'], r['c']) == (5, 1, 2, 1, 2)
    assert r['before'] == pytest.approx(3 / 5) and r['after'] == pytest.approx(4 / 5)
    c = t.loc[('category', 'case', 'clarification_loop')]
    assert (c['n_pairs'], c['n_unmatched_before'], c['n_unmatched_after'], c['b'], c['c']) == (3, 0, 0, 1, 2)

def test_unpaired_cases_are_an_error_unless_allowed():
    before, after = paired_runs({('scope_creep', 'call_tool'): (5, 1, 2, 2)})
    with pytest.raises(ValueError, match=r"2 case\(s\) are in one run only: 1 only before \(e.g. c0001\), 1 only after \(e.g. x\); 9 are shared"):
        compare(before, after[1:] + [rec('x', 'scope_creep', [True], 'call_tool')])
    t = compare(before, after[1:], allow_unpaired=True).set_index(['level', 'unit', 'name'])
    r = t.loc[('category', 'case', 'scope_creep')]
    assert (r['n_pairs'], r['n_unmatched_before'], r['n_unmatched_after']) == (9, 1, 0)

def test_summaries_and_mismatched_cases_are_refused():
    before, after = paired_runs({('scope_creep', 'call_tool'): (2, 1, 1, 0)})
    with pytest.raises(TypeError, match='summary dict'): compare(summarize(before), summarize(after))
    other = [rec(r.case_id, 'handoff_routing', [True], 'call_tool') for r in after]
    with pytest.raises(ValueError, match='not hold the same cases'): compare(before, other)
    with pytest.raises(ValueError, match='appears twice'): compare(before + before[:1], after)
