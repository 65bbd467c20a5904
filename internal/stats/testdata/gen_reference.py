#!/usr/bin/env python3
"""Generate reference.json: statistics computed independently of the Go engine.

Every expected value here comes from SciPy/statsmodels or from raw per-unit
data (never from the sufficient-statistic algebra the engine uses), so the Go
test that replays these cases checks the engine against an outside opinion.

Run with the system Python that has SciPy and statsmodels:

    python3 gen_reference.py > reference.json
"""

import json
import math

import numpy as np
from scipy import integrate, optimize, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW
import statsmodels.api as sm

rng = np.random.default_rng(20261121)
cases = []


def add(kind, name, inputs, expected):
    cases.append({"kind": kind, "name": name, "input": inputs, "expected": expected})


def sums(y):
    y = np.asarray(y, dtype=float)
    return {"n": int(len(y)), "sum": float(y.sum()), "sumSquares": float((y * y).sum())}


def welch_df(vc, nc, vt, nt):
    a, b = vc / nc, vt / nt
    return (a + b) ** 2 / (a * a / (nc - 1) + b * b / (nt - 1))


def t_effect(est, se, df, alpha):
    q = stats.t.ppf(1 - alpha / 2, df)
    return {"estimate": est, "se": se, "ciLow": est - q * se, "ciHigh": est + q * se,
            "pValue": 2 * stats.t.sf(abs(est / se), df)}


def delta_relative(mc, vc, nc, mt, vt, nt):
    """Delta-method variance of (mt - mc)/|mc| by numerical differentiation."""
    f = lambda a, b: (b - a) / abs(a)
    h = 1e-6 * max(abs(mc), abs(mt))
    ga = (f(mc + h, mt) - f(mc - h, mt)) / (2 * h)
    gb = (f(mc, mt + h) - f(mc, mt - h)) / (2 * h)
    return ga * ga * vc / nc + gb * gb * vt / nt


# --- Welch t on mean metrics (statsmodels CompareMeans) ---------------------
for name, (nc, nt, mu_c, mu_t, sd_c, sd_t, alpha) in {
    "revenue with unequal variances": (400, 380, 10.0, 10.9, 4.0, 6.0, 0.05),
    "small arms with alpha 0.1": (12, 15, 3.0, 2.2, 1.5, 0.7, 0.10),
    "large arms with a negative control mean": (5000, 5200, -2.0, -1.9, 3.0, 3.1, 0.01),
}.items():
    c = rng.normal(mu_c, sd_c, nc)
    t = rng.normal(mu_t, sd_t, nt)
    cm = CompareMeans(DescrStatsW(t), DescrStatsW(c))
    lo, hi = cm.tconfint_diff(alpha=alpha, usevar="unequal")
    tstat, p, df = cm.ttest_ind(usevar="unequal")
    se = math.sqrt(c.var(ddof=1) / nc + t.var(ddof=1) / nt)
    est = t.mean() - c.mean()
    vr = delta_relative(c.mean(), c.var(ddof=1), nc, t.mean(), t.var(ddof=1), nt)
    add("lift", "welch: " + name,
        {"metric": "mean", "alpha": alpha, "method": "t", "control": sums(c), "treatment": sums(t)},
        {"df": df,
         "absolute": {"estimate": est, "se": se, "ciLow": lo, "ciHigh": hi, "pValue": p},
         "relative": t_effect(est / abs(c.mean()), math.sqrt(vr), df, alpha)})

# --- proportions: variance p(1-p), Welch t ------------------------------------
for name, (nc, xc, nt, xt, alpha) in {
    "five percent conversion": (10000, 500, 10000, 560, 0.05),
    "tiny arms": (28, 14, 30, 16, 0.05),
    "unequal arms": (2500, 300, 7500, 820, 0.10),
}.items():
    c = np.r_[np.ones(xc), np.zeros(nc - xc)]
    t = np.r_[np.ones(xt), np.zeros(nt - xt)]
    vc, vt = c.var(ddof=0), t.var(ddof=0)  # p(1-p)
    df = welch_df(vc, nc, vt, nt)
    est = t.mean() - c.mean()
    se = math.sqrt(vc / nc + vt / nt)
    vr = delta_relative(c.mean(), vc, nc, t.mean(), vt, nt)
    add("lift", "proportion: " + name,
        {"metric": "proportion", "alpha": alpha, "method": "t",
         "control": {"n": nc, "sum": float(xc)}, "treatment": {"n": nt, "sum": float(xt)}},
        {"df": df, "absolute": t_effect(est, se, df, alpha),
         "relative": t_effect(est / abs(c.mean()), math.sqrt(vr), df, alpha)})


