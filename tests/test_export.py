"""BibTeX export: what a reader of the .bib file (BibTeX, biber, pybtex) gets back.

Real Crossref records are picked from the shared data by property (each Crossref type,
accented names, organisation authors, markup in titles, odd DOIs), written out, and parsed
back with pybtex.
"""

from __future__ import annotations

import codecs
import gzip
import html
import io
import json
import re
from urllib.parse import quote

import latexcodec  # noqa: F401
import pytest
from conftest import SHARED_DATA
from pybtex.database import parse_string

from refkeeper._models import Work
from refkeeper._text import fold
from refkeeper.export import (
    bibtex_key,
    entry_type,
    title_to_latex,
    to_bibtex,
    work_to_entry,
    write_bibtex,
)

WORKS_FILE = SHARED_DATA / "crossref-works.jsonl.gz"


# ----------------------------------------------------------------------------------------
# Picking real records by property
# ----------------------------------------------------------------------------------------

_MARKUP_RE = re.compile(r"<(/?)(i|b|em|emph|strong|italic|sub|sup|scp|p|mml:[a-z]+|math|mi|mo|mn|"
                        r"mrow|msub|msup|formula|tex)\b", re.I)


def _has_accented_name(record: dict) -> bool:
    return any(
        not (p.get("family", "") + p.get("given", "")).isascii()
        and any(c.isalpha() and ord(c) < 0x250 for c in p.get("family", "") if not c.isascii())
        for p in record.get("author") or []
    )


def _has_org_author(record: dict) -> bool:
    return any(p.get("name") and not p.get("family") for p in record.get("author") or [])


def _has_markup_title(record: dict) -> bool:
    return any(_MARKUP_RE.search(t) for t in record.get("title") or [])


@pytest.fixture(scope="module")
def samples(every_type) -> dict[str, list[dict]]:
    """Real records grouped by the property they exercise (first ones in file order), and
    every Crossref type (``every_type``)."""
    want = {"accents": 12, "organisation": 10, "markup": 40, "odd-doi": 5, "pages": 15,
            "subtitle": 5, "editor": 5}
    out: dict[str, list[dict]] = {k: [] for k in want}
    checks = {
        "accents": _has_accented_name,
        "organisation": _has_org_author,
        "markup": _has_markup_title,
        "odd-doi": lambda r: re.search(r"[<>#;]", r["DOI"]) is not None,
        "pages": lambda r: "-" in r.get("page", ""),
        "subtitle": lambda r: bool(r.get("subtitle")),
        "editor": lambda r: bool(r.get("editor")),
    }
    with gzip.open(WORKS_FILE, "rt", encoding="utf-8") as fh:
        for line in fh:
            cheap = {
                "accents": '"family"' in line and not line.isascii(),
                "organisation": '"name"' in line and '"author"' in line,
                "markup": "<" in line,
                "odd-doi": re.search(r'"DOI": "[^"]*[<>#;]', line) is not None,
                "pages": '"page": "' in line,
                "subtitle": '"subtitle": ["' in line,
                "editor": '"editor": [{' in line,
            }
            wanted = [k for k, hit in cheap.items() if hit and len(out[k]) < want[k]]
            if not wanted:
                continue
            record = json.loads(line)
            for k in wanted:
                if checks[k](record):
                    out[k].append(record)
    for k, n in want.items():
        assert out[k], f"no record with property {k!r} in the shared data"
        assert len(out[k]) <= n
    out["types"] = every_type
    return out


def _all_samples(samples) -> list[dict]:
    seen, out = set(), []
    for group in samples.values():
        for r in group:
            if r["DOI"].lower() not in seen:
                seen.add(r["DOI"].lower())
                out.append(r)
    return out


def _parse_one(bib: str):
    data = parse_string(bib, "bibtex")
    assert len(data.entries) == 1
    (key, entry), = data.entries.items()
    return key, entry


def _export_one(record: dict, **kw):
    work = Work.from_crossref(record)
    bib = to_bibtex([work], **kw)
    key, entry = _parse_one(bib)
    return work, bib, key, entry


# ----------------------------------------------------------------------------------------
# Comparing text through LaTeX
# ----------------------------------------------------------------------------------------

_KNOWN_TAG = re.compile(
    r"</?(?:i|b|em|emph|strong|italic|sub|sup|scp|sc|p|span|u|formula|tex|inline-formula|"
    r"mml:[\w-]+|math|mi|mo|mn|ms|mtext|mrow|msub|msup|msubsup|mfrac|mspace|mstyle|"
    r"mmultiscripts|mprescripts|none|semantics)\b[^<>]*>",
    re.I,
)


