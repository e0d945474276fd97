#!/usr/bin/env python3
"""Turn the spec (questions.md) into data: kubelab/data/spec.json, and copy the seed beside it.

    python scripts/generate_spec.py                  # ../shared/seed/questions.md -> kubelab/data/spec.json
                                                     # ../shared/seed/concepts-study-log.ja.md -> kubelab/data/seed.ja.md
    python scripts/generate_spec.py --check          # exit 1 if the committed spec.json or seed.ja.md is out of date
    python scripts/generate_spec.py --spec PATH --seed PATH --out PATH

questions.md lists, per section of the learner's study log (the seed), the claims a notebook must
demonstrate (`- C-SLUG-n: ...`) and the learner's questions (`- **Q-SLUG-n**: ...`), and ends with
a table assigning every section to one of 16 notebooks. This script is the only thing that reads
../shared: kubelab and its tests read the JSON it writes (`kubelab.core.spec.load()`), and the tests
read the seed's copy it writes next to it (`seed.ja.md`, byte for byte the learner's file, so its
line numbers are the spec's `L…`) to check that every quote in the notebooks is the learner's words.

Every question carries `quote_ja`, the learner's own Japanese words, so a notebook can show the
question as it was asked. Two sources, in this order:

1. `SEED_QUOTES` below: seed line ranges chosen by hand, copied verbatim from the seed, the lines
   joined by " … " (a quote never runs two of the learner's lines into one sentence). Sections
   0-40 (the chapters written) are curated completely, because there the
   parenthetical in questions.md is often a fragment ("良くわからん") or missing altogether, and
   the seed has the whole sentence.
2. The first `("...")` parenthetical of the question in questions.md, verbatim. These are
   sometimes abridged (joined with "…" or " / "); the script says how many are not in the seed
   word for word, so later chapters know which ones to curate.

The output is deterministic: the same inputs give the same bytes, in spec order.
"""

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO.parent / "shared" / "seed" / "questions.md"
SEED_NAME = "concepts-study-log.ja.md"
DEFAULT_OUT = REPO / "kubelab" / "data" / "spec.json"
# The seed's copy, written next to --out: what the tests check the notebooks' quotes against.
SEED_COPY = "seed.ja.md"
# Between two seed lines in one quote: the mark of a gap, as where a notebook leaves words out.
ELLIPSIS = " … "
# How a notebook may mark a gap in a quote: the ellipsis character, or three dots.
GAP = re.compile(r"…|\.\.\.")

# The totals questions.md states in its header; anything else means the parser (or the spec) broke.
EXPECTED = {"sections": 97, "claims": 428, "questions": 188, "notebooks": 16}
# Sections whose every question must carry the learner's Japanese words (the chapters written so far).
QUOTED_SECTIONS = range(0, 41)
MAX_TEXT = 200
SHORT = 60


@dataclass(frozen=True)
class SeedQuote:
    """Seed lines `first`..`last` (1-based, inclusive), each without its list marker, joined by " … ".

    `starting_at` drops what comes before that text on the first line, and `ending_with` what
    comes after that text on the last: for a line where the learner wrote their note after the
    doc quote they were commenting on (`> doc text ... my note`), or went on to another topic.
    """

    first: int
    last: int | None = None
    starting_at: str | None = None
    ending_with: str | None = None


