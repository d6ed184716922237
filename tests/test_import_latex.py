"""TeX in imported titles and names comes back as Unicode; math written back as math."""

from __future__ import annotations

import io
import re

import pytest

from refkeeper._models import Work
from refkeeper.bibimport import latex_to_text, parse_bibliography
from refkeeper.export import export_works


@pytest.mark.parametrize(("latex", "text"), [
    (r"Magnetic order below $\Lambda \sim$ 3 K", "Magnetic order below Λ ∼ 3 K"),
    (r"Photocatalysis on Cu$_2$O films", "Photocatalysis on Cu₂O films"),
    (r"H$_2$SO$_4$ and $x^{2+}$ and $\alpha_{12}$", "H₂SO₄ and x²⁺ and α₁₂"),
    (r"Pores of 5\,\textmu m", "Pores of 5\u2009µm"),
    (r"A 3\texttimes{}3 design", "A 3×3 design"),
    (r"L{\'e}ve\^que", "Léveq\u0302ue"),  # q with a circumflex: no precomposed character
    (r"Thi{\'e}baux \c{C}ar \v{S}koda na\"{\i}ve \'{\i}ndice", "Thiébaux Çar Škoda naïve índice"),
    (r"Stra\ss e, \AA{}ngstr\"om, {\o}ster, \L{}\'od\'z", "Straße, Ångström, øster, Łódź"),
    (r"$\frac{1}{2}$ dose, $p \le 0.05$, $\chi^2$ test", "1/2 dose, p ≤ 0.05, χ² test"),
    (r"\textendash{} pages 3--5 --- \ldots{} 40\textdegree{}C", "– pages 3–5 — … 40°C"),
    (r"{\noopsort{b}}Zeta \cite{x} \unknowncommand{kept}", "Zeta kept"),
    (r"OH$^-$ ions", "OH⁻ ions"),
])
def test_tex_in_titles_decodes_to_unicode_and_no_tex_source_is_left(latex, text):
    assert latex_to_text(latex) == text
    assert "\\" not in latex_to_text(latex, markup=True) and "$" not in latex_to_text(latex)


def test_scripts_without_unicode_forms_are_tagged_in_titles():
    tagged = latex_to_text(r"$T_{\mathrm{c}}$ and $x_{\beta}$", markup=True)
    assert tagged == "T<sub>c</sub> and x<sub>β</sub>"
    assert latex_to_text(r"$T_{\mathrm{c}}$", markup=False) == "Tc"


def test_math_is_written_back_as_math_and_reads_back_the_same():
    title = "Λ ∼ 3 K phase of Cu₂O, 5 µm × 3 µm, x² + ½ and Léveq\u0302ue"
    work = Work.from_crossref({"DOI": "10.5555/math", "type": "journal-article", "title": [title]})
    for ascii_only in (False, True):
        buf = io.StringIO()
        export_works([work], buf, "bibtex", ascii=ascii_only)
        bib = buf.getvalue()
        if ascii_only:
            assert r"{$\Lambda$} {$\sim$}" in bib and r"Cu{$_{2}$}O" in bib and r"{\^q}" in bib
            assert "?" not in bib
        (entry,), problems = parse_bibliography(bib, "bibtex")
        assert entry.record["title"] == [title] and not problems
        assert not re.search(r"\\[a-zA-Z]|\$", entry.record["title"][0])


def test_no_export_writes_tex_source_of_an_imported_title_as_text():
    titles = [r"Magnetic order below $\Lambda \sim$ 3 K", r"Photocatalysis on Cu$_2$O films",
              r"Pores of 5\,\textmu m", r"A 3\texttimes{}3 design", r"L{\'e}ve\^que"]
    bib = "\n".join(f"@article{{k{n}, title = {{{latex}}}, doi = {{10.5555/tex{n}}}}}"
                    for n, latex in enumerate(titles))
    entries, problems = parse_bibliography(bib, "bibtex")
    assert problems == [] and len(entries) == 5
    for fmt, style in (("ris", None), ("csl-json", None), ("text", "apa"), ("html", "vancouver")):
        buf = io.StringIO()
        export_works([e.work() for e in entries], buf, fmt, style=style)
        assert not re.search(r"\\[a-zA-Z,]|\$", buf.getvalue()), fmt
        assert "Cu₂O" in buf.getvalue() or "Cu<sub>2</sub>O" in buf.getvalue(), fmt