def _alnum(s: str) -> str:
    return re.sub(r"[\W_]+", "", fold(s))


def _expected_title_text(record: dict) -> str:
    title = record["title"][0]
    title = re.sub(r"(?is)<(mml:)?annotation.*?</(mml:)?annotation>", "", title)
    title = html.unescape(_KNOWN_TAG.sub("", title))
    return re.sub(r"\\[A-Za-z]+", "", title)  # TeX that a publisher deposited


_UNESCAPE = {
    r"\textbackslash{}": "\\", r"\textbraceleft{}": "{", r"\textbraceright{}": "}",
    r"\textasciitilde{}": "~", r"\textasciicircum{}": "^", r"\textless{}": "<",
    r"\textgreater{}": ">",
}
_LATEX_TOKEN = re.compile(
    r"\\text(?:backslash|braceleft|braceright|asciitilde|asciicircum|less|greater)\{\}"
    r"|\\[$&%#_]|\\text(?:it|sc|tt|subscript|superscript)\{|[{}]"
)


def _latex_text(value: str) -> str:
    """What a reader sees of a field the exporter wrote: escapes decoded, styles dropped."""

    def sub(m: re.Match) -> str:
        tok = m.group(0)
        if tok in _UNESCAPE:
            return _UNESCAPE[tok]
        if len(tok) == 2 and tok[0] == "\\":
            return tok[1]
        return ""

    return _LATEX_TOKEN.sub(sub, value)


# Every backslash or brace the exporter emits in a text field comes from this list.
_SAFE_LATEX = re.compile(
    r"\\text(?:backslash|braceleft|braceright|asciitilde|asciicircum|less|greater)\{\}"
    r"|\\[$&%#_]"
    r"|\\text(?:it|sc|tt|subscript|superscript)\{"
)


def _assert_inert(value: str) -> None:
    """No LaTeX command other than the escapes and styles the exporter writes."""
    rest = _SAFE_LATEX.sub("", value)
    assert "\\" not in rest, value
    assert "$" not in rest and "%" not in rest and "#" not in rest, value
    assert "~" not in rest and "^" not in rest and "_" not in rest, value
    depth = 0
    for ch in value:
        depth += ch == "{"
        depth -= ch == "}"
        assert depth >= 0, value
    assert depth == 0, value


# ----------------------------------------------------------------------------------------
# Entry types
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("crossref", "bibtex"),
    [
        ("journal-article", "article"),
        ("proceedings-article", "inproceedings"),
        ("book-chapter", "incollection"),
        ("reference-entry", "incollection"),
        ("book", "book"),
        ("monograph", "book"),
        ("edited-book", "book"),
        ("reference-book", "book"),
        ("report", "techreport"),
        ("dissertation", "phdthesis"),
        ("posted-content", "misc"),
        ("dataset", "misc"),
        ("journal-issue", "misc"),
        ("component", "misc"),
        ("peer-review", "misc"),
        (None, "misc"),
    ],
)
def test_entry_type_maps_crossref_types(crossref, bibtex):
    assert entry_type(crossref) == bibtex


def test_posted_content_is_online_for_biblatex():
    assert entry_type("posted-content", biblatex=True) == "online"
    assert entry_type("journal-article", biblatex=True) == "article"


# ----------------------------------------------------------------------------------------
# Round trip of real records
# ----------------------------------------------------------------------------------------


def test_every_crossref_type_in_the_data_exports_and_parses(samples):
    types = {r["type"] for r in samples["types"]}
    assert {"journal-article", "book-chapter", "book", "report", "dataset"} <= types
    for record in samples["types"]:
        work, bib, key, entry = _export_one(record)
        assert entry.type == entry_type(record["type"]), record["DOI"]
        assert entry.fields["doi"] == record["DOI"]
        assert entry.fields["url"] == "https://doi.org/" + quote(
            record["DOI"], safe="/:;()[]!$&'*+,=@-._~")


def test_round_trip_keeps_doi_authors_pages_and_title(samples):
    for record in _all_samples(samples):
        work, bib, key, entry = _export_one(record)
        doi = record["DOI"]
        assert re.fullmatch(r"[a-z]+(\d{4}|nd)[a-z0-9]*", key), (doi, key)
        assert entry.fields["doi"] == doi
        authors = [p for p in record.get("author") or [] if p.get("family") or p.get("name")]
        assert len(entry.persons.get("author", [])) == len(authors), doi
        if work.year:
            assert entry.fields["year"] == str(work.year)
        if record.get("volume"):
            assert _latex_text(entry.fields["volume"]) == record["volume"].strip()
        page = record.get("page")
        if page and re.fullmatch(r"\w+-\w+", page):
            assert entry.fields["pages"] == page.replace("-", "--"), doi
        if record.get("title") and record["title"][0].strip():
            got = _alnum(_latex_text(entry.fields["title"]))
            want = _alnum(_expected_title_text(record))
            assert got.startswith(want), (doi, entry.fields["title"], record["title"][0])
            _assert_inert(entry.fields["title"])
        for field in ("journal", "booktitle", "publisher", "series", "howpublished"):
            if field in entry.fields:
                _assert_inert(entry.fields[field])