# --- ratio metrics: delta method checked against the linearised raw data ------
def ratio_arm(n, rate, pages):
    d = rng.poisson(pages, n).astype(float) + 1
    x = rng.binomial(d.astype(int), rate).astype(float)
    return x, d


def ratio_sums(x, d):
    return {"n": int(len(x)), "sum": float(x.sum()), "sumSquares": float((x * x).sum()),
            "denominatorSum": float(d.sum()), "denominatorSumSquares": float((d * d).sum()),
            "sumProduct": float((x * d).sum())}


for name, (nc, nt, rc, rt, pages, alpha) in {
    "clicks per page view": (800, 820, 0.10, 0.115, 4.0, 0.05),
    "sparse clicks": (300, 250, 0.03, 0.02, 2.0, 0.05),
}.items():
    xc, dc = ratio_arm(nc, rc, pages)
    xt, dt = ratio_arm(nt, rt, pages)
    Rc, Rt = xc.sum() / dc.sum(), xt.sum() / dt.sum()
    # linearisation: per-unit influence of the ratio, (x - R d)/mean(d)
    vc = np.var(xc - Rc * dc, ddof=1) / dc.mean() ** 2
    vt = np.var(xt - Rt * dt, ddof=1) / dt.mean() ** 2
    df = welch_df(vc, nc, vt, nt)
    est = Rt - Rc
    vr = delta_relative(Rc, vc, nc, Rt, vt, nt)
    add("lift", "ratio: " + name,
        {"metric": "ratio", "alpha": alpha, "method": "t",
         "control": ratio_sums(xc, dc), "treatment": ratio_sums(xt, dt)},
        {"df": df, "controlVariance": vc, "treatmentVariance": vt,
         "absolute": t_effect(est, math.sqrt(vc / nc + vt / nt), df, alpha),
         "relative": t_effect(est / abs(Rc), math.sqrt(vr), df, alpha)})


# --- sequential: normal-mixture confidence sequence ---------------------------
def mixture_two_sided(est, se, N, alpha, tuning):
    la = math.log(alpha)
    r = N * (-2 * la + math.log(1 - 2 * la)) / tuning
    # half-width: the boundary where the mixture martingale reaches 1/alpha
    # (solved numerically, not from the closed form)
    # the mixture likelihood ratio E_{theta ~ N(0, r)}[exp(theta z - theta^2/2)],
    # integrated numerically
    def lr(z):
        s = math.sqrt(r)
        f = lambda th: math.exp(th * z - th * th / 2) * stats.norm.pdf(th, 0, s)
        c = z * r / (1 + r)  # the integrand's peak
        w = 12 * math.sqrt(r / (1 + r))
        return integrate.quad(f, c - w, c + w, epsabs=0, epsrel=1e-13, limit=200)[0]
    zb = optimize.brentq(lambda z: math.log(lr(z)) + math.log(alpha), 0, 30, xtol=1e-13)
    z = est / se
    return {"estimate": est, "se": se, "ciLow": est - zb * se, "ciHigh": est + zb * se,
            "pValue": min(1.0, 1 / lr(z))}


def mixture_one_sided(est, se, N, alpha, tuning, side):
    a2 = 2 * alpha
    la = math.log(a2)
    r = N * (-2 * la + math.log(1 - 2 * la)) / tuning
    g = lambda z, a: 2 * (1 + r) / r * math.log(1 + math.sqrt(1 + r) / (2 * a)) - z * z
    zb = math.sqrt(g(0, alpha))
    z = est / se if side == "greater" else -est / se
    if z <= 0:
        p = 1.0
    else:
        # smallest alpha' whose boundary equals |z|, found by root finding
        f = lambda la2: g(z, math.exp(la2))
        if f(math.log(1e300)) > 0:
            p = 1.0
        else:
            p = min(1.0, math.exp(optimize.brentq(f, -745, math.log(1e300), xtol=1e-13)))
    if side == "greater":
        lo, hi = est - zb * se, None
    else:
        lo, hi = None, est + zb * se
    return {"estimate": est, "se": se, "ciLow": lo, "ciHigh": hi, "pValue": p}