# Q-ID -> where the learner asked it in the seed (concepts-study-log.ja.md).
SEED_QUOTES: dict[str, SeedQuote] = {
    # §0 Introduction (L1-L37)
    "Q-INTRO-1": SeedQuote(7),
    "Q-INTRO-2": SeedQuote(8, starting_at="ラベル管理は", ending_with="ベスプラを知りたい。。。"),
    "Q-INTRO-3": SeedQuote(10, 12),
    "Q-INTRO-4": SeedQuote(27),
    "Q-INTRO-5": SeedQuote(28),
    "Q-INTRO-6": SeedQuote(36, 37),
    # §1 Cluster Architecture (L39-)
    "Q-ARCH-1": SeedQuote(67),
    "Q-ARCH-2": SeedQuote(68),
    "Q-ARCH-3": SeedQuote(51),
    "Q-ARCH-4": SeedQuote(57),
    # §2 Communication between Nodes and the Control Plane (L70-)
    "Q-NODECP-1": SeedQuote(78),
    "Q-NODECP-2": SeedQuote(82),
    "Q-NODECP-3": SeedQuote(93, 94),
    # §3 Leases (L96-)
    "Q-LEASE-1": SeedQuote(100),
    "Q-LEASE-2": SeedQuote(102),
    # §6 CRI (L115-)
    "Q-CRI-1": SeedQuote(120),
    # §7 Garbage Collection (L122-)
    "Q-GC-1": SeedQuote(127),
    "Q-GC-2": SeedQuote(135),
    "Q-GC-3": SeedQuote(149, 150),
    # §9-12 (notebook 02)
    "Q-CTR-1": SeedQuote(160, 161),
    "Q-IMG-1": SeedQuote(169),
    "Q-RTC-1": SeedQuote(181),
    "Q-HOOK-1": SeedQuote(189),
    "Q-HOOK-2": SeedQuote(193),
    "Q-HOOK-3": SeedQuote(201),
    # §13-21 (notebook 03)
    "Q-POD-1": SeedQuote(229),
    "Q-INIT-1": SeedQuote(238),
    "Q-SIDECAR-1": SeedQuote(248),
    "Q-SIDECAR-2": SeedQuote(250),
    "Q-SIDECAR-3": SeedQuote(251),
    "Q-DISRUPT-1": SeedQuote(287),
    "Q-DISRUPT-2": SeedQuote(288, 289),
    "Q-DISRUPT-3": SeedQuote(290),
    "Q-QOS-1": SeedQuote(301),
    "Q-QOS-2": SeedQuote(302),
    "Q-QOS-3": SeedQuote(310),
    "Q-QOS-4": SeedQuote(314),
    "Q-QOS-5": SeedQuote(318),
    "Q-USERNS-1": SeedQuote(322),
    "Q-USERNS-2": SeedQuote(323),
    "Q-USERNS-3": SeedQuote(327),
    "Q-USERNS-4": SeedQuote(331),
    "Q-DAPI-1": SeedQuote(335),
    # §22-26 (notebook 04)
    "Q-DEPLOY-1": SeedQuote(358),
    "Q-DEPLOY-2": SeedQuote(381),
    "Q-STS-1": SeedQuote(407),
    "Q-STS-2": SeedQuote(415),
    "Q-STS-3": SeedQuote(418),
    "Q-DS-1": SeedQuote(422, 424),
    "Q-DS-2": SeedQuote(434),
    "Q-JOB-1": SeedQuote(457),
    # §27 Service, LoadBalancer, and Networking (L459-L490)
    "Q-NETMODEL-1": SeedQuote(474),
    "Q-NETMODEL-2": SeedQuote(478, 481),
    # §28 Service (L492-L542)
    "Q-SVC-1": SeedQuote(506),
    "Q-SVC-2": SeedQuote(510),
    "Q-SVC-3": SeedQuote(521, 523),
    "Q-SVC-4": SeedQuote(525, 526),
    "Q-SVC-5": SeedQuote(535, 537),
    "Q-SVC-6": SeedQuote(538),
    "Q-SVC-7": SeedQuote(539),
    "Q-SVC-8": SeedQuote(541, 542),
    # §29 Virtual IPs and Service Proxies (L544-L563)
    "Q-VIP-1": SeedQuote(554),
    "Q-VIP-2": SeedQuote(559, 561),
    # §30 Ingress (L565-L584)
    "Q-ING-1": SeedQuote(571),
    "Q-ING-2": SeedQuote(573, 579),
    "Q-ING-3": SeedQuote(583, 584),
    # §33 EndpointSlices (L600-L624)
    "Q-EPS-1": SeedQuote(610),
    "Q-EPS-2": SeedQuote(614),
    "Q-EPS-3": SeedQuote(622),
    "Q-EPS-4": SeedQuote(624),
    # §34 Network Policies (L626-L651)
    "Q-NETPOL-1": SeedQuote(640),
    "Q-NETPOL-2": SeedQuote(651),
    # §35 DNS for Services and Pods (L653-L663)
    "Q-DNS-1": SeedQuote(657, 658),
    "Q-DNS-2": SeedQuote(659, 660),
    # §36 IPv4/IPv6 Dual-Stack (L665-L670)
    "Q-DUAL-1": SeedQuote(669, 670),
    # §40 Volume (L702-L734)
    "Q-VOL-1": SeedQuote(705),
    "Q-VOL-2": SeedQuote(708, 709),
    "Q-VOL-3": SeedQuote(710, 712),
    "Q-VOL-4": SeedQuote(715, 717),
    "Q-VOL-5": SeedQuote(719),
    "Q-VOL-6": SeedQuote(726, 728),
}

