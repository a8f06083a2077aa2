"""Corpus lint: front matter, vocabulary, dates in bodies, sources, duplicate titles, and cross-article facts.

Every check returns `Finding`s. Kind `check` is a heuristic warning; every other kind is an error.
Articles (files under `articles/`) must follow corpus/README.md in full; other Markdown files (such as
`fetched/`) are checked only for what they carry: well-formed dates and URLs, body dates, titles.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from briefing.corpus import BadFile, corpus_files, doc_id_for, load_document, split_front_matter
from briefing.dates import MONTH_NAMES

ARTICLES_DIR = "articles"
REQUIRED = ("title", "date", "publisher", "jurisdiction", "topics", "sources")
PROJECT_README = Path(__file__).resolve().parents[1] / "corpus" / "README.md"
MONTHS = {m.lower(): n for n, m in enumerate(MONTH_NAMES, 1)}
_MONTH = "(" + "|".join(MONTH_NAMES) + ")"
_DATE_PATTERNS = (
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:\s*[–-]\s*\d{{1,2}})?\s+(?P<m>{_MONTH})\s+(?P<y>(?:19|20)\d\d)\b"),
    re.compile(rf"\b(?P<m>{_MONTH})\s+(?P<d>\d{{1,2}}),\s+(?P<y>(?:19|20)\d\d)\b"),
    re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<mm>\d\d)-(?P<d>\d\d)\b"),
    re.compile(rf"\b(?P<m>{_MONTH})\s+(?P<y>(?:19|20)\d\d)\b"),
)
_YEARLESS_PATTERNS = (
    re.compile(rf"\b(?P<d>\d{{1,2}})\s+(?P<m>{_MONTH})\b"),
    re.compile(rf"\b(?P<m>{_MONTH})\s+(?P<d>\d{{1,2}})\b(?![,.]?\d)"),
)
# A date reads as scheduled, not as a past event, when a preposition just before it or a future-tense
# word earlier in its sentence says so ("applies from 2 August 2026", "is due by ...", "will ...",
# "from the end of September 2025", "was to be launched in ...", "had a compliance date of ..."). A date
# that opens its sentence or list item ("- **2 August 2027:** ... applies") has no words before it, so
# the plainly forward words after it (`_FORWARD_AFTER`), up to the end of the sentence, decide instead.
_FORWARD_NEAR = re.compile(
    r"(?:\b(from|by|until|till|to|through|before|starting|beginning|on or after|instead of|rather than)"
    r"|\b(?:from|until|till|starting)\s+the\s+(?:start|end|beginning|middle|close)\s+of"
    r"|\b(?:compliance|application|start|target|commencement|effective)\s+dates?(?:\s+(?:of|was|is|on))?)\W*$",
    re.I,
)
_FORWARD_SENTENCE = re.compile(
    r"\b(will|would|shall|must|expected|scheduled|planned|(?-i:plans?)|due|deadline|takes? effect|apply|applies|"
    r"applicable|effective|is to|are to|was to|were to|set to|moves?|moved|postpone[sd]?|delay(?:s|ed)?|"
    r"extend(?:s|ed)?|grace period|transition(?:al)? period|runs?|expire[sd]?|until|later)\b",
    re.I,
)
_FORWARD_AFTER = re.compile(
    r"\b(will|shall|must|expected|scheduled|due|deadline|takes? effect|apply|applies|applicable|"
    r"is to|are to|set to)\b",
    re.I,
)
# A date in an "as of" note ("Position as of 2 December 2026", "*Update, 2 December 2026:*",
# "Current position (2 December 2026):") is when the article was revised: it is held to `updated`, not `date`.
_AS_OF_NEAR = re.compile(
    r"(?:\bas (?:of|at)|(?:[.;!?]\s|[\n(])[\W_]*(?:update[ds]?|current position|position|status))[\W_]*$",
    re.I,
)
_SENTENCE_END = re.compile(r"[.;!?]\s|\n")
_HEADING = re.compile(r"^#{1,6} .*$", re.M)
_URL = re.compile(r"\(?https?://[^\s)]+\)?")
_NAMED = (
    (re.compile(r"\b(?:Executive Order|EO)\s+(1\d{4})\b"), "Executive Order {0}"),
    (re.compile(r"\b(SB|AB|HB|SF|HF)\s?(\d{1,3}[A-Z]?(?:-\d{2,4})?)\b"), "{0} {1}"),
    (re.compile(r"\b(M-\d{2}-\d{2})\b"), "OMB {0}"),
    (re.compile(r"\bRegulation \(EU\) (\d{4}/\d+)"), "Regulation (EU) {0}"),
    (re.compile(r"\bA/RES/(\d+/\d+)"), "A/RES/{0}"),
    (re.compile(r"\b((?:[A-Z][\w'’-]*\s+){1,4}(?:Summit|Act|Declaration|Convention|Plan|Deal))\b"), "{0}"),
)
_LEADING_WORDS = {
    "the",
    "a",
    "an",
    "under",
    "in",
    "at",
    "on",
    "by",
    "from",
    "for",
    "its",
    "this",
    "that",
    "after",
    "before",
    "since",
    "with",
    "while",
    "and",
    "both",
    "when",
    "each",
    "of",
    "as",
    "their",
    "his",
    "her",
    "our",
}
_EVENTS = (
    (re.compile(r"\bsigned\b", re.I), "signed"),
    (re.compile(r"\bvetoed\b", re.I), "vetoed"),
    (re.compile(r"\badopted\b", re.I), "adopted"),
    (re.compile(r"\b(?:issued|published|released)\b", re.I), "issued"),
    (
        re.compile(r"\b(?:took effect|entered into force|came into force|came into effect)\b", re.I),
        "in force",
    ),
    (re.compile(r"\b(?:was|were) held\b", re.I), "held"),
)
_EVENT_LABELS = {label for _, label in _EVENTS}
_TIME_REFERENCE = re.compile(
    r"\b(?:before|after|ahead of|since|following|until|prior to)\s+(?:the\s+)?$", re.I
)
_WINDOW = 120  # the longest stretch of a sentence that may hold a name, an event word and a date
_COUNT = re.compile(
    r"\b(\d{1,4})\s+(countries|companies|signatories|members|experts|entities|articles|states|nations)\b"
)


@dataclass(frozen=True)
class Finding:
    """One problem in one file: `path: kind: message`; kind `check` is a warning, not an error."""

    path: str
    kind: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.kind != "check"

    def line(self) -> str:
        return f"{self.path}: {self.kind}: {self.message}"

    def to_json(self) -> dict:
        return asdict(self) | {"severity": "error" if self.is_error else "warning"}


@dataclass
class Entry:
    """One corpus file as the checks see it: raw front matter, body, and whether it is an article."""

    path: str
    meta: dict = field(default_factory=dict)
    body: str = ""
    article: bool = False
    title: str | None = None


@dataclass(frozen=True)
class Vocabulary:
    jurisdictions: frozenset[str]
    topics: frozenset[str]


def read_vocabulary(readme: Path) -> Vocabulary:
    """The jurisdictions and topics listed under `### Jurisdictions` and `### Topics` of a corpus README."""
    text = readme.read_text(encoding="utf-8")

    def section(heading: str) -> str:
        part = text.split(f"### {heading}", 1)
        return part[1].split("\n## ", 1)[0].split("\n### ", 1)[0] if len(part) == 2 else ""

    return Vocabulary(
        jurisdictions=frozenset(re.findall(r"`([A-Za-z]+)`", section("Jurisdictions"))),
        topics=frozenset(re.findall(r"^\| `([a-z-]+)`", section("Topics"), flags=re.M)),
    )


def load_entries(root: Path) -> tuple[list[Entry], list[Finding]]:
    """Every document under `root` as an `Entry`; files that cannot be read become findings."""
    entries, findings = [], []
    for path in corpus_files(root):
        rel = path.relative_to(root).as_posix()
        article = rel.startswith(f"{ARTICLES_DIR}/") and path.suffix.lower() in {".md", ".markdown"}
        try:
            if path.suffix.lower() not in {".md", ".markdown"}:
                doc = load_document(path, root)
                entries.append(Entry(rel, title=doc.title))
                continue
            text = path.read_text(encoding="utf-8-sig")
            body, meta = split_front_matter(text)
        except (BadFile, UnicodeDecodeError) as exc:
            findings.append(Finding(rel, "front-matter", str(exc)))
            continue
        except ValueError as exc:  # YAML accepts 2024-13-01 as a date, then fails to build it
            findings.append(Finding(rel, "front-matter", f"malformed YAML front matter: {exc}"))
            continue
        if article and not meta:
            findings.append(Finding(rel, "front-matter", "no YAML front matter"))
        title = meta.get("title")
        entries.append(Entry(rel, meta, body, article, str(title).strip() if title else None))
    return entries, findings


def check_front_matter(entry: Entry, vocab: Vocabulary | None) -> list[Finding]:
    """Required keys, ISO dates, publisher and vocabulary (articles); well-formed dates (all files)."""
    found, meta = [], entry.meta
    if entry.article:
        for key in REQUIRED:
            if meta.get(key) in (None, "", []):
                found.append(Finding(entry.path, "front-matter", f"missing '{key}'"))
    for key in ("date", "updated"):
        if key in meta and not isinstance(meta[key], dt.date):
            found.append(
                Finding(entry.path, "date", f"'{key}' is not an ISO date (YYYY-MM-DD): {meta[key]!r}")
            )
    date, updated = _date(meta.get("date")), _date(meta.get("updated"))
    if date and updated and date > updated:
        found.append(Finding(entry.path, "date", f"date {date} is later than updated {updated}"))
    found += _event_dates(entry)
    if not entry.article or not meta:
        return found
    if meta.get("publisher") and meta["publisher"] != "Briefing desk":
        found.append(
            Finding(entry.path, "front-matter", f"publisher is {meta['publisher']!r}, not 'Briefing desk'")
        )
    if vocab is not None:
        for key, allowed in (("jurisdiction", vocab.jurisdictions), ("topics", vocab.topics)):
            values = meta.get(key) or []
            if not isinstance(values, list):
                found.append(Finding(entry.path, "vocabulary", f"'{key}' is not a list"))
                continue
            for value in values:
                if str(value) not in allowed:
                    found.append(Finding(entry.path, "vocabulary", f"unknown {key} {value!r}"))
    return found


def _event_dates(entry: Entry) -> list[Finding]:
    events = entry.meta.get("event_dates")
    if events is None:
        return []
    if not isinstance(events, list):
        return [Finding(entry.path, "front-matter", "'event_dates' is not a list")]
    bad = [
        e
        for e in events
        if not (
            isinstance(e, dict) and isinstance(e.get("date"), dt.date) and str(e.get("event") or "").strip()
        )
    ]
    return [
        Finding(entry.path, "front-matter", f"event_dates entry needs an ISO date and an event: {e!r}")
        for e in bad
    ]


def check_sources(entry: Entry) -> list[Finding]:
    """Articles: a non-empty list of {title, http(s) url}, each listed in the `## Sources` section."""
    if not entry.article or not entry.meta:
        url = entry.meta.get("url")
        if url and not is_http_url(str(url)):
            return [Finding(entry.path, "sources", f"url is not a well-formed http(s) URL: {url!r}")]
        return []
    sources = entry.meta.get("sources")
    if not sources:
        return []  # reported as a missing key
    if not isinstance(sources, list):
        return [Finding(entry.path, "sources", "'sources' is not a list")]
    listed = re.split(r"^## Sources\s*$", entry.body, flags=re.M)
    section = listed[1] if len(listed) > 1 else None
    found = [] if section is not None else [Finding(entry.path, "sources", "no '## Sources' section")]
    for n, source in enumerate(sources, 1):
        if not isinstance(source, dict) or not str(source.get("title") or "").strip():
            found.append(Finding(entry.path, "sources", f"source {n} has no title"))
            continue
        url = str(source.get("url") or "")
        if not is_http_url(url):
            found.append(
                Finding(entry.path, "sources", f"source {n} has no well-formed http(s) URL: {url!r}")
            )
        elif section is not None and url not in section:
            found.append(Finding(entry.path, "sources", f"source {n} is not in the Sources section: {url}"))
    return found


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a dotted host and no whitespace."""
    if not url or any(c.isspace() for c in url):
        return False
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme in {"http", "https"} and "." in host and not host.startswith(".")


