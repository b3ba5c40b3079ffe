#!/usr/bin/env python3
"""Tables and REPORT.md of Makefile.pipeline, from the TSV files the lt tools
write. Standard library only.

  report.py table4 --ks "0 20 100" --backbone B --dataset D TABLE4.tsv   markdown, paper columns
  report.py ablation --dataset D ABLATION.tsv                          markdown, paper columns
  report.py separability TRAIN.tsv TEST.tsv TRAIN-WITHIN.tsv TEST-WITHIN.tsv
  report.py stack B1=FILE B2=FILE ...        the TSVs with a backbone column
  report.py mismatch B1=FILE ...             one row per backbone (lt-compat --mismatch)
  report.py baselines --val VAL.tsv --test TEST.tsv --ps "0 0.5 ..." --ts "0 1 ..."   baselines.tsv
  report.py baselines-md --table4 TABLE4.tsv BASELINES.tsv     markdown, with the method's ensemble row
  report.py report --results R --dataset D --backbones "B ..." --ks "0 20 100" [--classes classes.txt|""]
  report.py summary --results R --backbones "B ..." --ks "..." [--elapsed S]
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


def paper_columns(dataset, backbone):
    """[(header, table, setting)] of the paper's numbers shown beside a backbone."""
    sampler, _, init = backbone.rpartition("-")
    columns = []
    if sampler in ("sqrt", "instance"):
        name = "square root" if sampler == "sqrt" else "uniform"
        table = "main-table1" if sampler == "sqrt" else "supp-table2"
        columns.append(("paper ImageNet-LT, RX50 %s" % name, table, "imagenet-lt %s-scratch" % sampler))
        places_init = "unsupervised" if init in ("unsupervised", "simclr") else "supervised"
        columns.append(("paper Places-LT, R101 %s %s" % (name, places_init), "supp-table4",
                        "places-lt %s-%s" % (sampler, places_init)))
    return columns


def paper_cell(paper, column, row):
    header, table, setting = column
    values = paper.get((table, setting, row))
    if values is None and table == "supp-table2":
        values = paper.get(("main-table1", setting, row))
    return " / ".join(fmt(v) for v in values) if values else "–"


# ---- subcommands -----------------------------------------------------------------

def is_number_cell(cell):
    return cell == "–" or cell == "" or not math.isnan(number(cell.split(" / ")[0]))


