"""podwarden's tabular workloads (Rust, smartcore) vs scikit-learn on the same 1M-row CSV.

Run: `cargo build --release -p podwarden-tabular && python3 -m venv /tmp/bv &&
      /tmp/bv/bin/pip install scikit-learn pandas numpy && /tmp/bv/bin/python bench/tabular_vs_sklearn.py`
(`ROWS=N` to change the size, default 1,000,000).

Both sides are whole programs doing the same work, timed end to end (process start to exit),
median of 3 runs each:
- train: read the CSV, split 80/20 with a seed, standard scaling, fit, score on the held-out
  rows, save model + scaler + metadata;
- predict: load the model, read a CSV without the target, scale, predict, write the CSV with
  a new column.
Models: linear regression and a decision tree (max depth 8); both single-threaded (smartcore
is; scikit-learn's trees and OLS are too at these settings). Peak RSS of each run is reported.
"""
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(os.environ.get("PODWARDEN_TABULAR_BIN", ROOT / "target/release/podwarden-tabular"))
# BENCH_SMOKE=1 (scripts/test): a tiny table, to show the benchmark still runs.
SMOKE = os.environ.get("BENCH_SMOKE", "") not in ("", "0")
ROWS = int(os.environ.get("ROWS", "2000" if SMOKE else "1000000"))
RUNS = 3

SKLEARN_TRAIN = r'''
import sys, json, pickle, pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor
data, model, out = sys.argv[1], sys.argv[2], sys.argv[3]
df = pd.read_csv(data)
y = df.pop("price").to_numpy(); X = df.to_numpy(dtype=float)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=42)
sc = StandardScaler().fit(Xtr)
m = LinearRegression() if model == "linear" else DecisionTreeRegressor(max_depth=8, random_state=42)
m.fit(sc.transform(Xtr), ytr)
score = m.score(sc.transform(Xte), yte)
pickle.dump((sc, m), open(out, "wb"))
json.dump({"score": score, "train": len(ytr), "test": len(yte)}, open(out + ".json", "w"))
print(score)
'''

SKLEARN_PREDICT = r'''
import sys, pickle, pandas as pd
model, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
sc, m = pickle.load(open(model, "rb"))
df = pd.read_csv(data)
df["prediction"] = m.predict(sc.transform(df.to_numpy(dtype=float)))
df.to_csv(out, index=False)
print(len(df))
'''


def timed(cmd):
    """Wall seconds and stdout of one run."""
    t = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{p.stderr}")
    return wall, p.stdout


def median_of(cmd):
    runs = [timed(cmd) for _ in range(RUNS)]
    return statistics.median(r[0] for r in runs), runs[-1][1]


def peak_rss(cmd):
    """Peak RSS (MB) of one run, measured alone with GNU time's format when available."""
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + [str(c) for c in cmd], capture_output=True, text=True)
    try:
        return int(p.stderr.strip().splitlines()[-1]) / 1024
    except (ValueError, IndexError):
        return float("nan")


def main():
    if not BIN.exists():
        sys.exit(f"build first: cargo build --release -p podwarden-tabular ({BIN} missing)")
    work = pathlib.Path(tempfile.mkdtemp(prefix="pw-tabular-bench-"))
    store = work / "store"
    (store / "datasets/bench").mkdir(parents=True)
    rng = np.random.default_rng(7)
    sqft = rng.integers(500, 4000, ROWS)
    beds = rng.integers(1, 7, ROWS)
    age = rng.integers(0, 100, ROWS)
    dist = np.round(rng.uniform(0.5, 50, ROWS), 2)
    price = np.round(60000 + 150 * sqft + 8000 * beds - 900 * age - 2500 * dist + rng.normal(0, 20000, ROWS))
    header = "sqft,bedrooms,age_years,distance_km"
    train_csv = store / "datasets/bench/big.csv"
    pred_csv = store / "datasets/bench/new.csv"
    np.savetxt(train_csv, np.column_stack([sqft, beds, age, dist, price]), delimiter=",", header=header + ",price", comments="", fmt=["%d", "%d", "%d", "%.2f", "%d"])
    np.savetxt(pred_csv, np.column_stack([sqft, beds, age, dist]), delimiter=",", header=header, comments="", fmt=["%d", "%d", "%d", "%.2f"])
    mb = train_csv.stat().st_size / 1e6
    tr = work / "train.py"
    tr.write_text(SKLEARN_TRAIN)
    pr = work / "predict.py"
    pr.write_text(SKLEARN_PREDICT)
    py = sys.executable
    rows = []
    for model, rust_model in [("linear", "linear"), ("tree", "decision_tree_regressor")]:
        rust_train = [BIN, "--store", store, "train", "--user", "bench", "--dataset", "datasets/bench/big.csv", "--target", "price", "--model", rust_model, "--model-id", model, "--max-depth", "8"]
        rust_pred = [BIN, "--store", store, "predict", "--user", "bench", "--model-id", model, "--input", "datasets/bench/new.csv", "--output", f"predictions/bench/{model}.csv"]
        sk_model = work / f"{model}.pkl"
        sk_train = [py, tr, train_csv, model, sk_model]
        sk_pred = [py, pr, sk_model, pred_csv, work / f"{model}-sk.csv"]
        rt, rout = median_of(rust_train)
        st, sout = median_of(sk_train)
        rp, _ = median_of(rust_pred)
        sp, _ = median_of(sk_pred)
        rscore = json.loads(rout)["score"]
        sscore = float(sout.strip())
        rows.append((model, rt, st, rp, sp, rscore, sscore, peak_rss(rust_train), peak_rss(sk_train), peak_rss(rust_pred), peak_rss(sk_pred)))
    imports, _ = median_of([py, "-c", "import pandas, pickle, sklearn.linear_model, sklearn.tree, sklearn.preprocessing, sklearn.model_selection"])
    print(f"{ROWS:,} rows ({mb:.0f} MB CSV), median of {RUNS} runs, whole programs (start to exit)")
    print(f"(of scikit-learn's times, {imports:.2f} s is the interpreter starting and importing pandas and scikit-learn)\n")
    print("| model | step | podwarden (Rust, smartcore) | scikit-learn | ratio (sklearn ÷ Rust) | R² Rust / sklearn | peak RSS Rust / sklearn |")
    print("|---|---|---|---|---|---|---|")
    for model, rt, st, rp, sp, rs, ss, rrt, srt, rrp, srp in rows:
        print(f"| {model} | train | {rt:.2f} s ({ROWS / rt:,.0f} rows/s) | {st:.2f} s ({ROWS / st:,.0f} rows/s) | {st / rt:.2f}× | {rs:.4f} / {ss:.4f} | {rrt:.0f} / {srt:.0f} MB |")
        print(f"| {model} | predict | {rp:.2f} s ({ROWS / rp:,.0f} rows/s) | {sp:.2f} s ({ROWS / sp:,.0f} rows/s) | {sp / rp:.2f}× | — | {rrp:.0f} / {srp:.0f} MB |")


if __name__ == "__main__":
    main()