class Mention(NamedTuple):
    """A date in a body: the day (the 1st for a bare month), whether it reads as scheduled, its text.

    `as_of` marks the date of an "as of" note, which says when the text was revised, not what happened.
    """

    date: dt.date
    scheduled: bool
    text: str
    has_day: bool
    start: int
    as_of: bool = False


def body_dates(body: str) -> list[Mention]:
    """Every date the body mentions, outside links and the Sources section, in order.

    A day and month without a year ("on 7 April") takes the year of the last dated mention before it in
    the same paragraph; with none, it is not read.
    """
    main = re.split(r"^## Sources\s*$", body, flags=re.M)[0]
    main = _URL.sub(lambda m: " " * len(m.group(0)), main)
    main = _HEADING.sub(lambda m: " " * len(m.group(0)), main)  # headings repeat the title's dates
    seen: dict[int, Mention] = {}
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(main):
            if not _overlaps(match, seen):
                date = _match_date(match)
                if date is not None:
                    seen[match.start()] = _mention(main, match, date)
    dated = sorted(seen.items())
    for pattern in _YEARLESS_PATTERNS:
        for match in pattern.finditer(main):
            if _overlaps(match, seen):
                continue
            paragraph_start = main.rfind("\n\n", 0, match.start())
            years = [m.date.year for start, m in dated if paragraph_start < start < match.start()]
            date = _match_date(match, years[-1]) if years else None
            if date is not None:
                seen[match.start()] = _mention(main, match, date)
    return [seen[k] for k in sorted(seen)]