def markdown_table(header, rows):
    """Numbers (and "a / b / c / d" groups of them) right-aligned, text left."""
    numeric = [i > 0 and all(is_number_cell(r[i]) for r in rows) for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def table4_markdown(path, ks, dataset, backbone, paper):
    labels = table4_labels(ks)
    columns = paper_columns(dataset, backbone)
    rows = []
    for r in read_tsv(path):
        rows.append([labels.get(r["name"], r["name"])] + [fmt(number(r[g])) for g in GROUPS]
                    + [paper_cell(paper, c, r["name"]) for c in columns])
    header = ["Classifier", "many", "medium", "few", "total"] + [c[0] + " (m/m/f/t)" for c in columns]
    return markdown_table(header, rows)


def ablation_markdown(path, paper):
    rows = []
    for r in read_tsv(path):
        rows.append([r["name"].replace("2", "→")] + [fmt(number(r[g])) for g in GROUPS]
                    + [paper_cell(paper, ("", "supp-table1", "imagenet-lt sqrt-scratch"), r["name"])])
    return markdown_table(["attention", "many", "medium", "few", "total",
                           "paper ImageNet-LT (m/m/f/t)"], rows)


def cmd_table4(a):
    sys.stdout.write(table4_markdown(a.tsv, a.ks, a.dataset, a.backbone, paper_numbers()))


def cmd_ablation(a):
    sys.stdout.write(ablation_markdown(a.tsv, paper_numbers()))


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
    print("backbone\tmismatches\tcompared\tpairs")
    for label, path in labelled(a.files):
        count, compared, pairs = read_mismatch(path)
        print("%s\t%d\t%d\t%s" % (label, count, compared, ", ".join(pairs)))


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
    rows = [[r["name"]] + [fmt(number(r[g])) for g in GROUPS] for r in read_tsv(path)]
    return markdown_table(["k", "many", "medium", "few", "total"], rows)


def separability_markdown(path):
    rows = []
    for r in read_tsv(path):
        rows.append([r["prototypes"], r["evaluated_on"], "own group" if r["candidates"] == "group" else "all classes"]
                    + [fmt(number(r[g])) for g in GROUPS])
    return markdown_table(["prototypes from", "evaluated on", "candidates", "many", "medium", "few", "total"], rows)


# ---- the rebalancing baselines (lt-adjust, lt-retrain) ---------------------------

# classifier-balancing's README (Kang et al. 2020), ImageNet-LT, ResNeXt-50, total top-1.
BALANCING_IMAGENET_LT = (("joint", 44.4), ("NCM", 47.3), ("cRT", 49.6), ("tau-norm", 49.4), ("LWS", 49.9))
BASELINE_COLUMNS = ("method", "parameter", "value", "selection", "val_total") + GROUPS


def select_on_val(val_rows, prefix, values):
    """The value of highest total accuracy on val; ties go to the value listed first."""
    totals = {r["name"]: number(r["total"]) for r in val_rows}
    best = None
    for v in values:
        total = totals[prefix + v]
        if best is None or total > best[1]:
            best = (v, total)
    return best


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


def baselines_markdown(path, table4):
    rows = []
    for r in read_tsv(path):
        chosen = "%s = %s (chosen on val, val total %s)" % (r["parameter"], r["value"], fmt(number(r["val_total"]))) \
            if r["selection"] else "–"
        rows.append([r["method"], chosen] + [fmt(number(r[g])) for g in GROUPS])
    if table4 and os.path.exists(table4):
        for r in read_tsv(table4):
            if r["name"] == "ensemble-wh":
                rows.append(["the method: ensemble of w^h(k)", "–"] + [fmt(number(r[g])) for g in GROUPS])
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


def cmd_report(a):
    R = a.results
    backbones = a.backbones.split()
    paper = paper_numbers()
    config = open(os.path.join(R, "config.txt")).read() if os.path.exists(os.path.join(R, "config.txt")) else ""
    md = []
    md.append("# lt study: %s\n" % a.dataset)
    md.append("Made by `make -f Makefile.pipeline` on %s. Backbones: %s. Shot groups by training count: "
              "many n > 100, medium 20 ≤ n ≤ 100, few n < 20; group accuracy is the mean of per-class test "
              "accuracies, total the top-1 over all test samples. The paper's numbers (ImageNet-LT, ResNeXt-50; "
              "Places-LT, ResNet-101) are shown beside ours for reference: they are other data sets and "
              "backbones, so compare the patterns (which row wins where), not the values.\n"
              % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), ", ".join(backbones)))
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
        md.append(table4_markdown(os.path.join(R, b, "table4.tsv"), a.ks, a.dataset, b, paper))

    md.append("## Attention roles (supplementary Table 1)\n")
    md.append("The ensemble of w^h(k), k ∈ {%s}, with the attention's query and key/value roles swapped: p→w "
              "(prototype queries the classifier rows, the method), w→p, w→w, p→p. Files: "
              "`<backbone>/ablation.tsv`.\n" % ", ".join(a.ks.split()))
    for b in backbones:
        md.append("### %s\n" % b)
        md.append(ablation_markdown(os.path.join(R, b, "ablation.tsv"), paper))

    md.append("## Prototype/classifier mismatch (supplementary Table 3)\n")
    md.append("Classes whose prototype is closer (cosine) to another class's classifier row than to its own. "
              "File: `mismatch.tsv`.\n")
    rows = []
    for r in read_tsv(os.path.join(R, "mismatch.tsv")):
        b = r["backbone"]
        ref = [paper.get(("supp-table3", "places-lt " + b, "mismatch"))]
        rows.append([b, r["mismatches"], r["compared"], r["pairs"] or "–",
                     fmt(ref[0][3], 0) + " of 365" if ref[0] else "–"])
    md.append(markdown_table(["backbone", "mismatches", "classes", "pairs (class→closest)",
                              "paper Places-LT R101"], rows))
    md.append("Paper, Places-LT ResNet-101: uniform/supervised 39, uniform/unsupervised 17, "
              "square root/supervised 0, square root/unsupervised 0 (of 365 classes).\n")

    md.append("## Sharpness of prototype/classifier similarity (supplementary Fig. 4)\n")
    md.append("For each prototype, the cosine similarities to all classifier rows sorted in decreasing order, "
              "averaged over prototypes. Sharper (a steeper fall after rank 1) means attention selects fewer, "
              "more relevant classes. Files: `<backbone>/sharpness.tsv`.\n")
    md.append(image(os.path.join(R, "sharpness.png"), R, "sharpness"))
    rows = []
    for b in backbones:
        curve = [number(r["mean_cosine"]) for r in read_tsv(os.path.join(R, b, "sharpness.tsv"))]
        picks = [curve[i] if i < len(curve) else math.nan for i in (0, 1, 4, 9)]
        rows.append([b] + [fmt(v, 3) for v in picks] + [fmt(curve[-1], 3)])
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
    md.append("For seeded random classes, the classes with the highest attention weights α (p→w, k = 0, τ = 10) "
              "and their WordNet 3.0 Leacock–Chodorow similarity to the class (−log(path/(2·19)), path in "
              "nodes; 3.64 = same synset; lt-wordnet). Files: `<backbone>/neighbours.tsv`, "
              "`<backbone>/neighbours-all.tsv` (every class).%s\n"
              % (" Here without class names: the attention weights only, classes by id."
                 if a.classes is not None and not a.classes else ""))
    for b in backbones:
        path = os.path.join(R, b, "neighbours.tsv")
        md.append("### %s\n" % b)
        md.append(image(os.path.join(R, b, "neighbours.png"), R, "neighbours " + b))
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
        path = os.path.join(R, b, "projection.tsv")
        md.append("### %s\n" % b)
        md.append(image(os.path.join(R, b, "projection.png"), R, "projection " + b))
        md.append("".join("- %s\n" % c for c in projection_comments(path)))

    md += baselines_section(R, backbones)

    md.append("## Files\n")
    md.append("Every intermediate is an lt-h5 file (`h5dump`, h5py): `<backbone>/model.h5` (backbone + cosine "
              "classifier), `features/{train,val,test}.h5`, `protos.h5`, `protos-val.h5`, `clf/*.h5` (composed "
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
        head = "%-*s  %6s  %6s  %6s  %6s" % (width, "%s: test accuracy %%" % b if len(b) + 17 <= width else b,
                                              "many", "medium", "few", "total")
        if columns:
            head += "   paper ImageNet-LT total"
        out.append(head)
        for r in rows:
            line = "%-*s  %6s  %6s  %6s  %6s" % (width, labels.get(r["name"], r["name"]),
                                                 *(fmt(number(r[g])) for g in GROUPS))
            if columns:
                values = paper.get((columns[0][1], columns[0][2], r["name"]))
                line += "   %s" % (fmt(values[3]) if values else "–")
            out.append(line)
        mismatch = os.path.join(R, b, "mismatch.tsv")
        if os.path.exists(mismatch):
            count, compared, _ = read_mismatch(mismatch)
            out.append("mismatched prototypes: %d of %d classes" % (count, compared))
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
    p.set_defaults(run=cmd_table4)
    p = sub.add_parser("ablation")
    p.add_argument("tsv")
    p.add_argument("--dataset", default="")
    p.set_defaults(run=cmd_ablation)
    p = sub.add_parser("separability")
    p.add_argument("files", nargs="+")
    p.set_defaults(run=cmd_separability)
    p = sub.add_parser("stack")
    p.add_argument("files", nargs="+")
    p.set_defaults(run=cmd_stack)
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
        p.add_argument("--elapsed", type=int)
        p.add_argument("--classes", default=None, help="classes.txt of the study ('' = none)")
        p.set_defaults(run=run)
    a = ap.parse_args()
    a.run(a)


if __name__ == "__main__":
    main()