def test_pages_use_double_dash(samples):
    for record in samples["pages"]:
        _, _, _, entry = _export_one(record)
        first, _, last = record["page"].partition("-")
        assert entry.fields["pages"] == f"{first}--{last}"


def test_accented_names_survive_in_utf8(samples):
    for record in samples["accents"]:
        _, bib, _, entry = _export_one(record)
        people = [p for p in record["author"] if p.get("family")]
        parsed = [str(p) for p in entry.persons["author"]]
        for person in people:
            assert any(person["family"] in name for name in parsed), (person, parsed)
        assert "{\\" not in bib.split("title =")[0]  # UTF-8 written as is


def test_organisation_authors_are_kept_whole(samples):
    for record in samples["organisation"]:
        _, _, _, entry = _export_one(record)
        kept = [p for p in record["author"] if p.get("family") or p.get("name")]
        for person, org in zip(kept, entry.persons["author"], strict=True):
            if not person.get("family"):
                assert org.first_names == [] and len(org.last_names) == 1
                assert org.last_names[0].startswith("{") and org.last_names[0].endswith("}")
                assert _alnum(_latex_text(org.last_names[0])) == _alnum(person["name"])


def test_markup_in_titles_is_converted_not_copied(samples):
    for record in samples["markup"]:
        _, _, _, entry = _export_one(record)
        title = entry.fields["title"]
        assert "<" not in title and ">" not in title, (record["DOI"], title)
        _assert_inert(title)
    joined = " ".join(
        _export_one(r)[3].fields["title"] for r in samples["markup"]
    )
    assert "\\textit{" in joined and "\\textsubscript{" in joined


def test_editors_are_written_for_books_and_chapters(samples):
    for record in samples["editor"]:
        _, _, _, entry = _export_one(record)
        if entry.type in ("book", "incollection", "inproceedings"):
            editors = [p for p in record["editor"] if p.get("family") or p.get("name")]
            assert len(entry.persons["editor"]) == len(editors)


def test_odd_dois_round_trip_unchanged(samples):
    records = samples["odd-doi"]
    works = [Work.from_crossref(r) for r in records]
    extra = Work(key="10.1234/a_b%c#d~e^f&g", title="Synthetic",
                 record={"DOI": "10.1234/A_b%c#d~e^f&g", "title": ["Synthetic"]})
    bib = to_bibtex([*works, extra])
    data = parse_string(bib, "bibtex")
    dois = [e.fields["doi"] for e in data.entries.values()]
    assert dois == [r["DOI"] for r in records] + ["10.1234/A_b%c#d~e^f&g"]
    url = data.entries[list(data.entries)[-1]].fields["url"]
    assert url == "https://doi.org/10.1234/A_b%25c%23d~e%5Ef&g"
    for r, e in zip(records, data.entries.values(), strict=False):
        assert "<" not in e.fields["url"] and ">" not in e.fields["url"], r["DOI"]


def test_the_whole_sample_streams_into_one_parseable_file(samples):
    records = _all_samples(samples)
    works = [Work.from_crossref(r) for r in records]
    for ascii in (False, True):
        buf = io.StringIO()
        mapping = write_bibtex(works, buf, ascii=ascii)
        out = buf.getvalue()
        if ascii:
            assert out.isascii()
        data = parse_string(out, "bibtex")
        assert len(data.entries) == len(works) == len(mapping)
        assert sorted(mapping) == sorted(w.doi for w in works)
        assert len(set(mapping.values())) == len(mapping)
        for doi, key in mapping.items():
            assert data.entries[key].fields["doi"].lower() == doi


# ----------------------------------------------------------------------------------------
# Hostile text
# ----------------------------------------------------------------------------------------