def _overlaps(match: re.Match[str], seen: dict[int, Mention]) -> bool:
    return any(start <= match.start() < end for start, end in _spans(seen))


def _mention(main: str, match: re.Match[str], date: dt.date) -> Mention:
    before = main[: match.start()]
    sentence = _SENTENCE_END.split(before[-160:])[-1]
    if not re.search(r"[^\W\d_]", sentence):  # the date opens its sentence or list item
        after = _SENTENCE_END.split(main[match.end() : match.end() + 160])[0]
        forward = bool(_FORWARD_AFTER.search(after))
    else:
        forward = bool(_FORWARD_NEAR.search(before[-50:]) or _FORWARD_SENTENCE.search(sentence))
    as_of = bool(_AS_OF_NEAR.search("\n" + before[-80:]))
    return Mention(
        date, forward and not as_of, match.group(0), "d" in match.groupdict(), match.start(), as_of
    )


def _spans(seen: dict[int, Mention]) -> Iterable[tuple[int, int]]:
    return ((start, start + len(m.text)) for start, m in seen.items())


def _match_date(match: re.Match[str], year: int | None = None) -> dt.date | None:
    groups = match.groupdict()
    month = int(groups["mm"]) if groups.get("mm") else MONTHS[groups["m"].lower()]
    try:
        return dt.date(year or int(groups["y"]), month, int(groups.get("d") or 1))
    except ValueError:
        return None


