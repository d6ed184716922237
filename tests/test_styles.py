"""Formatted references (Vancouver, APA) as text, Markdown and HTML: what an editor pastes.

Exact strings for real records of the shipped sample, the rules of each style on small
synthetic records, hostile text, and every Crossref type in the shared data.
"""

from __future__ import annotations

import gzip
import json
import re
from html.parser import HTMLParser

import pytest
from conftest import SAMPLE, SHARED_DATA

from refkeeper._errors import UsageError
from refkeeper._models import Work
from refkeeper.export import format_list, format_reference

WORKS_FILE = SHARED_DATA / "crossref-works.jsonl.gz"


def _sample(doi: str) -> Work:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if record["DOI"].lower() == doi:
                return Work.from_crossref(record)
    raise AssertionError(doi)


MURAKAMI = "10.1007/s00776-007-1126-1"
JOHNSON = "10.1001/2013.jamaneurol.139"


def test_vancouver_of_a_real_article():
    assert format_reference(_sample(MURAKAMI)) == (
        "Murakami E, Tanaka Y, Aizawa T, Ishizuka M, Kokubun S. Effect of periarticular and "
        "intraarticular lidocaine injections for sacroiliac joint pain: prospective comparative "
        "study. Journal of Orthopaedic Science. 2007;12(3):274-80. doi:10.1007/s00776-007-1126-1"
    )
    # more than six authors: six, then et al; NLM abbreviation and month when Crossref has them
    assert format_reference(_sample(JOHNSON)) == (
        "Johnson DY, Dunkelberger DL, Henry M, Haman A, Greicius MD, Wong K, et al. Sporadic "
        "Jakob-Creutzfeldt Disease Presenting as Primary Progressive Aphasia. JAMA Neurol. "
        "2013 Feb;70(2):254. doi:10.1001/2013.jamaneurol.139"
    )


def test_apa_of_a_real_article_in_every_format():
    work = _sample(MURAKAMI)
    head = ("Murakami, E., Tanaka, Y., Aizawa, T., Ishizuka, M., {amp} Kokubun, S. (2007). Effect of "
            "periarticular and intraarticular lidocaine injections for sacroiliac joint pain: "
            "prospective comparative study. ")
    url = "https://doi.org/10.1007/s00776-007-1126-1"
    assert format_reference(work, "apa") == (
        head.format(amp="&") + f"Journal of Orthopaedic Science, 12(3), 274–280. {url}")
    assert format_reference(work, "apa", "markdown") == (
        head.format(amp="&") + f"*Journal of Orthopaedic Science*, *12*(3), 274–280. [{url}]({url})")
    assert format_reference(work, "apa", "html") == (
        head.format(amp="&amp;") + "<i>Journal of Orthopaedic Science</i>, <i>12</i>(3), 274–280. "
        f'<a href="{url}">{url}</a>')
    assert format_reference(work, "vancouver", "markdown").endswith(
        f"274-80. [doi:10.1007/s00776-007-1126-1]({url})")
    assert format_reference(work, "vancouver", "html").endswith(
        f'274-80. <a href="{url}">doi:10.1007/s00776-007-1126-1</a>')


def _rec(**kw) -> Work:
    record = {"DOI": "10.1/x", "type": "journal-article", "title": ["A title"],
              "author": [{"family": "Smith", "given": "Jane"}], "container-title": ["Journal"],
              "issued": {"date-parts": [[2020]]}, **kw}
    return Work.from_crossref({k: v for k, v in record.items() if v is not None})


@pytest.mark.parametrize(
    ("given", "vancouver", "apa"),
    [
        ("Jean-Marie", "JM", "J.-M."),
        ("J. R. R.", "JRR", "J. R. R."),
        ("JM", "JM", "J. M."),
        ("Maria Luisa", "ML", "M. L."),
        ("Ä", "Ä", "Ä."),
        ("", "", ""),
    ],
)
def test_initials(given, vancouver, apa):
    work = _rec(author=[{"family": "Müller", "given": given}])
    v = format_reference(work)
    a = format_reference(work, "apa")
    assert v.startswith(f"Müller {vancouver}. A title." if vancouver else "Müller. A title.")
    assert a.startswith(f"Müller, {apa} (2020)." if apa else "Müller. (2020).")