for name, (nc, nt, mu_c, mu_t, sd, alpha, tuning) in {
    "at the tuning size": (2500, 2500, 10.0, 10.3, 4.0, 0.05, 5000),
    "early look": (300, 310, 5.0, 5.2, 2.0, 0.05, 5000),
    "late look with small tuning": (20000, 20000, 1.0, 1.01, 1.0, 0.10, 600),
}.items():
    c = rng.normal(mu_c, sd, nc)
    t = rng.normal(mu_t, sd, nt)
    est = t.mean() - c.mean()
    se = math.sqrt(c.var(ddof=1) / nc + t.var(ddof=1) / nt)
    rel = est / abs(c.mean())
    rse = math.sqrt(delta_relative(c.mean(), c.var(ddof=1), nc, t.mean(), t.var(ddof=1), nt))
    N = nc + nt
    add("lift", "sequential: " + name,
        {"metric": "mean", "alpha": alpha, "method": "sequential", "tuning": tuning,
         "control": sums(c), "treatment": sums(t)},
        {"absolute": mixture_two_sided(est, se, N, alpha, tuning),
         "relative": mixture_two_sided(rel, rse, N, alpha, tuning),
         "absoluteGreater": mixture_one_sided(est, se, N, alpha, tuning, "greater"),
         "absoluteLess": mixture_one_sided(est, se, N, alpha, tuning, "less")})


# --- Bayesian: Gaussian posterior; risks by numerical integration -------------
def posterior(est, var, prior, alpha, higher):
    if prior is None:
        mu, v = est, var
    else:
        pm, ps = prior
        prec = 1 / var + 1 / ps ** 2
        mu, v = (est / var + pm / ps ** 2) / prec, 1 / prec
    sd = math.sqrt(v)
    sign = 1 if higher else -1
    dist = stats.norm(sign * mu, sd)
    lo, hi = mu - 10 * sd, mu + 10 * sd  # integration range (on the good-direction scale)
    glo, ghi = sign * mu - 12 * sd, sign * mu + 12 * sd
    risk_control = integrate.quad(lambda d: max(d, 0) * dist.pdf(d), glo, ghi, points=[0], epsabs=1e-14, epsrel=1e-12, limit=200)[0]
    risk_treatment = integrate.quad(lambda d: max(-d, 0) * dist.pdf(d), glo, ghi, points=[0], epsabs=1e-14, epsrel=1e-12, limit=200)[0]
    ci = stats.norm(mu, sd).interval(1 - alpha)
    return {"mean": mu, "sd": sd, "ciLow": ci[0], "ciHigh": ci[1],
            "chanceToWin": dist.sf(0), "riskControl": risk_control, "riskTreatment": risk_treatment}


for name, (nc, nt, mu_c, mu_t, sd, prior, higher) in {
    "flat prior": (1000, 1000, 20.0, 20.6, 8.0, None, True),
    "proper prior on the relative lift": (200, 210, 20.0, 21.5, 8.0, (0.0, 0.05), True),
    "lower is better with an optimistic prior": (500, 480, 3.0, 2.9, 1.0, (0.1, 0.3), False),
}.items():
    c = rng.normal(mu_c, sd, nc)
    t = rng.normal(mu_t, sd, nt)
    est = t.mean() - c.mean()
    var = c.var(ddof=1) / nc + t.var(ddof=1) / nt
    rel = est / abs(c.mean())
    rvar = delta_relative(c.mean(), c.var(ddof=1), nc, t.mean(), t.var(ddof=1), nt)
    absprior = None if prior is None else (prior[0] * abs(c.mean()), prior[1] * abs(c.mean()))
    add("bayes", "bayesian: " + name,
        {"metric": "mean", "alpha": 0.05, "higherIsBetter": higher,
         "prior": None if prior is None else {"mean": prior[0], "stddev": prior[1]},
         "control": sums(c), "treatment": sums(t)},
        {"absolute": posterior(est, var, absprior, 0.05, higher),
         "relative": posterior(rel, rvar, prior, 0.05, higher)})