def check_body_dates(entry: Entry) -> list[Finding]:
    """Dates the body reports as past events must not be later than `updated`, nor than `date`.

    Scheduled dates are skipped; the date of an "as of" note is held to `updated` (else `date`) alone.
    """
    date, updated = _date(entry.meta.get("date")), _date(entry.meta.get("updated"))
    if date is None:
        return []
    found = []
    for mention in body_dates(entry.body):
        when, text = mention.date, mention.text
        if mention.scheduled:
            continue
        if mention.as_of:
            limit, key = (updated, "updated") if updated else (date, "date")
            if when > limit:
                found.append(
                    Finding(
                        entry.path,
                        "body-date",
                        f"mentions {text} ({when}) as the position's date, later than {key} {limit}",
                    )
                )
        elif updated and when > updated:
            found.append(
                Finding(entry.path, "body-date", f"mentions {text} ({when}), later than updated {updated}")
            )
        elif when > date:
            found.append(
                Finding(
                    entry.path,
                    "body-date",
                    f"mentions {text} ({when}), later than date {date}: date is the latest event reported",
                )
            )
    return found


def check_duplicate_titles(entries: Iterable[Entry]) -> list[Finding]:
    """Titles used by more than one file (case and spacing ignored)."""
    by_title: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        if entry.title:
            by_title[" ".join(entry.title.lower().split())].append(entry.path)
    return [
        Finding(path, "duplicate-title", f"title also used by {', '.join(p for p in paths if p != path)}")
        for paths in by_title.values()
        if len(paths) > 1
        for path in paths
    ]