def test_author_lists():
    people = [{"family": f"F{i}", "given": "A"} for i in range(1, 23)]
    assert format_reference(_rec(author=people[:7])).startswith(
        "F1 A, F2 A, F3 A, F4 A, F5 A, F6 A, et al. A title.")
    assert format_reference(_rec(author=people[:6])).startswith(
        "F1 A, F2 A, F3 A, F4 A, F5 A, F6 A. A title.")
    assert format_reference(_rec(author=people[:2]), "apa").startswith("F1, A., & F2, A. (2020).")
    apa22 = format_reference(_rec(author=people), "apa")
    assert apa22.startswith("F1, A., F2, A.,") and ", F19, A., … F22, A. (2020)." in apa22
    assert "F20" not in apa22
    org = _rec(author=[{"name": "World Health Organization"}, {"family": "Doe", "given": "J",
                                                                "suffix": "Jr."}])
    assert format_reference(org).startswith("World Health Organization, Doe J Jr. A title.")
    assert format_reference(org, "apa").startswith("World Health Organization, & Doe, J., Jr. (2020).")
    group = _rec(author=[{"name": "Urban & Vogel"}])
    assert format_reference(group, "apa").startswith("Urban & Vogel. (2020). A title.")


def test_missing_fields():
    bare = Work.from_crossref({"DOI": "10.1/bare"})
    assert format_reference(bare) == "[date unknown]. doi:10.1/bare"
    assert format_reference(bare, "apa") == "(n.d.). https://doi.org/10.1/bare"
    no_author = _rec(author=None)
    assert format_reference(no_author) == "A title. Journal. 2020. doi:10.1/x"
    # APA moves the title to the author's place
    assert format_reference(no_author, "apa") == "A title. (2020). Journal. https://doi.org/10.1/x"
    assert format_reference(_rec(title=None), "apa").startswith("Smith, J. (2020). Journal.")


def test_pages_dates_and_article_numbers():
    assert "2020 Mar;12(3):1425-37." in format_reference(
        _rec(volume="12", issue="3", page="1425-1437", issued={"date-parts": [[2020, 3, 9]]}))
    assert ";12:e1234. " in format_reference(_rec(volume="12", **{"article-number": "e1234"}))
    assert "*12*, Article e1234." in format_reference(
        _rec(volume="12", **{"article-number": "e1234"}), "apa", "markdown")
    assert "12, 99–104." in format_reference(_rec(volume="12", page="99-104"), "apa")
    assert ";12:99-104." in format_reference(_rec(volume="12", page="99-104"))


def test_books_chapters_and_other_types():
    chapter = _rec(type="book-chapter", **{"container-title": ["The Book"]},
                   editor=[{"family": "Ed", "given": "Anne"}, {"family": "Tor", "given": "B"}],
                   publisher="Springer", page="10-20", **{"publisher-location": "Cham"})
    assert format_reference(chapter) == (
        "Smith J. A title. In: Ed A, Tor B, editors. The Book. Cham: Springer; 2020. p. 10-20. "
        "doi:10.1/x")
    assert format_reference(chapter, "apa") == (
        "Smith, J. (2020). A title. In A. Ed & B. Tor (Eds.), The Book (pp. 10–20). Springer. "
        "https://doi.org/10.1/x")
    book = _rec(type="book", publisher="Wiley", **{"edition-number": "2"})
    assert format_reference(book) == "Smith J. A title. 2nd ed. Wiley; 2020. doi:10.1/x"
    assert format_reference(book, "apa", "markdown") == (
        "Smith, J. (2020). *A title* (2nd ed.). Wiley. [https://doi.org/10.1/x](https://doi.org/10.1/x)")
    preprint = _rec(type="posted-content", publisher="CSHL", **{"container-title": None},
                    institution=[{"name": "bioRxiv"}])
    assert format_reference(preprint) == "Smith J. A title [Preprint]. bioRxiv; 2020. doi:10.1/x"
    assert format_reference(preprint, "apa") == (
        "Smith, J. (2020). A title [Preprint]. bioRxiv. https://doi.org/10.1/x")
    thesis = _rec(type="dissertation", institution=[{"name": "Uni"}], **{"container-title": None})
    assert format_reference(thesis) == "Smith J. A title [dissertation]. Uni; 2020. doi:10.1/x"
    assert format_reference(thesis, "apa") == (
        "Smith, J. (2020). A title [Doctoral dissertation, Uni]. https://doi.org/10.1/x")
    data = _rec(type="dataset", publisher="Zenodo", **{"container-title": None})
    assert format_reference(data, "apa") == (
        "Smith, J. (2020). A title [Data set]. Zenodo. https://doi.org/10.1/x")