# --- CUPED: theta from OLS on pooled raw data, adjusted raw values -------------
for name, (n_arms, n, effect, rho, binary) in {
    "two arms, strongly correlated covariate": (2, 1500, 0.4, 0.8, False),
    "three arms, weak covariate": (3, 700, 0.2, 0.3, False),
    "conversion with a conversion covariate": (2, 3000, 0.03, 0.5, True),
}.items():
    arms = []
    for a in range(n_arms):
        x = rng.normal(10, 3, n + 13 * a)
        y = 10 + rho * (x - 10) + math.sqrt(1 - rho * rho) * rng.normal(0, 3, len(x)) + (effect * a)
        if binary:
            x = (x > 11).astype(float)
            y = (y > 12 - 10 * effect * a).astype(float)
        arms.append((y, x))
    Y = np.concatenate([a[0] for a in arms])
    X = np.concatenate([a[1] for a in arms])
    theta = sm.OLS(Y, sm.add_constant(X)).fit().params[1]
    yc, xc = arms[0]
    expected = {"theta": theta, "treatments": []}
    for y, x in arms[1:]:
        adj_c, adj_t = yc - theta * xc, y - theta * x
        var = adj_c.var(ddof=1) / len(yc) + adj_t.var(ddof=1) / len(y)
        unadj = yc.var(ddof=1) / len(yc) + y.var(ddof=1) / len(y)
        est = adj_t.mean() - adj_c.mean()
        df = welch_df(adj_c.var(ddof=1), len(yc), adj_t.var(ddof=1), len(y))
        # relative: f(ybar_c, xbar_c) = (A_t - ybar_c + theta xbar_c)/|ybar_c|, delta method with
        # the sample covariance of (y, x) in control and a numerical gradient
        At = adj_t.mean()
        f = lambda yb, xb: (At - yb + theta * xb) / abs(yb)
        h = 1e-6
        g = np.array([(f(yc.mean() + h, xc.mean()) - f(yc.mean() - h, xc.mean())) / (2 * h),
                      (f(yc.mean(), xc.mean() + h) - f(yc.mean(), xc.mean() - h)) / (2 * h)])
        cov_c = np.cov(np.vstack([yc, xc]), ddof=1) / len(yc)
        rvar = g @ cov_c @ g + adj_t.var(ddof=1) / len(y) / yc.mean() ** 2
        expected["treatments"].append({
            "df": df, "varianceReduction": 1 - var / unadj,
            "absolute": t_effect(est, math.sqrt(var), df, 0.05),
            "relative": t_effect(est / abs(yc.mean()), math.sqrt(rvar), df, 0.05)})
    add("cuped", "cuped: " + name,
        {"metric": "proportion" if binary else "mean", "alpha": 0.05,
         "arms": [dict(sums(y), covariateSum=float(x.sum()), covariateSumSquares=float((x * x).sum()),
                       covariateSumProduct=float((x * y).sum())) for y, x in arms]},
        expected)

# --- SRM: scipy.stats.chisquare -------------------------------------------------
for name, (counts, weights) in {
    "balanced split that is fine": ([5000, 5100], [50, 50]),
    "a clear mismatch": ([1000, 1200], [1, 1]),
    "three arms with unequal weights": ([2010, 990, 1050], [50, 25, 25]),
    "a borderline three-arm split": ([500, 500, 600], [34, 33, 33]),
}.items():
    total = sum(counts)
    f_exp = [total * w / sum(weights) for w in weights]
    chi2, p = stats.chisquare(counts, f_exp)
    add("srm", "srm: " + name, {"counts": counts, "weights": weights},
        {"chiSquare": chi2, "pValue": p, "mismatch": bool(p < 0.001)})

# --- sample size, power, MDE ----------------------------------------------------
zp = NormalIndPower()