SECTION_HEADING = re.compile(r"^## (\d+)\. (.+)$")
SECTION_MARKER = re.compile(r"^`([A-Z0-9]+)` · notebook `([0-9a-z-]+)` · (L(\d+)(?:–L(\d+))?)")
# An ID may carry a note before its colon: "- C-ITP-1 (from the docs; ...): with ...".
CLAIM = re.compile(r"^- (C-([A-Z0-9]+)-(\d+))(?: \([^)]*\))?: (.+)$")
QUESTION = re.compile(r"^- \*\*(Q-([A-Z0-9]+)-(\d+))\*\*(?: \([^)]*\))?: (.+)$")
GROUPING_HEADING = "## Notebook grouping"
GROUPING_ROW = re.compile(r"^\| (\d+) \| (.+) \| ([A-Z0-9]+) \| ([0-9a-z-]+) \|$")
# The learner's words in a question: the first parenthetical that is nothing but a quotation.
QUOTE_PARENTHETICAL = re.compile(r'\("([^"]+)"\)')
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
# Words ending in a full stop that do not end a sentence.
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.")


class SpecError(Exception):
    pass


def sentence_ends(text: str) -> list[int]:
    """Where each sentence of `text` ends: after `.`, `?` or `!` followed by a space or the end,
    outside `code`, and not in an abbreviation such as "e.g."."""
    ends, in_code = [], False
    for i, char in enumerate(text):
        if char == "`":
            in_code = not in_code
        elif char in ".?!" and not in_code and (i + 1 == len(text) or text[i + 1] == " "):
            if not (char == "." and text[: i + 1].lower().endswith(ABBREVIATIONS)):
                ends.append(i + 1)
    return ends or [len(text)]


def summary_line(text: str, kind: str) -> str:
    """One line that says what a claim or question is about, at most about MAX_TEXT characters.

    The first sentence; for a question, up to its first question mark, because a question often
    opens with its context ("Nodes used to need swap turned off. Can they run with swap on ...?");
    a first sentence shorter than SHORT also takes the next one ("There is no workflow engine."
    alone says little). A longer text is cut at a word, never inside `code` or parentheses, and ends with " …".
    """
    ends = sentence_ends(text)
    end = ends[0]
    if kind == "question":
        end = next((e for e in ends if text[e - 1] == "?"), end)
    elif end < SHORT and len(ends) > 1:
        end = ends[1]
    line = text[:end].strip()
    if len(line) <= MAX_TEXT:
        return line
    shortened = line[: line.rfind(" ", 0, MAX_TEXT)]
    # Never leave a `code span` or a parenthesis open: cut before it instead.
    if shortened.count("`") % 2:
        shortened = shortened[: shortened.rfind("`")].rstrip()
    if shortened.count("(") > shortened.count(")"):
        shortened = shortened[: shortened.rfind("(")].rstrip()
    return shortened.rstrip(",;:") + " …"


def seed_line_text(line: str) -> str:
    """A seed line as the learner wrote it: without indentation, list marker or quote marker."""
    return re.sub(r"^\s*(?:[-*>]\s+)*", "", line).strip()


