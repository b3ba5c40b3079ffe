#!/usr/bin/env python3
"""Tables and REPORT.md of Makefile.pipeline, from the TSV files the lt tools
write. Standard library only.

  report.py table4 --ks "0 20 100" --backbone B --dataset D TABLE4.tsv   markdown, paper columns
  report.py ablation --dataset D ABLATION.tsv                          markdown, paper columns
  report.py separability TRAIN.tsv TEST.tsv TRAIN-WITHIN.tsv TEST-WITHIN.tsv
  report.py stack B1=FILE B2=FILE ...        the TSVs with a backbone column
  report.py aggregate SEED0.tsv SEED1.tsv ... per-seed TSVs of one layout -> mean, <column>_sd, seeds
  report.py select --param k VAL.tsv TEST.tsv  the value chosen on val (and the test-set oracle)
  report.py mismatch B1=FILE ...             one row per backbone (lt-compat --mismatch; a backbone
                                             given once per seed: mean, sd and the seeds' counts)
  report.py baselines --val VAL.tsv --test TEST.tsv --ps "0 0.5 ..." --ts "0 1 ..."   baselines.tsv
  report.py baselines-md --table4 TABLE4.tsv BASELINES.tsv     markdown, with the method's ensemble row
  report.py report --results R --dataset D --backbones "B ..." --seeds "0 1 2" --ks "0 20 100" [--classes F|""]
  report.py summary --results R --backbones "B ..." --seeds "..." --ks "..." [--elapsed S]

Seeds: R/<backbone>/seed<S>/ holds one seed's files, R/<backbone>/<file>.tsv
their aggregate (report.py aggregate): every numeric column is the mean over
the seeds, followed by a <column>_sd column (sample standard deviation; empty
for one seed) per numeric column and a seeds column. Key columns (the first
column, and every column that is not numeric) identify a row across seeds.

Selection on val (report.py select): the value with the highest val total
accuracy, ties going to the smallest value; its test accuracy is the result.
The value with the highest test total is shown only as the "oracle" row.
"""

import argparse
import csv
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PAPER = os.path.join(HERE, "..", "share", "paper", "numbers.tsv")
GROUPS = ("many", "medium", "few", "total")


# ---- reading -------------------------------------------------------------------