def test_title_markup_becomes_format_markup():
    work = _rec(title=["CO<sub>2</sub> in <i>E. coli</i> and x<sup>n+1</sup>, H<sub>2k</sub>"])
    assert "CO₂ in E. coli and xⁿ⁺¹, H₂ₖ." in format_reference(work)
    assert "CO₂ in *E. coli* and xⁿ⁺¹" in format_reference(work, fmt="markdown")
    assert "CO<sub>2</sub> in <i>E. coli</i> and x<sup>n+1</sup>" in format_reference(work, fmt="html")
    assert "Tₘₐₓ." in format_reference(_rec(title=["T<sub>max</sub>"]))
    odd = _rec(title=["T<sub>eff</sub>"])
    assert "T<sub>eff</sub>" in format_reference(odd, fmt="markdown")  # no Unicode subscript f
    assert "Teff." in format_reference(odd)


def test_notes_are_shown_after_the_title():
    work = _rec()
    assert format_reference(work, note="Retracted") == (
        "Smith J. A title [Retracted]. Journal. 2020. doi:10.1/x")
    assert "A title **[Retracted]**. *Journal*" in format_reference(
        work, "apa", "markdown", note="Retracted")
    assert "A title <strong>[Retracted]</strong>." in format_reference(work, "apa", "html",
                                                                      note="Retracted")


HOSTILE = '<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)> *a* _b_ &amp; `c`'


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.stack, self.attrs = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs
        self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, tag


def test_hostile_text_cannot_inject_markup():
    work = Work.from_crossref({
        "DOI": "10.1/a<b>\"c", "type": "journal-article", "title": [HOSTILE],
        "author": [{"family": HOSTILE, "given": "<b>x</b>"}, {"name": HOSTILE}],
        "container-title": [HOSTILE], "issued": {"date-parts": [[2020]]}, "volume": "<i>1</i>",
    })
    for style in ("vancouver", "apa"):
        out = format_reference(work, style, "html", note="<b>x</b>")
        parser = _Tags()
        parser.feed(out)
        assert not parser.stack
        assert set(parser.tags) <= {"i", "a", "strong", "sub", "sup"}, out
        hrefs = [v for k, v in parser.attrs if k == "href"]
        assert hrefs == ["https://doi.org/10.1/a%3Cb%3E%22c"]
        assert set(dict(parser.attrs)) == {"href"}
        md = format_reference(work, style, "markdown")
        assert "\\[x\\](javascript:alert(1))" in md
        assert re.search(r"(?<!\\)<(script|img)", md) is None
        assert "\\*a\\*" in md and "\\_b\\_" in md and "\\`c\\`" in md
        # the link is the only one, and its target is the DOI
        assert re.findall(r"(?<!\\)\]\(([^)]*)\)", md) == ["https://doi.org/10.1/a%3Cb%3E%22c"]
        text = format_reference(work, style)
        assert "\n" not in text


def test_lists_number_sort_and_deduplicate():
    a = _rec(author=[{"family": "Zed", "given": "A"}], DOI="10.1/a")
    b = _rec(author=[{"family": "Ávila", "given": "B"}], DOI="10.1/b")
    text = format_list([a, b, a])
    assert text.splitlines() == [f"1. {format_reference(a)}", f"2. {format_reference(b)}"]
    apa = format_list([a, b], "apa").splitlines()
    assert apa[0].startswith("Ávila, B.") and apa[1].startswith("Zed, A.")  # alphabetical
    html = format_list([a, b], "vancouver", "html", notes={"10.1/A": "Retracted"})
    assert html.startswith("<ol>\n<li>Zed A. A title <strong>[Retracted]</strong>.")
    assert html.endswith("</li>\n</ol>\n")
    md = format_list([a, b], "apa", "markdown")
    assert md.count("\n\n") == 1
    assert format_list([], "apa", "html") == '<div class="references">\n</div>\n'


def test_unknown_style_or_format_is_a_usage_error():
    with pytest.raises(UsageError):
        format_reference(_rec(), "harvard")
    with pytest.raises(UsageError):
        format_reference(_rec(), "apa", "latex")


def test_every_crossref_type_formats_in_every_style_and_format(every_type):
    types = {r["type"] for r in every_type}
    assert len(types) >= 15
    for record in every_type:
        work = Work.from_crossref(record)
        for style in ("vancouver", "apa"):
            text = format_reference(work, style)
            assert record["DOI"] in text or "https://doi.org/" in text
            assert "<" not in text.replace(record["DOI"], "") or "<" in "".join(
                record.get("title") or []) and "<" in text  # literal "<" text, never tags
            assert ".." not in text.replace("...", "").replace(record["DOI"], ""), text
            html = format_reference(work, style, "html")
            parser = _Tags()
            parser.feed(html)
            assert not parser.stack, html
            assert set(parser.tags) <= {"i", "a", "sub", "sup", "span", "code"}, html
            md = format_reference(work, style, "markdown")
            assert md.count("](https://doi.org/") == 1