def quote_from_seed(seed_lines: list[str], where: SeedQuote) -> str:
    last = where.last or where.first
    if not 1 <= where.first <= last <= len(seed_lines):
        raise SpecError(
            f"seed lines L{where.first}-L{last} are outside the seed (1-{len(seed_lines)})"
        )
    parts = [seed_line_text(line) for line in seed_lines[where.first - 1 : last]]
    if where.starting_at:
        start = parts[0].find(where.starting_at)
        if start < 0:
            raise SpecError(f"seed line L{where.first} does not contain {where.starting_at!r}")
        parts[0] = parts[0][start:]
    if where.ending_with:
        end = parts[-1].find(where.ending_with)
        if end < 0:
            raise SpecError(f"seed line L{last} does not contain {where.ending_with!r}")
        parts[-1] = parts[-1][: end + len(where.ending_with)]
    return ELLIPSIS.join(part for part in parts if part)


def missing_fragment(quote: str, seed_text: str) -> str | None:
    """The first part of `quote` that is not the learner's words, or None if it all is.

    A quote is the seed's text exactly, but for gaps marked with an ellipsis (`…` or `...`): each
    fragment between them must be in one seed line (as `seed_line_text` cleans it; runs of white
    space count as one space), and the fragments must come in the seed's order. So a quote may
    leave words or lines out, but may not run two lines into one or put them in another order.
    """
    lines = "\n".join(" ".join(seed_line_text(line).split()) for line in seed_text.splitlines())
    position = 0
    for fragment in (" ".join(part.split()) for part in GAP.split(quote)):
        if not fragment:
            continue
        found = lines.find(fragment, position)
        if found < 0:
            return fragment
        position = found + len(fragment)
    return None


def parse_spec(text: str) -> tuple[list[dict], list[dict], list[dict]]:
    """Sections, IDs (claims and questions, in file order) and the Section -> notebook table rows."""
    sections: list[dict] = []
    ids: list[dict] = []
    table: list[dict] = []
    lines = text.splitlines()
    in_grouping = False
    for number, line in enumerate(lines, 1):
        if line.startswith(GROUPING_HEADING):
            in_grouping = True
            continue
        if in_grouping:
            if row := GROUPING_ROW.match(line):
                table.append(
                    {"number": int(row[1]), "title": row[2], "slug": row[3], "notebook": row[4]}
                )
            continue
        if heading := SECTION_HEADING.match(line):
            marker_line = next((later for later in lines[number:] if later.strip()), "")
            marker = SECTION_MARKER.match(marker_line)
            if not marker:
                raise SpecError(
                    f"questions.md:{number + 1}: section {heading[1]} has no "
                    f"'`SLUG` · notebook `NAME` · L…' line (found {marker_line!r})"
                )
            sections.append(
                {
                    "number": int(heading[1]),
                    "heading": heading[2],
                    "slug": marker[1],
                    "notebook": marker[2],
                    "seed_start": int(marker[4]),
                    "seed_end": int(marker[5]) if marker[5] else None,
                }
            )
            continue
        claim, question = CLAIM.match(line), QUESTION.match(line)
        if not (claim or question):
            continue
        found = claim or question
        if not sections:
            raise SpecError(f"questions.md:{number}: {found[1]} comes before the first section")
        section = sections[-1]
        if found[2] != section["slug"]:
            raise SpecError(
                f"questions.md:{number}: {found[1]} is in section {section['number']} ({section['slug']})"
            )
        ids.append(
            {
                "id": found[1],
                "kind": "claim" if claim else "question",
                "section": section["number"],
                "slug": section["slug"],
                "notebook": section["notebook"],
                "body": found[4][0].upper() + found[4][1:],
                "line": number,
            }
        )
    return sections, ids, table


def section_title(heading: str, table_title: str) -> str:
    """The table's title ("DownwordAPI (Downward API)"), which omits the headings' editorial notes;
    for §0, whose table title is all parenthetical ("(Introduction, untitled)"), the heading's
    title before its note ("Introduction")."""
    if table_title.startswith("(") and table_title.endswith(")"):
        return heading.split(" (", 1)[0]
    return table_title