def read_tsv(path):
    """Rows of a TSV with a header line, as dicts; '#' lines are skipped."""
    with open(path, newline="") as f:
        lines = [l for l in f if l.strip() and not l.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t")
    return list(reader)


def number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return math.nan
    return value


def fmt(value, digits=1):
    return "–" if value is None or math.isnan(value) else "%.*f" % (digits, value)


def cell(row, column, digits=1):
    """A column's value of an aggregated row, with "± sd" when the row has one."""
    text = fmt(number(row.get(column)), digits)
    sd = number(row.get(column + "_sd"))
    return text if math.isnan(sd) or text == "–" else "%s ± %s" % (text, fmt(sd, digits))


def paper_numbers():
    rows = {}
    for r in read_tsv(PAPER):
        rows[(r["table"], r["setting"], r["row"])] = tuple(number(r[g]) for g in GROUPS)
    return rows


# ---- names ---------------------------------------------------------------------

def table4_labels(ks):
    ks = [int(k) for k in ks.split()]
    nonzero = [k for k in ks if k > 0]
    labels = {
        "prototypes": "Prototypes",
        "cosine": "Cosine classifier",
        "cosine+prototypes": "Classifier + prototypes",
        "ensemble-whc": "ensemble(%s) (continual)" % ", ".join("w^hc(%d)" % k for k in nonzero),
        "ensemble-wh": "ensemble(%s)" % ", ".join("w^h(%d)" % k for k in ks),
    }
    for k in nonzero:
        labels["wh%d" % k] = "w^h(%d)" % k
    return labels


PAPER_KS = "0 20 100"
SAMPLER_WORDS = {"sqrt": "square-root sampling", "instance": "uniform sampling"}
# Places-LT's backbones start from ImageNet weights: supervised, or SimCLR ("unsupervised").
PLACES_INIT = {"supervised": "supervised ImageNet weights", "unsupervised": "ImageNet SimCLR weights"}


def paper_columns(dataset, backbone):
    """[(header, table, setting)] of the paper's numbers shown beside a
    backbone; each header names the paper's data set, sampler and
    initialisation, and says where they are not the backbone's."""
    columns = []
    balanced = backbone.endswith("-balanced")
    sampler, _, init = backbone[:-len("-balanced")].rpartition("-") if balanced else backbone.rpartition("-")
    scratch = "RX50 from scratch" + ("" if init == "scratch" else " (not %s)" % init)
    if balanced:
        return [("paper ImageNet-LT, %s, balanced-softmax loss (supp. Table 2)" % scratch, "supp-table2",
                 "imagenet-lt balanced-softmax")]
    if sampler in SAMPLER_WORDS:
        table, where = ("main-table1", "Table 1") if sampler == "sqrt" else ("supp-table2", "supp. Table 2")
        columns.append(("paper ImageNet-LT, %s, %s (%s)" % (scratch, SAMPLER_WORDS[sampler], where), table,
                        "imagenet-lt %s-scratch" % sampler))
        places_init = "unsupervised" if init in ("unsupervised", "simclr") else "supervised"
        ours = {"unsupervised": "unsupervised", "simclr": "unsupervised", "supervised": "supervised"}.get(init)
        columns.append(("paper Places-LT, R101 from %s%s, %s (supp. Table 4)"
                        % (PLACES_INIT[places_init], "" if ours == places_init else " (not %s)" % init,
                           SAMPLER_WORDS[sampler]), "supp-table4", "places-lt %s-%s" % (sampler, places_init)))
    return columns


def paper_cell(paper, column, row, ks=PAPER_KS):
    """The paper's m/m/f/t of a row; none for an ensemble of other k than the paper's."""
    header, table, setting = column
    if row.startswith("ensemble") or row in ("p2w", "w2p", "w2w", "p2p"):
        if [int(k) for k in ks.split()] != [int(k) for k in PAPER_KS.split()]:
            return "–"
    values = paper.get((table, setting, row))
    if values is None and table == "supp-table2":
        values = paper.get(("main-table1", setting, row))
    return " / ".join(fmt(v) for v in values) if values else "–"


# ---- subcommands -----------------------------------------------------------------

def is_number_cell(text):
    return text == "–" or text == "" or not math.isnan(number(text.split(" / ")[0].split(" ± ")[0]))


def markdown_table(header, rows):
    """Numbers (and "a / b / c / d" groups of them) right-aligned, text left."""
    numeric = [i > 0 and all(is_number_cell(r[i]) for r in rows) for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def selection_label(row, param="k", chosen_values=None):
    """One value when every seed chose it; otherwise the seeds' values (their
    mean is no value anyone chose)."""
    if chosen_values and len(set(chosen_values)) > 1:
        name, values = param, " (per seed: %s)" % ", ".join(chosen_values)
    else:
        name, values = "%s=%s" % (param, chosen_values[0] if chosen_values else fmt(number(row[param]), 0)), ""
    if row["row"] == "chosen":
        return "w^h(%s), %s chosen on val%s" % (name, param, values) if values else "w^h(%s), chosen on val" % name
    return "oracle: w^h(%s), best on test (not a result)%s" % (name, values)


def table4_markdown(path, ks, dataset, backbone, paper, selection=None, chosen=None):
    """Table 4 of one backbone; selection: its selection.tsv (the k chosen on
    val, then the oracle row), chosen: {row: [the seeds' values]}."""
    labels = table4_labels(ks)
    columns = paper_columns(dataset, backbone)
    rows = []
    for r in read_tsv(path):
        rows.append([labels.get(r["name"], r["name"])] + [cell(r, g) for g in GROUPS]
                    + [paper_cell(paper, c, r["name"], ks) for c in columns])
    if selection and os.path.exists(selection):
        for r in read_tsv(selection):
            rows.append([selection_label(r, "k", (chosen or {}).get(r["row"]))] + [cell(r, g) for g in GROUPS]
                        + ["–" for c in columns])
    header = ["Classifier", "many", "medium", "few", "total"] + [c[0] + " (m/m/f/t)" for c in columns]
    return markdown_table(header, rows)


ABLATION_PAPER = ("paper ImageNet-LT, RX50 from scratch, square-root sampling (supp. Table 1)", "supp-table1",
                  "imagenet-lt sqrt-scratch")


def ablation_markdown(path, paper, ks=PAPER_KS):
    rows = []
    for r in read_tsv(path):
        rows.append([r["name"].replace("2", "→")] + [cell(r, g) for g in GROUPS]
                    + [paper_cell(paper, ABLATION_PAPER, r["name"], ks)])
    return markdown_table(["attention", "many", "medium", "few", "total", ABLATION_PAPER[0] + " (m/m/f/t)"], rows)


def fixed_rows(ks):
    """Table 4's rows of fixed k, in words: "w^h(20) and w^h(100) are"."""
    rows = ["w^h(%d)" % k for k in (int(k) for k in ks.split()) if k > 0]
    if not rows:
        return "rows have no"
    return (" and ".join([", ".join(rows[:-1]), rows[-1]]) if len(rows) > 1 else rows[0]) + \
        (" are" if len(rows) > 1 else " is")


def cmd_table4(a):
    sys.stdout.write(table4_markdown(a.tsv, a.ks, a.dataset, a.backbone, paper_numbers(), a.selection))


def cmd_ablation(a):
    sys.stdout.write(ablation_markdown(a.tsv, paper_numbers(), a.ks))


def cmd_separability(a):
    out = ["prototypes\tevaluated_on\tcandidates\tmany\tmedium\tfew\ttotal"]
    for path in a.files:
        base = os.path.basename(path)[:-len(".tsv")]
        on, _, within = base.partition("-")
        for r in read_tsv(path):
            out.append("\t".join([r["name"].replace("-protos", ""), on, "group" if within else "all"]
                                 + [r[g] for g in GROUPS]))
    print("\n".join(out))


def labelled(pairs):
    for pair in pairs:
        label, _, path = pair.partition("=")
        yield label, path


def cmd_stack(a):
    header = None
    for label, path in labelled(a.files):
        with open(path) as f:
            lines = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]
        if header is None:
            header = "backbone\t" + lines[0]
            print(header)
        for line in lines[1:]:
            print(label + "\t" + line)


def key_columns(header, tables):
    """The first column, and the columns that are not numbers in some row."""
    keys = [header[0]]
    for column in header[1:]:
        if any(r[column] not in ("", "nan", "-") and math.isnan(number(r[column])) for t in tables for r in t):
            keys.append(column)
    return keys


def mean_sd(values):
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, math.nan
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def aggregate(paths):
    """Header and rows (lists of text) of the mean over the seeds' files."""
    tables = [read_tsv(p) for p in paths]
    with open(paths[0]) as f:
        header = next(l for l in f if l.strip() and not l.startswith("#")).rstrip("\n").split("\t")
    keys = key_columns(header, tables)
    values = [c for c in header if c not in keys]
    by_key = [{tuple(r[k] for k in keys): r for r in t} for t in tables]
    for path, t in zip(paths, by_key):
        if set(t) != set(by_key[0]):
            raise SystemExit("report.py aggregate: %s has other rows than %s" % (path, paths[0]))
    rows = []
    for r in tables[0]:
        key = tuple(r[k] for k in keys)
        stats = [mean_sd([number(t[key][c]) for t in by_key]) for c in values]
        rows.append([r[c] if c in keys else "%.10g" % stats[values.index(c)][0] for c in header]
                    + ["" if math.isnan(sd) else "%.10g" % sd for _, sd in stats] + [str(len(paths))])
    return header + [c + "_sd" for c in values] + ["seeds"], rows


def cmd_aggregate(a):
    header, rows = aggregate(a.files)
    print("\t".join(header))
    for r in rows:
        print("\t".join(r))


def select(val_rows, test_rows, param):
    """(chosen, oracle) rows: the value best on val (ties: the smallest), the value best on test."""
    val = {r["name"]: number(r["total"]) for r in val_rows}
    test = {r["name"]: r for r in test_rows}
    names = [r["name"] for r in test_rows if r["name"] in val]
    if not names:
        raise SystemExit("report.py select: the val and test files share no %s" % param)

    def best(score):
        return min(names, key=lambda n: (-round(score(n), 9), number(n)))
    chosen = best(lambda n: val[n])
    oracle = best(lambda n: number(test[n]["total"]))
    return [("chosen", chosen), ("oracle", oracle)], val, test


def cmd_select(a):
    picks, val, test = select(read_tsv(a.val), read_tsv(a.test), a.param)
    print("\t".join(["row", a.param, "val_total"] + list(GROUPS)))
    for row, name in picks:
        print("\t".join([row, name, "%.10g" % val[name]] + [test[name][g] for g in GROUPS]))


def read_mismatch(path):
    with open(path) as f:
        lines = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    count, compared = int(lines[0][1]), int(lines[0][2])
    header = lines[1]
    pairs = []
    for fields in lines[2:]:
        row = dict(zip(header, fields))
        a = row.get("class_name", row["class_id"])
        b = row.get("closest_name", row["closest_class_id"])
        pairs.append("%s→%s" % (a, b))
    return count, compared, pairs


def cmd_mismatch(a):
    """One row per backbone: over its seeds' files, the mean count, its sd,
    the seeds' counts, and each mismatched pair with the seeds showing it."""
    print("backbone\tmismatches\tmismatches_sd\tper_seed\tcompared\tpairs")
    by_backbone = {}
    for label, path in labelled(a.files):
        by_backbone.setdefault(label, []).append(read_mismatch(path))
    for label, seeds in by_backbone.items():
        mean, sd = mean_sd([float(count) for count, _, _ in seeds])
        seen = {}
        for _, _, pairs in seeds:
            for pair in pairs:
                seen[pair] = seen.get(pair, 0) + 1
        pairs = ", ".join(p if len(seeds) == 1 else "%s (%d/%d)" % (p, n, len(seeds)) for p, n in seen.items())
        print("%s\t%.10g\t%s\t%s\t%d\t%s" % (label, mean, "" if math.isnan(sd) else "%.10g" % sd,
                                             ",".join(str(c) for c, _, _ in seeds), seeds[0][1], pairs))


# ---- REPORT.md -------------------------------------------------------------------

def image(path, results, alt):
    return "![%s](%s)\n" % (alt, os.path.relpath(path, results))


def projection_comments(path):
    """The comment lines of lt-project's TSV, the final classifier's file named by its row."""
    lines = []
    with open(path) as f:
        for l in f:
            if not l.startswith("#"):
                continue
            l = l[1:].strip()
            if l.startswith("final:"):
                base = os.path.basename(l.split(":", 1)[1].strip())
                if base.startswith("wh") and base[2:-3].isdigit():
                    l = "final classifier: w^h(%s)" % base[2:-3]
            lines.append(l)
    return lines


def neighbours_markdown(path):
    rows = read_tsv(path)
    by_class = {}
    for r in rows:
        by_class.setdefault(r["class_id"], []).append(r)
    out = []
    for cid, rs in by_class.items():
        name = rs[0].get("class_name", cid)
        cells = []
        for r in rs:
            lch = number(r.get("lch"))
            cells.append("%s (%.2f%s)" % (r.get("neighbour_name", r["neighbour_id"]), number(r["score"]),
                                          "" if math.isnan(lch) else ", LCH %.2f" % lch))
        out.append(["%s (%s)" % (name, cid), "; ".join(cells)])
    return markdown_table(["class", "top attention neighbours (α, LCH)"], out)


def mean_lch_by_rank(path):
    sums = {}
    for r in read_tsv(path):
        v = number(r.get("lch"))
        if not math.isnan(v):
            sums.setdefault(int(r["rank"]), []).append(v)
    return {k: sum(v) / len(v) for k, v in sorted(sums.items())}


def ksweep_markdown(path):
    rows = [[r["name"]] + [cell(r, g) for g in GROUPS] for r in read_tsv(path)]
    return markdown_table(["k", "many", "medium", "few", "total"], rows)


def separability_markdown(path):
    rows = []
    for r in read_tsv(path):
        rows.append([r["prototypes"], r["evaluated_on"], "own group" if r["candidates"] == "group" else "all classes"]
                    + [cell(r, g) for g in GROUPS])
    return markdown_table(["prototypes from", "evaluated on", "candidates", "many", "medium", "few", "total"], rows)


# ---- the rebalancing baselines (lt-adjust, lt-retrain) ---------------------------

# classifier-balancing's README (Kang et al. 2020), ImageNet-LT, ResNeXt-50, total top-1.
BALANCING_IMAGENET_LT = (("joint", 44.4), ("NCM", 47.3), ("cRT", 49.6), ("tau-norm", 49.4), ("LWS", 49.9))
BASELINE_COLUMNS = ("method", "parameter", "value", "selection", "val_total") + GROUPS


def select_on_val(val_rows, prefix, values):
    """(value, val total) of the highest total accuracy on val; ties go to the
    smaller value, whatever the order of values."""
    totals = {r["name"]: number(r["total"]) for r in val_rows}
    best = min(values, key=lambda v: (-round(totals[prefix + v], 9), number(v)))
    return best, totals[prefix + best]


def cmd_baselines(a):
    """baselines.tsv: joint, NCM, tau-norm and logit adjustment at their values
    chosen on val, cRT, LWS; test accuracies."""
    val, test = read_tsv(a.val), {r["name"]: r for r in read_tsv(a.test)}
    out = ["\t".join(BASELINE_COLUMNS)]

    def row(method, name, parameter="", value="", selection="", val_total=math.nan):
        r = test[name]
        out.append("\t".join([method, parameter, value, selection, "" if math.isnan(val_total) else repr(val_total)]
                             + [r[g] for g in GROUPS]))

    row("joint", "joint")
    row("NCM", "ncm")
    for method, parameter, prefix, values in (("tau-norm", "P", "tau", a.ps.split()),
                                              ("logit-adjust", "T", "la", a.ts.split())):
        value, val_total = select_on_val(val, prefix, values)
        row(method, prefix + value, parameter, value, "chosen on val", val_total)
    row("cRT", "crt")
    row("LWS", "lws")
    print("\n".join(out))


def seeds_values(path):
    """{method: [the value each seed chose]} from the per-seed files beside an
    aggregated baselines.tsv (<backbone>/seed<S>/baselines.tsv), in seed order."""
    folder = os.path.dirname(os.path.abspath(path))
    seeds = sorted((int(name[4:]), name) for name in os.listdir(folder)
                   if name.startswith("seed") and name[4:].isdigit()
                   and os.path.exists(os.path.join(folder, name, os.path.basename(path))))
    values = {}
    for _, name in seeds:
        for r in read_tsv(os.path.join(folder, name, os.path.basename(path))):
            if r.get("selection"):
                values.setdefault(r["method"], []).append(fmt(number(r["value"]), 2))
    return values


def baselines_markdown(path, table4):
    rows = []
    per_seed = seeds_values(path)
    for r in read_tsv(path):
        # over several seeds each chose its own value: those, not their mean, which none chose
        chosen = per_seed.get(r["method"], [])
        if not r["selection"]:
            chosen = "–"
        elif len(set(chosen)) > 1:
            chosen = "%s per seed: %s (chosen on val, val total %s)" % (
                r["parameter"], ", ".join(chosen), cell(r, "val_total"))
        else:
            chosen = "%s = %s (chosen on val, val total %s)" % (
                r["parameter"], chosen[0] if chosen else fmt(number(r["value"]), 2), cell(r, "val_total"))
        rows.append([r["method"], chosen] + [cell(r, g) for g in GROUPS])
    if table4 and os.path.exists(table4):
        for r in read_tsv(table4):
            if r["name"] == "ensemble-wh":
                rows.append(["the method: ensemble of w^h(k)", "–"] + [cell(r, g) for g in GROUPS])
    out = markdown_table(["classifier", "value", "many", "medium", "few", "total"], rows)
    out += ("\nReference, classifier-balancing (Kang et al. 2020) on ImageNet-LT, ResNeXt-50, total: %s.\n"
            % ", ".join("%s %.1f" % pair for pair in BALANCING_IMAGENET_LT))
    return out


def cmd_baselines_md(a):
    sys.stdout.write(baselines_markdown(a.tsv, a.table4))


def baselines_section(R, backbones):
    """REPORT.md's section on the baselines, per backbone (empty when none was made)."""
    if not any(os.path.exists(os.path.join(R, b, "baselines.tsv")) for b in backbones):
        return []
    md = ["## Rebalancing baselines on the same features\n",
          "The field's baselines on each backbone's frozen features, beside the method's ensemble: joint (the "
          "trained cosine classifier), NCM (the prototypes, Eq. 3), tau-normalisation (scores x·w_j/‖w_j‖^P) and "
          "post-hoc logit adjustment (logits − T log π_j, π the training counts), both with the value of highest "
          "total accuracy on the balanced val features (ties to the smaller value), and cRT and LWS (lt-retrain, "
          "class-balanced sampling, on the training features). Test accuracy (%). Files: `<backbone>/baselines.tsv`, "
          "`<backbone>/baselines/`.\n"]
    for b in backbones:
        path = os.path.join(R, b, "baselines.tsv")
        if os.path.exists(path):
            md.append("### %s\n" % b)
            md.append(baselines_markdown(path, os.path.join(R, b, "table4.tsv")))
    return md


def seed_files(R, backbone, seeds, name):
    return [os.path.join(R, backbone, "seed" + s, name) for s in seeds]


def chosen_values(R, backbone, seeds, param="k"):
    """{"chosen": [value per seed], "oracle": [...]} from the seeds' selection.tsv."""
    values = {}
    for path in seed_files(R, backbone, seeds, "selection.tsv"):
        if os.path.exists(path):
            for r in read_tsv(path):
                values.setdefault(r["row"], []).append(r[param])
    return values


def beyond_spread(a, b):
    """Unpaired (two separately trained backbones): whether two aggregated
    rows' mean totals differ by more than the sum of their sds."""
    ma, mb = number(a["total"]), number(b["total"])
    sa, sb = number(a.get("total_sd")), number(b.get("total_sd"))
    if math.isnan(sa) or math.isnan(sb):
        return None
    return abs(ma - mb) > sa + sb


def paired_difference(per_seed, name, reference):
    """Paired over the seeds (two classifiers of one backbone share its model
    in each seed): (mean, sd, beyond) of the per-seed differences of the
    totals, beyond when |mean| exceeds their sample sd; sd and beyond None
    with fewer than two seeds."""
    deltas = [number(t[name]["total"]) - number(t[reference]["total"]) for t in per_seed
              if name in t and reference in t]
    mean, sd = mean_sd(deltas)
    if math.isnan(sd):
        return mean, None, None
    return mean, sd, abs(mean) > sd


SPREAD_RULE = ("Classifiers of one backbone share its trained model in each seed, so they are compared paired: "
               "for each seed the difference of the two totals; a difference is beyond the spread when the mean "
               "of these per-seed differences exceeds, in absolute value, their sample standard deviation "
               "(shown as mean ± sd of the differences). Backbones are trained separately, so their ensembles "
               "are compared unpaired: beyond the spread when the difference of the mean totals exceeds the sum "
               "of the two standard deviations over the seeds.")


def spread_lines(R, backbones, ks, seeds):
    """Which totals differ by more than the seeds' spread: each Table 4 row
    against its backbone's cosine classifier (paired over the seeds), and
    each backbone's ensemble against the first backbone's (unpaired)."""
    labels = table4_labels(ks)
    out = []
    tables = {b: {r["name"]: r for r in read_tsv(os.path.join(R, b, "table4.tsv"))} for b in backbones}
    for b in backbones:
        rows = tables[b]
        if "cosine" not in rows:
            continue
        per_seed = [{r["name"]: r for r in read_tsv(p)} for p in seed_files(R, b, seeds, "table4.tsv")]
        verdicts = []
        for name in rows:
            if name == "cosine":
                continue
            mean, sd, beyond = paired_difference(per_seed, name, "cosine")
            if beyond is None:
                return ["One seed: no spread to compare differences with (give SEEDS=\"0 1 2\")."]
            verdicts.append("%s %+.1f ± %.1f%s" % (labels.get(name, name), mean, sd,
                                                   "" if beyond else " (within the spread)"))
        out.append("- %s, total against the cosine classifier, paired over the seeds: %s" % (b, "; ".join(verdicts)))
    first = backbones[0]
    for b in backbones[1:]:
        x, y = tables[b].get("ensemble-wh"), tables[first].get("ensemble-wh")
        if x and y:
            beyond = beyond_spread(x, y)
            out.append("- ensemble(w^h), %s against %s (unpaired): %+.1f%s"
                       % (b, first, number(x["total"]) - number(y["total"]), "" if beyond else " (within the spread)"))
    return out


def cmd_report(a):
    R = a.results
    backbones = a.backbones.split()
    seeds = a.seeds.split()
    first = "seed" + seeds[0]
    paper = paper_numbers()
    config = open(os.path.join(R, "config.txt")).read() if os.path.exists(os.path.join(R, "config.txt")) else ""
    settings = dict(line.partition("=")[::2] for line in config.splitlines() if "=" in line)
    md = []
    md.append("# lt study: %s\n" % a.dataset)
    md.append("Made by `make -f Makefile.pipeline` on %s. Backbones: %s. Shot groups by training count: "
              "many n > 100, medium 20 ≤ n ≤ 100, few n < 20; group accuracy is the mean of per-class test "
              "accuracies, total the top-1 over all test samples. The paper's numbers (ImageNet-LT, ResNeXt-50; "
              "Places-LT, ResNet-101) are shown beside ours for reference: they are other data sets and "
              "backbones, so compare the patterns (which row wins where), not the values.\n"
              % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), ", ".join(backbones)))
    md.append("Seeds: %s. Each backbone is trained once per seed; every number below is the mean ± sample "
              "standard deviation over the seeds (no ± with one seed). Per-seed files: `<backbone>/seed<S>/`; "
              "the aggregates `<backbone>/<table>.tsv` carry the means, a `<column>_sd` column per number and "
              "the seed count. Figures of one seed (neighbours, 2-D view) show seed %s.\n"
              % (", ".join(seeds), seeds[0]))
    md.append("## Differences beyond the seed spread\n")
    md.append(SPREAD_RULE + "\n")
    md.append("\n".join(spread_lines(R, backbones, a.ks, seeds)) + "\n")
    if a.classes is not None and not a.classes:
        md.append("Note: the data set has no classes.txt, so classes are named by their ids and the attention "
                  "neighbours have no WordNet similarity (LCH).\n")
    if config:
        md.append("<details><summary>Configuration</summary>\n\n```\n%s```\n</details>\n" % config)

    md.append("## Classifiers per backbone (supplementary Table 4)\n")
    md.append("Test accuracy (%) of each classifier, built from one trained backbone without further training "
              "(docs/method.md §4–5): w^h(k) = ŵ^kt(k) + p̂ + ŵ (Eq. 7), w^hc = ŵ^kt + p̂ (Eq. 9), ensembles average "
              "probabilities (Eq. 8). Files: `<backbone>/table4.tsv`, `table4.tsv` (all backbones).\n")
    for b in backbones:
        md.append("### %s\n" % b)
        md.append(table4_markdown(os.path.join(R, b, "table4.tsv"), a.ks, a.dataset, b, paper,
                                  os.path.join(R, b, "selection.tsv"), chosen_values(R, b, seeds)))

    md.append("## Selection on val\n")
    md.append("k of w^h(k) is chosen on the validation features (balanced, from training images the "
              "training list does not use) by total accuracy: the highest val total, ties going to the "
              "smallest k. The chosen k's test accuracy is the result; the k best on the test set is shown "
              "only as the \"oracle\" row, which no method could choose. Table 4's %s the "
              "fixed values of KS (the paper's: 20 and 100). Files: `<backbone>/seed<S>/selection.tsv` (k, val total, "
              "test accuracy), `<backbone>/seed<S>/ksweep-val.tsv`.\n" % fixed_rows(a.ks))
    rows = []
    for b in backbones:
        for s, path in zip(seeds, seed_files(R, b, seeds, "selection.tsv")):
            picks = {r["row"]: r for r in read_tsv(path)}
            c, o = picks["chosen"], picks["oracle"]
            rows.append([b, s, c["k"] + " (chosen on val)", fmt(number(c["val_total"])), fmt(number(c["total"])),
                         o["k"], fmt(number(o["total"]))])
    md.append(markdown_table(["backbone", "seed", "k", "val total", "test total", "oracle k", "oracle test total"],
                             rows))
    md.append("## Attention roles (supplementary Table 1)\n")
    md.append("The ensemble of w^h(k), k ∈ {%s}, with the attention's query and key/value roles swapped: p→w "
              "(prototype queries the classifier rows, the method), w→p, w→w, p→p. Files: "
              "`<backbone>/ablation.tsv`.\n" % ", ".join(a.ks.split()))
    for b in backbones:
        md.append("### %s\n" % b)
        md.append(ablation_markdown(os.path.join(R, b, "ablation.tsv"), paper, a.ks))

    md.append("## Prototype/classifier mismatch (supplementary Table 3)\n")
    md.append("Classes whose prototype is closer (cosine) to another class's classifier row than to its own. "
              "File: `mismatch.tsv`.\n")
    rows = []
    for r in read_tsv(os.path.join(R, "mismatch.tsv")):
        b = r["backbone"]
        ref = [paper.get(("supp-table3", "places-lt " + b.replace("-simclr", "-unsupervised")
                          .replace("-scratch", "-supervised"), "mismatch"))]
        rows.append([b, cell(r, "mismatches"), r["per_seed"], r["compared"], r["pairs"] or "–",
                     fmt(ref[0][3], 0) + " of 365" if ref[0] else "–"])
    md.append(markdown_table(["backbone", "mismatches", "per seed", "classes", "pairs (class→closest, seeds)",
                              "paper Places-LT, R101, same sampler, from supervised ImageNet weights (scratch) or "
                              "ImageNet SimCLR weights (simclr)"], rows))
    md.append("Paper, Places-LT ResNet-101: uniform/supervised 39, uniform/unsupervised 17, "
              "square root/supervised 0, square root/unsupervised 0 (of 365 classes).\n")

    md.append("## Sharpness of prototype/classifier similarity (supplementary Fig. 4)\n")
    md.append("For each prototype, the cosine similarities to all classifier rows sorted in decreasing order, "
              "averaged over prototypes. Sharper (a steeper fall after rank 1) means attention selects fewer, "
              "more relevant classes. Files: `<backbone>/sharpness.tsv`.\n")
    md.append(image(os.path.join(R, "sharpness.png"), R, "sharpness"))
    rows = []
    for b in backbones:
        curve = read_tsv(os.path.join(R, b, "sharpness.tsv"))
        picks = [cell(curve[i], "mean_cosine", 3) if i < len(curve) else "–" for i in (0, 1, 4, 9)]
        rows.append([b] + picks + [cell(curve[-1], "mean_cosine", 3)])
    md.append(markdown_table(["backbone", "rank 1", "rank 2", "rank 5", "rank 10", "last"], rows))

    md.append("## Class separability (paper Sec. 4.4, supplementary Fig. 2)\n")
    md.append("Nearest-prototype accuracy (%) per group, prototypes from the training or the validation "
              "features, evaluated on the training and on the test features; groups from the training counts. "
              "\"own group\": the candidates are only the classes of the sample's group. Files: "
              "`<backbone>/separability.tsv`.\n")
    for b in backbones:
        md.append("### %s\n" % b)
        md.append(image(os.path.join(R, b, "separability.png"), R, "separability " + b))
        md.append(separability_markdown(os.path.join(R, b, "separability.tsv")))

    md.append("## Attention neighbours (supplementary Fig. 3)\n")
    md.append("For seeded random classes, the classes with the highest attention weights α (p→w, k = 0, τ = %s) "
              "and their WordNet 3.0 Leacock–Chodorow similarity to the class (−log(path/(2·19)), path in "
              "nodes; 3.64 = same synset; lt-wordnet). Files: `<backbone>/neighbours.tsv`, "
              "`<backbone>/neighbours-all.tsv` (every class).%s\n"
              % (settings.get("TAU") or "as TAU was set", " Here without class names: the attention weights only, classes by id."
                 if a.classes is not None and not a.classes else ""))
    for b in backbones:
        path = os.path.join(R, b, first, "neighbours.tsv")
        md.append("### %s (seed %s)\n" % (b, seeds[0]))
        md.append(image(os.path.join(R, b, first, "neighbours.png"), R, "neighbours " + b))
        md.append(neighbours_markdown(path))
        by_rank = mean_lch_by_rank(path)
        if by_rank:
            md.append("Mean LCH by neighbour rank: " + ", ".join("%d: %.2f" % kv for kv in by_rank.items()) + "\n")

    md.append("## k sweep\n")
    md.append("Accuracy of w^h(k) against k: sources are the classes with more than k training samples. "
              "Files: `<backbone>/ksweep.tsv`.\n")
    for b in backbones:
        md.append("### %s\n" % b)
        md.append(image(os.path.join(R, b, "ksweep.png"), R, "k sweep " + b))
        md.append("<details><summary>Table</summary>\n\n" + ksweep_markdown(os.path.join(R, b, "ksweep.tsv"))
                  + "\n</details>\n")

    md.append("## 2-D view of knowledge transfer (supplementary Fig. 1)\n")
    md.append("Validation samples of a seeded random few-shot class and of its two top attention neighbours, "
              "with each class's prototype, learned classifier row and final classifier row w^h, all unit "
              "vectors projected on their two first principal components (lt-project; the paper uses UMAP). "
              "Files: `<backbone>/projection.tsv`.\n")
    for b in backbones:
        path = os.path.join(R, b, first, "projection.tsv")
        md.append("### %s (seed %s)\n" % (b, seeds[0]))
        md.append(image(os.path.join(R, b, first, "projection.png"), R, "projection " + b))
        md.append("".join("- %s\n" % c for c in projection_comments(path)))

    md += baselines_section(R, backbones)

    md.append("## Files\n")
    md.append("Every intermediate is an lt-h5 file (`h5dump`, h5py), per seed under `<backbone>/seed<S>/`: "
              "`model.h5` (backbone + cosine classifier), `features/{train,val,test}.h5`, `protos.h5`, `protos-val.h5`, `clf/*.h5` (composed "
              "classifiers and ensembles), `ablation/*.h5`. Each rule's log, headed by its command, start time "
              "and exit code, is in `logs/`.\n")
    sys.stdout.write("\n".join(md))