def facts(body: str) -> list[tuple[tuple[str, str], str]]:
    """((named thing, event or unit), value) pairs: dates and counts stated next to a named law, order or summit.

    A date counts for a name when the name, an event word ("signed", "adopted", ...) and the date sit within
    `_WINDOW` characters of one sentence with no other name or date between them; the tightest fit wins.
    """
    main = _URL.sub(" ", re.split(r"^## Sources\s*$", body, flags=re.M)[0])
    out = []
    for sentence in re.split(r"(?<=[.;!?])\s+|\n+", main):
        names = named_spans(sentence)
        if not names:
            continue
        dates = [(m.start, m.start + len(m.text), _value(m)) for m in body_dates(sentence)]
        events = [
            (m.start(), m.end(), label) for pattern, label in _EVENTS for m in pattern.finditer(sentence)
        ]
        for name in names:
            if _TIME_REFERENCE.search(sentence[: name[0]]):
                continue  # "ahead of the Paris summit": the date belongs to something else
            fits = [
                (_extent(name, event, date), event[2], date[2])
                for event in events
                for date in dates
                if _clear(_extent(name, event, date), names, dates, {name[:2], date[:2]})
            ]
            for label in {label for _, label, _ in fits}:
                out.append(((name[2], label), min(f for f in fits if f[1] == label)[2]))
        for match in _COUNT.finditer(sentence):
            count = (match.start(), match.end(), "")
            near = [n for n in names if _clear(_extent(n, count, count), names, [], {n[:2]})]
            if near:
                name = min(near, key=lambda n: _extent(n, count, count)[1] - _extent(n, count, count)[0])
                out.append(((name[2], match.group(2)), match.group(1)))
    return out


def _value(mention: Mention) -> str:
    return mention.date.isoformat() if mention.has_day else mention.date.isoformat()[:7]


def _extent(*spans: tuple[int, int, str]) -> tuple[int, int]:
    return min(s[0] for s in spans), max(s[1] for s in spans)


def _clear(extent: tuple[int, int], names: list, dates: list, own: set[tuple[int, int]]) -> bool:
    """The stretch is short and holds no name or date other than its own."""
    lo, hi = extent
    others = [s for s in [*names, *dates] if s[:2] not in own]
    return hi - lo <= _WINDOW and not any(lo <= s[0] < hi for s in others)


def named_spans(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, normalised name) of the laws, orders, memoranda, summits and plans a sentence names."""
    spans = []
    for pattern, template in _NAMED:
        for match in pattern.finditer(sentence):
            words = template.format(*match.groups()).split()
            while words and words[0].lower() in _LEADING_WORDS:
                words = words[1:]
            if len(words) >= 2 and not any(s[0] <= match.start() < s[1] for s in spans):
                spans.append((match.start(), match.end(), " ".join(words)))
    return sorted(spans)


def check_consistency(entries: Iterable[Entry]) -> list[Finding]:
    """Warn where articles give different dates or counts for the same named thing and event."""
    seen: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for entry in entries:
        if entry.body:
            for key, value in facts(entry.body):
                seen[key][value].add(entry.path)
    found = []
    for (name, what), values in sorted(seen.items()):
        for month in [v for v in values if len(v) == 7 and any(o.startswith(v + "-") for o in values)]:
            del values[month]  # "July 2025" agrees with "23 July 2025"
        if len(values) < 2:
            continue
        sizes = sorted((len(paths) for paths in values.values()), reverse=True)
        majority = max(values, key=lambda v: len(values[v])) if sizes[0] > sizes[1] else None
        for value, paths in sorted(values.items()):
            if value == majority:
                continue  # only the outliers are reported; on a tie, every side is
            other = majority or next(v for v in sorted(values) if v != value)
            label = f"{what} {value}" if what in _EVENT_LABELS else f"{value} {what}"
            where = ", ".join(sorted(values[other]))
            for path in sorted(paths):
                found.append(Finding(path, "check", f"{name}: {label} here, but {other} in {where}"))
    return found


def check_corpus(root: Path, only: Collection[str] | None = None) -> list[Finding]:
    """Lint every document under `root`; with `only` (paths or doc_ids), report on those files alone."""
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    readme = root / "README.md"
    readme = readme if readme.is_file() else PROJECT_README
    vocab = read_vocabulary(readme) if readme.is_file() else None
    entries, found = load_entries(root)
    for entry in entries:
        found += check_front_matter(entry, vocab) + check_sources(entry) + check_body_dates(entry)
    found += check_duplicate_titles(entries) + check_consistency(e for e in entries if e.article)
    if only is not None:
        wanted = {doc_id_for(root / p, root) for p in only} | set(only)
        found = [f for f in found if f.path in wanted or doc_id_for(root / f.path, root) in wanted]
    return sorted(found, key=lambda f: (f.path, not f.is_error, f.kind, f.message))


def summary(findings: Iterable[Finding]) -> str:
    findings = list(findings)
    errors = sum(f.is_error for f in findings)
    return f"{errors} errors, {len(findings) - errors} checks in {len({f.path for f in findings})} files"


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None
