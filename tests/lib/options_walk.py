"""Walks every option of every lt tool (and of lt-data's subcommands), as
--help lists them, and checks what a user relies on:
  - a value outside an option's choices, a non-number for a number, or an
    integer beyond 64 bits, is a usage error: exit 2 and one
    'lt-<tool>: error:' line;
  - every choice --help offers is accepted by the parser;
  - the default --help shows is the one the man page states (options common
    to every tool may point to lt-protos(1) instead);
  - every old spelling the man page lists under DEPRECATED OPTIONS still
    works: the same exit status and messages as the new spelling, plus one
    warning line naming the new one.
  options_walk.py BIN_DIR MAN_DIR        exit 0 when all hold
"""
import glob
import os
import re
import subprocess
import sys

bin_dir, man_dir = sys.argv[1], sys.argv[2]
problems = []
checked = 0


def run(command):
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    return done.returncode, [line for line in done.stderr.split("\n") if line]


def help_options(command):
    """(names, spec, description) of each option of `command --help`."""
    text = subprocess.run(command + ["--help"], capture_output=True, text=True).stdout
    options, inside = [], False
    for line in text.split("\n"):
        if line.startswith("Options:"):
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):
            break
        match = re.match(r"^  (-\S+)(?: ((?:\S| (?! ))*))?(?:\s{2,}(.*))?$", line)
        if match:
            options.append({"names": match.group(1).split(","), "spec": match.group(2) or "",
                            "description": match.group(3) or ""})
        elif line.strip() and options:
            options[-1]["description"] = (options[-1]["description"] + " " + line.strip()).strip()
    subcommands = []
    if "Subcommands:" in text:
        block = text.split("Subcommands:", 1)[1].split("\n\n", 1)[0]
        subcommands = [line.split()[0] for line in block.split("\n") if line.strip()]
    return options, subcommands


def plain(roff):
    return re.sub(r"\\f[BIRP]", "", roff).replace("\\-", "-").replace("\\(en", "-").replace("\\~", " ")


def man_sections(tool):
    path = os.path.join(man_dir, tool + ".1")
    return open(path).read() if os.path.exists(path) else ""


def man_entries(page, section):
    """Option name -> its text, for the .TP entries of a man page section."""
    match = re.search(r"^\.SH " + section + r"\n(.*?)(?=^\.SH |\Z)", page, re.S | re.M)
    entries, current = {}, None
    if not match:
        return entries
    for line in match.group(1).split("\n"):
        text = plain(line)
        if line.startswith(".TP"):
            current = None
        elif current is None and re.match(r"^\.(B|BI|BR|RB|IR)\b", line):
            current = re.findall(r"--?[a-z][a-z0-9-]*", text)
            for name in current:
                entries.setdefault(name, "")
        elif current:
            for name in current:
                entries[name] += " " + text
    return entries


def numbers_in(text):
    found = set()
    for token in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text):
        try:
            found.add(float(token))
        except ValueError:
            pass
    return found


def documented(default, text):
    if "as in every lt tool" in text.lower():
        return True
    if "default" not in text.lower():
        return False
    if default in text:
        return True
    try:
        return float(default) in numbers_in(text)
    except ValueError:
        return False


def one_usage_error(status, lines):
    return status == 2 and len(lines) == 1 and re.match(r"^lt-[a-z]+: error: ", lines[0])