def cmd_summary(a):
    R = a.results
    paper = paper_numbers()
    out = []
    for b in a.backbones.split():
        labels = table4_labels(a.ks)
        path = os.path.join(R, b, "table4.tsv")
        columns = paper_columns("", b)[:1]
        rows = read_tsv(path)
        width = max(len(labels.get(r["name"], r["name"])) for r in rows)
        head = "%-*s  %11s  %11s  %11s  %11s" % (width, "%s: test accuracy %%" % b if len(b) + 17 <= width else b,
                                                  "many", "medium", "few", "total")
        if columns:
            head += "   paper total*"
        out.append(head)
        for r in rows:
            line = "%-*s  %11s  %11s  %11s  %11s" % (width, labels.get(r["name"], r["name"]),
                                                     *(cell(r, g) for g in GROUPS))
            if columns:
                line += "   %11s" % paper_cell(paper, columns[0], r["name"], a.ks).split(" / ")[-1]
            out.append(line)
        if columns:
            out.append("* %s; on another data set or backbone compare the pattern (which rows win), not the values"
                       % columns[0][0])
        selection = os.path.join(R, b, "selection.tsv")
        if os.path.exists(selection):
            values = chosen_values(R, b, a.seeds.split())
            for r in read_tsv(selection):
                out.append("%s: %s" % (selection_label(r, "k", values.get(r["row"])),
                                       " / ".join(cell(r, g) for g in GROUPS)))
        counts = [read_mismatch(p) for p in seed_files(R, b, a.seeds.split(), "mismatch.tsv") if os.path.exists(p)]
        if counts:
            out.append("mismatched prototypes: %s of %d classes (per seed)"
                       % (", ".join(str(c) for c, _, _ in counts), counts[0][1]))
        out.append("")
    out.append("Differences beyond the seed spread (within a backbone, paired: |mean of the per-seed Δ| > their sd; "
               "across backbones: |Δ| > sd + sd):")
    out += spread_lines(R, a.backbones.split(), a.ks, a.seeds.split())
    out.append("")
    out.append("Report: %s" % os.path.join(R, "REPORT.md"))
    if a.elapsed is not None:
        out.append("Study time: %dm%02ds (data, training, extraction, analyses)" % (a.elapsed // 60, a.elapsed % 60))
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("table4")
    p.add_argument("tsv")
    p.add_argument("--ks", default="0 20 100")
    p.add_argument("--backbone", default="sqrt-scratch")
    p.add_argument("--dataset", default="")
    p.add_argument("--selection", help="selection.tsv: the k chosen on val and the oracle, as two more rows")
    p.set_defaults(run=cmd_table4)
    p = sub.add_parser("ablation")
    p.add_argument("tsv")
    p.add_argument("--ks", default=PAPER_KS)
    p.add_argument("--dataset", default="")
    p.set_defaults(run=cmd_ablation)
    p = sub.add_parser("separability")
    p.add_argument("files", nargs="+")
    p.set_defaults(run=cmd_separability)
    p = sub.add_parser("stack")
    p.add_argument("files", nargs="+")
    p.set_defaults(run=cmd_stack)
    p = sub.add_parser("aggregate")
    p.add_argument("files", nargs="+")
    p.set_defaults(run=cmd_aggregate)
    p = sub.add_parser("select")
    p.add_argument("val")
    p.add_argument("test")
    p.add_argument("--param", default="k")
    p.set_defaults(run=cmd_select)
    p = sub.add_parser("mismatch")
    p.add_argument("files", nargs="+")
    p.set_defaults(run=cmd_mismatch)
    p = sub.add_parser("baselines")
    p.add_argument("--val", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--ps", required=True)
    p.add_argument("--ts", required=True)
    p.set_defaults(run=cmd_baselines)
    p = sub.add_parser("baselines-md")
    p.add_argument("tsv")
    p.add_argument("--table4", default="")
    p.set_defaults(run=cmd_baselines_md)
    for name, run in (("report", cmd_report), ("summary", cmd_summary)):
        p = sub.add_parser(name)
        p.add_argument("--results", required=True)
        p.add_argument("--dataset", default="")
        p.add_argument("--backbones", required=True)
        p.add_argument("--ks", default="0 20 100")
        p.add_argument("--seeds", default="0")
        p.add_argument("--elapsed", type=int)
        p.add_argument("--classes", default=None, help="classes.txt of the study ('' = none)")
        p.set_defaults(run=run)
    a = ap.parse_args()
    a.run(a)


if __name__ == "__main__":
    main()