INJECTIONS = [
    r"\input{/etc/passwd}",
    r"\write18{rm -rf ~}",
    "{{{",
    "}}} title",
    "@comment{",
    '"}, note = {pwned',
    "}, note = {pwned",
    r"\end{document}",
    "$\\alpha$ & 100% #1 a_b ^ ~",
    "\\",
    "\\\\",
    "line\n@article{evil,\ntitle={x}}",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_hostile_text_comes_out_inert_and_parseable(payload):
    record = {
        "DOI": "10.1234/evil",
        "type": "journal-article",
        "title": [f"A study of {payload} in DNA"],
        "author": [{"family": f"Evil{payload}", "given": payload}, {"name": f"Org {payload}"}],
        "container-title": [f"Journal {payload}"],
        "publisher": payload,
        "volume": payload,
        "page": f"1-{payload}",
        "issued": {"date-parts": [[2020]]},
    }
    good = Work(key="10.1234/good", title="Good", record={"DOI": "10.1234/good",
                                                           "title": ["Good"]})
    bib = to_bibtex([Work.from_crossref(record), good], notes={"10.1234/evil": payload})
    data = parse_string(bib, "bibtex")
    assert len(data.entries) == 2
    evil, ok = data.entries.values()
    assert ok.fields["doi"] == "10.1234/good"
    assert evil.fields["doi"] == "10.1234/evil"
    assert set(evil.fields) == {"title", "journal", "year", "volume", "pages", "publisher",
                                "doi", "url", "note"}
    for name in ("title", "journal", "volume", "pages", "publisher", "note"):
        _assert_inert(evil.fields[name])
    assert len(evil.persons["author"]) == 2
    for person in evil.persons["author"]:
        _assert_inert(str(person))
    # and a reader gets the text back (whitespace collapsed)
    assert _latex_text(evil.fields["note"]) == " ".join(payload.split())


def test_hostile_text_in_ascii_mode_is_inert_too():
    work = Work(key="10.1/x", record={"DOI": "10.1/x", "title": [r"Café \input{x} {{"]})
    bib = to_bibtex([work], ascii=True)
    assert bib.isascii()
    _, entry = _parse_one(bib)
    assert entry.fields["title"] == (
        r"Caf{\'e} \textbackslash{}input\textbraceleft{}x\textbraceright{}"
        r" \textbraceleft{}\textbraceleft{}"
    )


def test_doi_and_url_are_not_escaped_by_pybtex():
    work = Work(key="10.1000/a_b", record={"DOI": "10.1000/A_B", "title": ["T"]})
    bib = to_bibtex([work])
    assert '"10.1000/A_B"' in bib and "\\_" not in bib
    assert '"https://doi.org/10.1000/A_B"' in bib


# ----------------------------------------------------------------------------------------
# Titles
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "latex"),
    [
        ("DNA repair in mRNA", "{DNA} repair in {mRNA}"),
        ("Role of NF-kB in (DNA) damage", "Role of {NF-kB} in ({DNA}) damage"),
        ("CO<sub>2</sub> uptake", "{CO}\\textsubscript{2} uptake"),
        ("Zn<sup>2+</sup> binding", "{Zn}\\textsuperscript{2+} binding"),
        ("Vitamin B12 and iPhone use by McDonald", "Vitamin {B12} and {iPhone} use by {McDonald}"),
        ("The <i>Drosophila</i> genome", "The \\textit{Drosophila} genome"),
        ("An <scp>r</scp> package", "An \\textsc{r} package"),
        ("<p><strong>Bold <em>species</em></strong></p>", "Bold \\textit{species}"),
        ("Fish &amp; chips &lt;3", "Fish \\& chips \\textless{}3"),
        ("Analysis of <Konggi-Inhyung>", "Analysis of \\textless{}{Konggi-Inhyung}\\textgreater{}"),
        ("Plain lower case title", "Plain lower case title"),
        ("On <mml:math xmlns:mml=\"http://www.w3.org/1998/Math/MathML\"><mml:msub><mml:mi>x"
         "</mml:mi><mml:mn>2</mml:mn></mml:msub></mml:math> bounds",
         "On x\\textsubscript{2} bounds"),
        ("in the<math><mi>N</mi><mo>=</mo><mn>88</mn></math>nucleus", "in the N = 88 nucleus"),
        ("<formula><tex>$\\hbox{GeO}_{2}$</tex></formula> films",
         "{GeO}\\textsubscript{2} films"),
        ("Sb\n            <sub>2</sub>\n            Se\n            <sub>3</sub>\n  films",
         "{Sb}\\textsubscript{2} {Se}\\textsubscript{3} films"),
    ],
)
def test_title_markup_and_capital_protection(title, latex):
    assert title_to_latex(title) == latex


# ----------------------------------------------------------------------------------------
# Keys
# ----------------------------------------------------------------------------------------


def _work(doi="10.1/k", title="The effect of sleep", authors=None, year=2007, **record):
    authors = [{"family": "Murakami", "given": "Haruki"}] if authors is None else authors
    rec = {"DOI": doi, "title": [title] if title else [], "author": authors,
           "issued": {"date-parts": [[year]]} if year else {}, **record}
    return Work.from_crossref(rec)