def check_consistency(sections: list[dict], ids: list[dict], table: list[dict]) -> None:
    """Fail loudly on anything that would make the data disagree with the spec's own statements."""
    numbers = [s["number"] for s in sections]
    if numbers != list(range(len(sections))):
        raise SpecError(f"sections are not numbered 0, 1, 2, ... in order: {numbers}")
    if [(r["number"], r["slug"], r["notebook"]) for r in table] != [
        (s["number"], s["slug"], s["notebook"]) for s in sections
    ]:
        raise SpecError("the 'Section → notebook' table disagrees with the section headings")
    seen: set[str] = set()
    counters: dict[tuple[str, str], int] = {}
    for entry in ids:
        if entry["id"] in seen:
            raise SpecError(f"questions.md:{entry['line']}: {entry['id']} appears twice")
        seen.add(entry["id"])
        # IDs count 1, 2, 3... per section and kind, so a gap means a line the parser missed.
        key = (entry["kind"], entry["slug"])
        counters[key] = counters.get(key, 0) + 1
        if not entry["id"].endswith(f"-{counters[key]}"):
            raise SpecError(
                f"questions.md:{entry['line']}: expected {entry['kind']} number {counters[key]}, "
                f"found {entry['id']}"
            )
    totals = {
        "sections": len(sections),
        "claims": sum(e["kind"] == "claim" for e in ids),
        "questions": sum(e["kind"] == "question" for e in ids),
        "notebooks": len({s["notebook"] for s in sections}),
    }
    if totals != EXPECTED:
        raise SpecError(f"questions.md gives {totals}; its header says {EXPECTED}")


def seed_ranges(sections: list[dict], seed_lines: list[str]) -> dict[int, tuple[int, int]]:
    """Each section's seed lines: from its marker to the last non-blank line before the next section.

    Checks that every marker (after §0, which is the preamble) points at a `## ` heading, so
    that a seed and a questions.md from different versions cannot be mixed silently.
    """
    ranges = {}
    for index, section in enumerate(sections):
        start = section["seed_start"]
        if section["number"] > 0 and not seed_lines[start - 1].startswith("## "):
            raise SpecError(
                f"§{section['number']} says it starts at seed line L{start}, "
                f"which is not a heading: {seed_lines[start - 1]!r}"
            )
        end = section["seed_end"]
        if end is None:
            end = (
                sections[index + 1]["seed_start"] - 1
                if index + 1 < len(sections)
                else len(seed_lines)
            )
            while end > start and not seed_lines[end - 1].strip():
                end -= 1
        ranges[section["number"]] = (start, end)
    return ranges


def quote_for(entry: dict, seed_lines: list[str], ranges: dict[int, tuple[int, int]]) -> str | None:
    if entry["kind"] != "question":
        return None
    if where := SEED_QUOTES.get(entry["id"]):
        start, end = ranges[entry["section"]]
        if not start <= where.first <= (where.last or where.first) <= end:
            raise SpecError(
                f"{entry['id']}: seed lines L{where.first}-L{where.last or where.first} "
                f"are outside §{entry['section']} (L{start}–L{end})"
            )
        return quote_from_seed(seed_lines, where)
    if parenthetical := QUOTE_PARENTHETICAL.search(entry["body"]):
        return parenthetical[1]
    return None