def walk(tool, prefix, page):
    global checked
    options, subcommands = help_options(prefix)
    entries = man_entries(page, "OPTIONS")
    where = " ".join([tool] + prefix[1:])
    for option in options:
        names = option["names"]
        name = ([n for n in names if n.startswith("--")] or names)[0]
        if name in ("--help", "--version"):
            continue
        checked += 1
        spec = re.split(r" (Excludes|Needs): ", option["spec"])[0]
        if not option["description"]:
            problems.append(f"{where} {name}: no description in --help")
        choices = re.search(r":\{([^}]*)\}", spec)
        kind = re.match(r"^[A-Z]+", spec)
        if choices:
            status, lines = run(prefix + [name, "no-such-choice"])
            if not one_usage_error(status, lines):
                problems.append(f"{where} {name} no-such-choice: expected exit 2 and one error line, got "
                                f"{status}: {lines[:3]}")
            for choice in choices.group(1).split(","):
                status, lines = run(prefix + [name, choice])
                if any("not in {" in line for line in lines):
                    problems.append(f"{where} {name} {choice}: a listed choice is refused: {lines}")
        elif kind and kind.group(0) in ("INT", "UINT", "FLOAT"):
            status, lines = run(prefix + [name, "not-a-number"])
            if not one_usage_error(status, lines):
                problems.append(f"{where} {name} not-a-number: expected exit 2 and one error line, got "
                                f"{status}: {lines[:3]}")
            # Beyond 64 bits: refused, never saturated to the largest integer.
            if kind.group(0) != "FLOAT":
                status, lines = run(prefix + [name, "99999999999999999999"])
                if not one_usage_error(status, lines) or "99999999999999999999" not in lines[0]:
                    problems.append(f"{where} {name} 99999999999999999999: expected exit 2 and one error line "
                                    f"naming it, got {status}: {lines[:3]}")
        default = re.search(r"=(\S+)$", spec)
        if default:
            text = entries.get(name)
            if text is None:
                problems.append(f"{where} {name}: not in the OPTIONS of man/{tool}.1")
            elif not documented(default.group(1), text):
                problems.append(f"{where} {name}: --help says default {default.group(1)}, man/{tool}.1 does not")
    for sub in subcommands:
        walk(tool, prefix + [sub], page)
    return options


def value_for(option):
    spec = option["spec"]
    choices = re.search(r":\{([^}]*)\}", spec)
    if choices:
        return [choices.group(1).split(",")[0]]
    if not spec or spec.startswith(("Excludes", "Needs")):
        return []  # a flag
    kind = re.match(r"^[A-Z]+", spec)
    return ["1"] if kind and kind.group(0) in ("INT", "UINT", "FLOAT") else ["x"]


def deprecated(tool, page):
    global checked
    section = re.search(r"^\.SH DEPRECATED OPTIONS\n(.*?)(?=^\.SH |\Z)", page, re.S | re.M)
    if not section:
        return
    pairs = re.findall(r"--([a-z][a-z0-9-]*) is the old spelling of --([a-z][a-z0-9-]*)",
                       plain(section.group(1)).replace("\n", " "))
    if not pairs:
        problems.append(f"{tool}: DEPRECATED OPTIONS lists no 'old is the old spelling of new'")
    options, subcommands = help_options([os.path.join(bin_dir, tool)])
    prefixes = [[os.path.join(bin_dir, tool)]] + [[os.path.join(bin_dir, tool), s] for s in subcommands]
    for old, new in pairs:
        checked += 1
        for prefix in prefixes:
            found = [o for o in help_options(prefix)[0] if "--" + new in o["names"]]
            if found:
                break
        else:
            problems.append(f"{tool}: --{new} (the new spelling of --{old}) is not in --help")
            continue
        value = value_for(found[0])
        new_status, new_lines = run(prefix + ["--" + new] + value)
        old_status, old_lines = run(prefix + ["--" + old] + value)
        warning = [line for line in old_lines if "warning:" in line and "--" + old in line and "--" + new in line]
        rest = [line for line in old_lines if line not in warning]
        if len(warning) != 1 or old_status != new_status or rest != new_lines:
            problems.append(f"{tool} --{old}: expected the result of --{new} ({new_status}: {new_lines}) plus one "
                            f"warning naming --{new}; got {old_status}: {old_lines}")


tools = sorted(glob.glob(os.path.join(bin_dir, "lt-*")))
for binary in tools:
    tool = os.path.basename(binary)
    page = man_sections(tool)
    walk(tool, [binary], page)
    deprecated(tool, page)
for problem in problems:
    print("FAIL:", problem)
print(f"options walk: {checked} options of {len(tools)} tools")
sys.exit(1 if problems or len(tools) < 5 else 0)