def test_key_is_family_year_first_significant_word():
    assert bibtex_key(_work(), set()) == "murakami2007effect"


@pytest.mark.parametrize(
    ("kw", "key"),
    [
        ({"authors": [{"family": "Müller-Lüdenscheidt", "given": "Ä"}]},
         "mullerludenscheidt2007effect"),
        ({"authors": [{"family": "van der Berg"}]}, "vanderberg2007effect"),
        ({"authors": [{"family": "Øster"}, {"family": "Zed"}]}, "oster2007effect"),
        ({"authors": [{"family": "O'Brien"}], "title": "A <i>Study</i> of it"},
         "obrien2007study"),
        ({"year": None}, "murakami2007effect".replace("2007", "nd")),
        ({"authors": [{"name": "World Health Organization"}]}, "world2007effect"),
        ({"authors": [], "container-title": ["The Lancet"]}, "lancet2007effect"),
        ({"authors": []}, "anon2007effect"),
        ({"authors": [{"family": "王"}], "title": "关于"}, "anon2007"),
        ({"title": "2019 and the COVID-19 pandemic"}, "murakami2007covid"),
    ],
)
def test_key_rules(kw, key):
    got = bibtex_key(_work(**kw), set())
    assert got == key
    assert got.isascii() and re.fullmatch(r"[a-z0-9]+", got)


def test_key_disambiguation_is_deterministic():
    w = _work()
    taken: set[str] = set()
    keys = []
    for _ in range(30):
        k = bibtex_key(w, taken)
        keys.append(k)
        taken.add(k)
    assert keys[:4] == ["murakami2007effect", "murakami2007effecta", "murakami2007effectb",
                        "murakami2007effectc"]
    assert keys[26] == "murakami2007effectz" and keys[27] == "murakami2007effectaa"
    assert len(set(keys)) == 30


def test_write_bibtex_disambiguates_and_keeps_given_keys():
    a, b, c = (_work(doi=f"10.1/{x}") for x in "abc")
    mapping = write_bibtex([a, b, c], io.StringIO())
    assert mapping == {"10.1/a": "murakami2007effect", "10.1/b": "murakami2007effecta",
                       "10.1/c": "murakami2007effectb"}
    # Stored keys win, new works avoid them, and the order of works no longer matters.
    stored = {"10.1/C": "murakami2007effect"}
    buf = io.StringIO()
    mapping2 = write_bibtex([a, b, c], buf, keys=stored)
    assert mapping2["10.1/c"] == "murakami2007effect"
    assert mapping2["10.1/a"] == "murakami2007effecta"
    assert mapping2["10.1/b"] == "murakami2007effectb"
    assert set(parse_string(buf.getvalue(), "bibtex").entries) == set(mapping2.values())
    again = write_bibtex([c, b, a], io.StringIO(), keys=mapping2)
    assert again == mapping2


def test_duplicate_dois_are_written_once_and_bad_stored_keys_are_sanitised():
    a = _work(doi="10.1/A")
    buf = io.StringIO()
    mapping = write_bibtex([a, a, _work(doi="10.1/a")], buf,
                           keys={"10.1/a": "my key,{x}"})
    assert mapping == {"10.1/a": "mykeyx"}
    assert len(parse_string(buf.getvalue(), "bibtex").entries) == 1


def test_keys_of_real_records_are_stable_and_unique(samples):
    works = [Work.from_crossref(r) for r in _all_samples(samples)]
    first = write_bibtex(works, io.StringIO())
    second = write_bibtex(works, io.StringIO())
    assert first == second
    assert len(set(first.values())) == len(first)
    assert all(re.fullmatch(r"[a-z0-9]+", k) for k in first.values())


# ----------------------------------------------------------------------------------------
# Fields, ASCII mode, notes, streaming
# ----------------------------------------------------------------------------------------