def build(spec_text: str, seed_text: str, source_name: str = "questions.md") -> dict:
    sections, ids, table = parse_spec(spec_text)
    check_consistency(sections, ids, table)
    seed_lines = seed_text.splitlines()
    ranges = seed_ranges(sections, seed_lines)
    unknown = set(SEED_QUOTES) - {e["id"] for e in ids}
    if unknown:
        raise SpecError(f"SEED_QUOTES names IDs the spec does not have: {sorted(unknown)}")
    titles = {row["number"]: row["title"] for row in table}
    out_sections = [
        {
            "number": s["number"],
            "title": section_title(s["heading"], titles[s["number"]]),
            "slug": s["slug"],
            "notebook": s["notebook"],
            "seed_lines": "L{}–L{}".format(*ranges[s["number"]]),
        }
        for s in sections
    ]
    out_ids = []
    for entry in ids:
        quote = quote_for(entry, seed_lines, ranges)
        if (
            entry["kind"] == "question"
            and entry["section"] in QUOTED_SECTIONS
            and not (quote and JAPANESE.search(quote))
        ):
            raise SpecError(
                f"{entry['id']} (§{entry['section']}) needs the learner's Japanese words: "
                f"add its seed lines to SEED_QUOTES (got {quote!r})"
            )
        out_ids.append(
            {
                "id": entry["id"],
                "kind": entry["kind"],
                "section": entry["section"],
                "slug": entry["slug"],
                "notebook": entry["notebook"],
                "text": summary_line(entry["body"], entry["kind"]),
                "quote_ja": quote,
            }
        )
    return {
        "source": source_name,
        "generated_by": "scripts/generate_spec.py",
        "sections": out_sections,
        "ids": out_ids,
    }


def to_text(spec: dict) -> str:
    """JSON with one section or ID per line: valid JSON that still reads (and diffs) line by line."""

    def rows(items: list[dict]) -> str:
        return ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in items)

    head = ",\n".join(
        f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}"
        for k, v in spec.items()
        if k not in ("sections", "ids")
    )
    return (
        f"{{\n{head},\n \"sections\": [\n{rows(spec['sections'])}\n ],\n"
        f" \"ids\": [\n{rows(spec['ids'])}\n ]\n}}\n"
    )


def not_in_seed(spec: dict, seed_text: str) -> list[str]:
    """Questions whose quote (from questions.md) is not word for word in the seed: candidates to curate."""
    return [
        e["id"] for e in spec["ids"] if e["quote_ja"] and missing_fragment(e["quote_ja"], seed_text)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--spec", type=Path, default=DEFAULT_SPEC, help=f"questions.md (default: {DEFAULT_SPEC})"
    )
    parser.add_argument(
        "--seed", type=Path, help=f"the seed (default: {SEED_NAME} next to the spec)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"write nothing; exit 1 if --out or the seed's copy next to it ({SEED_COPY}) differs from what would be written",
    )
    args = parser.parse_args(argv)
    seed = args.seed or args.spec.with_name(SEED_NAME)
    seed_copy = args.out.with_name(SEED_COPY)
    try:
        seed_bytes = seed.read_bytes()
        seed_text = seed_bytes.decode("utf-8")
        spec = build(args.spec.read_text(encoding="utf-8"), seed_text, args.spec.name)
    except (OSError, UnicodeDecodeError, SpecError) as e:
        print(f"generate_spec: {e}", file=sys.stderr)
        return 1
    text = to_text(spec)
    assert json.loads(text) == spec, "to_text must write exactly the spec"
    if args.check:
        stale = [
            str(path)
            for path, wanted in ((args.out, text.encode("utf-8")), (seed_copy, seed_bytes))
            if (path.read_bytes() if path.exists() else b"") != wanted
        ]
        if stale:
            print(
                f"generate_spec: {' and '.join(stale)} out of date: run scripts/generate_spec.py",
                file=sys.stderr,
            )
            return 1
        print(f"{args.out} and {seed_copy} are up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    seed_copy.write_bytes(seed_bytes)
    questions = [e for e in spec["ids"] if e["kind"] == "question"]
    print(
        f"wrote {args.out}: {len(spec['sections'])} sections, {len(spec['ids']) - len(questions)} claims, "
        f"{len(questions)} questions ({sum(bool(e['quote_ja']) for e in questions)} with the learner's words)"
    )
    print(f"wrote {seed_copy}: the seed, {len(seed_text.splitlines())} lines")
    abridged = not_in_seed(spec, seed_text)
    if abridged:
        print(
            f"note: {len(abridged)} quotes are not word for word in the seed (abridged in questions.md): "
            + ", ".join(abridged),
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