def power_unequal(delta, vc, vt, nc, nt, alpha):
    se = math.sqrt(vc / nc + vt / nt)
    z = stats.norm.ppf(1 - alpha / 2)
    return stats.norm.cdf(delta / se - z) + stats.norm.cdf(-delta / se - z)


for name, d in {
    "mean metric, two equal arms": dict(metric="mean", baseline=50, stdDev=20, mde=2, relative=False, alpha=0.05, power=0.8, weights=[1, 1]),
    "mean metric, relative MDE, 70/30 split": dict(metric="mean", baseline=50, stdDev=20, mde=0.05, relative=True, alpha=0.01, power=0.9, weights=[70, 30]),
    "mean metric, three arms": dict(metric="mean", baseline=3, stdDev=2, mde=0.1, relative=False, alpha=0.05, power=0.8, weights=[1, 1, 1]),
}.items():
    delta = d["mde"] * (abs(d["baseline"]) if d["relative"] else 1)
    w = d["weights"]
    ratio = w[1] / w[0]
    nobs1 = zp.solve_power(effect_size=delta / d["stdDev"], alpha=d["alpha"], power=d["power"], ratio=ratio)
    total = nobs1 * sum(w) / w[0]
    units = 40000
    n1 = units * w[0] / sum(w)
    pw = zp.power(effect_size=delta / d["stdDev"], nobs1=n1, alpha=d["alpha"], ratio=ratio)
    # solve_power's own effect-size search stops at about 1e-5 relative, so the
    # same statsmodels power function is solved to full precision here.
    es = optimize.brentq(lambda e: zp.power(effect_size=e, nobs1=n1, alpha=d["alpha"], ratio=ratio) - d["power"],
                         1e-6, 10, xtol=1e-15, rtol=1e-14)
    mde = es * d["stdDev"] / (abs(d["baseline"]) if d["relative"] else 1)
    add("design", "design: " + name, dict(d, units=units),
        {"totalUnits": total, "power": pw, "mde": mde})

for name, d in {
    "conversion, relative MDE": dict(metric="proportion", baseline=0.05, mde=0.10, relative=True, alpha=0.05, power=0.8, weights=[1, 1]),
    "conversion, absolute drop, 3 arms 50/25/25": dict(metric="proportion", baseline=0.3, mde=-0.02, relative=False, alpha=0.05, power=0.9, weights=[50, 25, 25]),
}.items():
    delta = d["mde"] * (abs(d["baseline"]) if d["relative"] else 1)
    w = d["weights"]
    sc, st = w[0] / sum(w), min(w[1:]) / sum(w)
    p1 = d["baseline"]
    p2 = p1 + delta
    vc, vt = p1 * (1 - p1), p2 * (1 - p2)
    total = optimize.brentq(lambda N: power_unequal(delta, vc, vt, sc * N, st * N, d["alpha"]) - d["power"], 10, 1e9, xtol=1e-9, rtol=1e-13)
    units = 20000
    pw = power_unequal(delta, vc, vt, sc * units, st * units, d["alpha"])

    def pw_at(dd):
        q = p1 + dd
        return power_unequal(dd, vc, q * (1 - q), sc * units, st * units, d["alpha"]) - d["power"]

    dmin = optimize.brentq(pw_at, 1e-9, 1 - p1 - 1e-9, xtol=1e-15, rtol=1e-13)
    mde = dmin / (abs(p1) if d["relative"] else 1)
    add("design", "design: " + name, dict(d, units=units), {"totalUnits": total, "power": pw, "mde": mde})

# --- multiple testing: statsmodels multipletests --------------------------------
for name, p in {
    "six p-values with ties": [0.01, 0.04, 0.03, 0.005, 0.55, 0.6],
    "random p-values": list(rng.uniform(0, 0.2, 9)),
    "one p-value": [0.03],
}.items():
    add("adjust", "adjust: " + name, {"p": [float(x) for x in p]},
        {"holm": list(multipletests(p, method="holm")[1]),
         "bh": list(multipletests(p, method="fdr_bh")[1])})


def clean(o):
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [clean(v) for v in o]
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return o


print(json.dumps({"generator": "gen_reference.py (SciPy %s, statsmodels %s)" % (
    __import__("scipy").__version__, __import__("statsmodels").__version__),
    "cases": clean(cases)}, indent=1))