def test_article_fields():
    record = {
        "DOI": "10.1/Art", "type": "journal-article", "title": ["The effect"],
        "subtitle": ["a trial"],
        "author": [{"family": "Smith and Wesson", "given": "Jo"}, {"family": "Doe", "given": "J",
                                                                    "suffix": "Jr."}],
        "container-title": ["Journal of Things"], "volume": "12", "issue": "3",
        "page": "100-110", "publisher": "Pub & Co", "ISSN": ["1234-5678", "8765-4321"],
        "issued": {"date-parts": [[2007, 3, 1]]},
    }
    bib = to_bibtex([Work.from_crossref(record)], notes={"10.1/art": "Retracted: see 10.1/r"})
    assert "month = mar" in bib
    key, entry = _parse_one(bib)
    assert key == "smithandwesson2007effect"
    f = entry.fields
    assert f["title"] == "The effect: a trial"
    assert (f["journal"], f["year"], f["month"], f["volume"], f["number"], f["pages"]) == (
        "Journal of Things", "2007", "March", "12", "3", "100--110")
    assert f["publisher"] == "Pub \\& Co" and f["issn"] == "1234-5678"
    assert f["note"] == "Retracted: see 10.1/r"
    assert f["doi"] == "10.1/Art" and f["url"] == "https://doi.org/10.1/Art"
    authors = entry.persons["author"]
    assert len(authors) == 2
    assert authors[0].last_names == ["Smith", "{and}", "Wesson"]
    assert authors[1].lineage_names == ["Jr."]


def test_book_and_chapter_fields():
    chapter = {"DOI": "10.1/ch", "type": "book-chapter", "title": ["A chapter"],
               "container-title": ["The Book"], "ISBN": ["978-0-00-000000-2"],
               "editor": [{"family": "Ed", "given": "A"}], "publisher": "P"}
    entry = work_to_entry(Work.from_crossref(chapter), "k")
    assert entry.type == "incollection" and entry.key == "k"
    assert entry.fields["booktitle"] == "The Book"
    assert entry.fields["isbn"] == "978-0-00-000000-2"
    assert len(entry.persons["editor"]) == 1
    thesis = {"DOI": "10.1/th", "type": "dissertation", "title": ["T"],
              "institution": [{"name": "Uni"}], "publisher": "P"}
    assert work_to_entry(Work.from_crossref(thesis), "t").fields["school"] == "Uni"
    report = {"DOI": "10.1/r", "type": "report", "title": ["T"], "publisher": "Agency"}
    assert work_to_entry(Work.from_crossref(report), "r").fields["institution"] == "Agency"


def test_ascii_mode_writes_latex_accents():
    record = {
        "DOI": "10.1/acc", "type": "journal-article",
        "title": ["Crème brûlée in Øresund, mañana, Straße, NF-κB, Søren"],
        "author": [{"family": "Müller", "given": "José"}, {"family": "Ørsted", "given": "Ñuño"},
                   {"family": "Weiß", "given": "Ŭ"}],
        "container-title": ["Revista Española"], "issued": {"date-parts": [[2001]]},
    }
    bib = to_bibtex([Work.from_crossref(record)], ascii=True)
    assert bib.isascii()
    for esc in (r"{\'e}", r'{\"u}', r"{\~n}", r"{\o}", r"{\O}", r"{\ss}", r"{\`e}", r"{\^u}",
                r"{\~N}", r"{\u{U}}"):
        assert esc in bib, esc
    key, entry = _parse_one(bib)
    assert key == "muller2001creme"
    names = [codecs.decode(str(p), "ulatex").replace("{", "").replace("}", "")
             for p in entry.persons["author"]]
    assert names == ["Müller, José", "Ørsted, Ñuño", "Weiß, Ŭ"]
    assert "{NF-{$\\kappa$}B}" in entry.fields["title"]
    utf8 = to_bibtex([Work.from_crossref(record)])
    assert "Müller, José" in utf8 and "{NF-κB}" in utf8


def test_ascii_mode_on_real_accented_names(samples):
    for record in samples["accents"]:
        _, bib, _, entry = _export_one(record, ascii=True)
        assert bib.isascii()
        for person, parsed in zip(
            [p for p in record["author"] if p.get("family") or p.get("name")],
            entry.persons["author"], strict=True,
        ):
            if not person.get("family"):
                continue
            got = codecs.decode(" ".join(parsed.prelast_names + parsed.last_names), "ulatex")
            got = got.replace("{", "").replace("}", "")
            assert fold(got) == fold(person["family"]), (person, got)


def test_write_bibtex_streams_one_entry_at_a_time():
    buf = io.StringIO()

    def works():
        yield _work(doi="10.1/one")
        # the first entry is already in the file before the second work is even made
        assert "10.1/one" in buf.getvalue()
        yield _work(doi="10.1/two", title="Other")

    mapping = write_bibtex(works(), buf)
    assert list(mapping) == ["10.1/one", "10.1/two"]
    assert len(parse_string(buf.getvalue(), "bibtex").entries) == 2


def test_work_without_record_uses_its_fields():
    work = Work(key="10.1/plain", title="Gene X", authors=["Doe, Jane", "Acme Corp"], year=1999,
                container="J", volume="1", issue="2", pages="3-4", type="journal-article")
    key, entry = _parse_one(to_bibtex([work]))
    assert key == "doe1999gene"
    assert [str(p) for p in entry.persons["author"]] == ["Doe, Jane", "{Acme Corp}"]
    assert entry.fields["pages"] == "3--4" and entry.fields["doi"] == "10.1/plain"


# ----------------------------------------------------------------------------------------
# A second, independent parser: bibtexparser reads the same fields as pybtex
# ----------------------------------------------------------------------------------------


def _bibtexparser_entries(text: str) -> dict:
    bibtexparser = pytest.importorskip("bibtexparser")
    from bibtexparser import middlewares as mw

    library = bibtexparser.parse_string(
        text, append_middleware=[mw.SeparateCoAuthors(), mw.SplitNameParts()])
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    return {e.key: e for e in library.entries}


def test_every_export_reads_the_same_in_pybtex_and_bibtexparser(samples):
    works = [Work.from_crossref(r) for r in _all_samples(samples)]
    hostile = []
    for i, payload in enumerate(INJECTIONS):
        hostile.append(Work.from_crossref({
            "DOI": f"10.1234/evil{i}", "type": "book-chapter", "title": [f"A {payload} in DNA"],
            "author": [{"family": f"Evil{payload}", "given": payload}, {"name": f"Org {payload}"}],
            "editor": [{"family": payload}], "container-title": [payload], "publisher": payload,
            "page": f"1-{payload}", "issued": {"date-parts": [[2020, 2]]}}))
    for ascii in (False, True):
        text = to_bibtex([*works, *hostile], ascii=ascii,
                         notes={"10.1234/evil0": INJECTIONS[0], works[0].doi: "Retracted"})
        ours = parse_string(text, "bibtex").entries
        theirs = _bibtexparser_entries(text)
        assert list(ours) == list(theirs) and len(ours) == len(works) + len(hostile)
        for key, entry in ours.items():
            other = theirs[key]
            assert entry.type == other.entry_type
            fields = {k: f.value for k, f in other.fields_dict.items()}
            persons = {r: fields.pop(r) for r in ("author", "editor") if r in fields}
            if "month" in fields:  # a macro: pybtex expands it, bibtexparser keeps its name
                assert entry.fields["month"].lower().startswith(fields.pop("month"))
            assert {k: v for k, v in entry.fields.items() if k.lower() != "month"} == fields, key
            assert set(persons) == set(entry.persons)
            for role, names in persons.items():
                mine = entry.persons[role]
                assert len(names) == len(mine), (key, role)
                for a, b in zip(mine, names, strict=True):
                    assert a.last_names == b.last and a.prelast_names == b.von, (key, a, b)
                    assert a.first_names + a.middle_names == b.first, (key, a, b)
                    assert a.lineage_names == b.jr, (key, a, b)


# ----------------------------------------------------------------------------------------
# Keys across formats, user keys, notes, every format from one call
# ----------------------------------------------------------------------------------------


def test_the_same_key_in_bibtex_csl_json_and_ris():
    from refkeeper.export import write_csl_json, write_ris

    works = [_work(doi=f"10.1/{x}") for x in "abc"]
    stored = {"10.1/B": "Mine:2007"}
    bib = write_bibtex(works, io.StringIO(), keys=stored)
    buf = io.StringIO()
    csl = write_csl_json(works, buf, keys=stored)
    assert [i["id"] for i in json.loads(buf.getvalue())] == list(csl.values())
    ris = write_ris(works, io.StringIO(), keys=stored)
    assert bib == csl == ris == {"10.1/a": "murakami2007effect", "10.1/b": "Mine:2007",
                                 "10.1/c": "murakami2007effecta"}


@pytest.mark.parametrize("key", ["Murakami2007", "smith_2000:a", "x", "2020covid", "a.b+c/d-e"])
def test_check_key_accepts_usable_keys(key):
    from refkeeper.export import check_key

    assert check_key(f" {key} ") == key


@pytest.mark.parametrize("key", ["", "my key", "a,b", "{x}", "Müller2007", "a" * 101, "_a", "a#b",
                                 "a%b", "a\"b"])
def test_check_key_refuses_keys_that_break_bibtex(key):
    from refkeeper._errors import InputError
    from refkeeper.export import check_key

    with pytest.raises(InputError):
        check_key(key)


@pytest.mark.parametrize(
    ("problems", "note"),
    [
        (None, None), ("[]", None), ('["not-found"]', None), ('["retraction"]', "Retracted"),
        (["correction", "retraction"], "Retracted; Corrected"), (["erratum", "correction"], "Corrected"),
        ([{"kind": "expression-of-concern"}], "Expression of concern"), ("not json", None),
        (["Withdrawal"], "Withdrawn"), (["partial-retraction", "not-found"], "Partially retracted"),
    ],
)
def test_problem_notes(problems, note):
    from refkeeper.export import problem_note

    assert problem_note(problems) == note


def test_export_works_dispatches_every_format():
    from refkeeper._errors import InputError
    from refkeeper.export import FORMATS, export_works

    works = [_work(doi="10.1/a"), _work(doi="10.1/b", title="Other")]
    for fmt in FORMATS:
        buf = io.StringIO()
        n, keys = export_works(works, buf, fmt, notes={"10.1/a": "Retracted"}, style="apa")
        assert n == 2 and "Retracted" in buf.getvalue(), fmt
        assert bool(keys) == (fmt in ("bibtex", "csl-json", "ris"))
    with pytest.raises(InputError):
        export_works(works, io.StringIO(), "docx")
    with pytest.raises(InputError):
        export_works(works, io.StringIO(), "ris", ascii=True)


# ----------------------------------------------------------------------------------------
# The CLI: formats, stored keys, pinned keys, notes from re-verification
# ----------------------------------------------------------------------------------------


def _cli(args, db):
    from click.testing import CliRunner

    from refkeeper.cli import cli

    return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)


MURAKAMI = "10.1007/s00776-007-1126-1"


def test_cli_export_every_format_with_stable_keys(sample_store, tmp_path):
    db = sample_store.path
    sample_store.db.execute("UPDATE works SET problems = '[\"retraction\"]' WHERE doi = ?", [MURAKAMI])
    sample_store.db.conn.commit()
    outputs = {}
    for fmt in ("bibtex", "csl-json", "ris", "text", "markdown", "html"):
        out = tmp_path / f"refs.{fmt}"
        result = _cli(["export", "--format", fmt, "-o", str(out)], db)
        assert result.exit_code == 0, result.output
        assert "wrote 302 entries" in result.output
        outputs[fmt] = out.read_text(encoding="utf-8")
        assert not (tmp_path / f"refs.{fmt}.part").exists()
    bib = parse_string(outputs["bibtex"], "bibtex").entries
    assert bib["murakami2007effect"].fields["note"] == "Retracted"
    items = {i["id"]: i for i in json.loads(outputs["csl-json"])}
    assert set(items) == set(bib) and items["murakami2007effect"]["note"] == "Retracted"
    assert "ID  - murakami2007effect" in outputs["ris"] and "N1  - Retracted" in outputs["ris"]
    assert "comparative study [Retracted]. Journal of Orthopaedic Science" in outputs["text"]
    assert outputs["html"].startswith("<ol>\n<li>")
    # keys are stored: the same on the next run, whatever the format and selection
    again = _cli(["export", "--format", "csl-json", MURAKAMI], db)
    assert json.loads(again.output)[0]["id"] == "murakami2007effect"
    apa = _cli(["export", "--format", "markdown", "--style", "apa", MURAKAMI], db)
    assert apa.output.startswith("Murakami, E., Tanaka, Y.,") and "**[Retracted]**" in apa.output
    assert _cli(["export", "--format", "ris", "--ascii"], db).exit_code == 2


def test_cli_key_pins_validates_and_refuses_clashes(sample_store):
    db = sample_store.path
    assert _cli(["key", MURAKAMI], db).output.startswith("(no key yet")
    pinned = _cli(["key", MURAKAMI, "Murakami2007"], db)
    assert pinned.exit_code == 0 and pinned.output.strip() == f"{MURAKAMI}  (none) -> Murakami2007"
    assert _cli(["key", f"https://doi.org/{MURAKAMI}"], db).output.strip() == "Murakami2007"
    out = _cli(["export", MURAKAMI], db).output
    assert out.startswith("@article{Murakami2007,")
    other = "10.1001/2013.jamaneurol.139"
    clash = _cli(["key", other, "MURAKAMI2007"], db)
    assert clash.exit_code == 2
    assert clash.output.strip() == (
        f"Error: citation key 'MURAKAMI2007' is already used by {MURAKAMI}")
    bad = _cli(["key", other, "has space"], db)
    assert bad.exit_code == 2 and bad.output.count("\n") == 1
    assert _cli(["key", "10.9999/missing", "k"], db).exit_code == 2
    # a generated key never takes a pinned one, whatever its case
    _cli(["key", other, "johnson2013sporadic"], db)
    bib = parse_string(_cli(["export"], db).output, "bibtex").entries
    assert bib["johnson2013sporadic"].fields["doi"].lower() == other
    assert len({k.lower() for k in bib}) == 302
