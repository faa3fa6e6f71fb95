"""Static checks of the desk's web pages (agent_desk/web/static), read as files.

- No script puts markup into the page or runs text as code: data goes in only as text nodes (the strict CSP
  forbids eval; innerHTML and friends would let a citizen's words become markup).
- Every page loads its code as native ES modules from this origin, with no inline script.
- Every module a page imports exists, and every imported name is exported by it.
- Only api.js names the API's base path, so a versioned prefix later changes one constant.
- The pages keep no table of Chinese labels for the codes the desk names (GET /api/v1/vocab).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent_desk.api.vocab import vocabulary

STATIC = Path(__file__).resolve().parents[2] / "agent_desk" / "web" / "static"
SCRIPTS = sorted(STATIC.glob("*.js"))   # vendor/ (the JsSIP bundle, built by setup.sh) is not ours
PAGES = sorted(STATIC.glob("*.html"))

FORBIDDEN = {
    "innerHTML": re.compile(r"\binnerHTML\b"),
    "outerHTML": re.compile(r"\bouterHTML\b"),
    "insertAdjacentHTML": re.compile(r"\binsertAdjacentHTML\b"),
    "document.write": re.compile(r"\bdocument\s*\.\s*write(ln)?\b"),
    "eval(": re.compile(r"(?<![\w.$])eval\s*\("),
    "new Function": re.compile(r"\bnew\s+Function\b"),
    "string timer": re.compile(r"\bset(Timeout|Interval)\s*\(\s*[\"'`]"),
    "createContextualFragment": re.compile(r"\bcreateContextualFragment\b"),
    "DOMParser": re.compile(r"\bDOMParser\b"),
}
IMPORT = re.compile(r"""^import\s+(?:(?P<names>\{[^}]*\})|\*\s+as\s+\w+)\s+from\s+"\./(?P<module>[\w-]+\.js)";""",
                    re.MULTILINE)
EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function|const|let|class)\s+([\w$]+)", re.MULTILINE)


def test_the_pages_have_scripts():
    assert len(SCRIPTS) >= 10 and len(PAGES) >= 8
    assert not (STATIC / "common.js").exists()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_script_writes_markup_or_evaluates_text(script: Path):
    text = script.read_text(encoding="utf-8")
    found = [name for name, pattern in FORBIDDEN.items() if pattern.search(text)]
    assert found == [], f"{script.name} uses {', '.join(found)}: put data in as text (el(), textContent)"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_load_modules_only_and_no_inline_script(page: Path):
    html = page.read_text(encoding="utf-8")
    tags = re.findall(r"<script\b[^>]*>", html)
    assert tags, f"{page.name} loads no script"
    for tag in tags:
        assert re.fullmatch(r'<script type="module" src="/[\w-]+\.js">', tag), f"{page.name}: {tag}"
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), f"{page.name} has an inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), f"{page.name} has an inline event handler"
    assert "javascript:" not in html
    loaded = re.findall(r'<script type="module" src="/([\w-]+\.js)">', html)
    loaded += re.findall(r'<link rel="modulepreload" href="/([\w-]+\.js)">', html)
    for src in loaded:
        assert (STATIC / src).is_file(), f"{page.name} loads missing {src}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_imports_resolve_to_exported_names(script: Path):
    text = script.read_text(encoding="utf-8")
    for match in IMPORT.finditer(text):
        module = STATIC / match["module"]
        assert module.is_file(), f"{script.name} imports missing {match['module']}"
        exported = set(EXPORT.findall(module.read_text(encoding="utf-8")))
        if match["names"]:
            names = {n.split(" as ")[0].strip() for n in match["names"].strip("{}").split(",") if n.strip()}
            assert names <= exported, f"{script.name}: {sorted(names - exported)} not exported by {module.name}"
    # Every import is a relative module import of this folder (no bare specifiers, nothing off-site).
    for line in re.findall(r"^import\b.*$", text, re.MULTILINE):
        assert IMPORT.match(line), f"{script.name}: {line}"


def test_only_the_api_client_names_the_api_base_path():
    from agent_desk.api.schemas import API_PREFIX

    assert re.search(rf'^export const API = "{API_PREFIX}";$', (STATIC / "api.js").read_text(encoding="utf-8"),
                     re.MULTILINE), "the pages call the API under the server's prefix"
    for script in SCRIPTS:
        if script.name == "api.js":
            continue
        code = re.sub(r"/\*.*?\*/|//[^\n]*", "", script.read_text(encoding="utf-8"), flags=re.DOTALL)
        assert not re.search(r"""["'`]/api(/|["'`])""", code), f"{script.name} names /api itself: use api()/apiUrl()"


def test_no_script_keeps_a_label_of_a_vocabulary_code():
    """A Chinese label of one of the desk's codes next to that code (``code: "label"``, ``["code", "label"]``)
    is a copy of the Python definition: the pages name codes from GET /api/v1/vocab."""
    vocab = vocabulary({"lunch": "午休", "meeting": "会议", "break": "小休"})
    pairs = {(code, name) for table in vocab.values() for code, name in table.items()}
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        copies = [f"{code}: {name}" for code, name in pairs
                  if re.search(rf"""["']?\b{re.escape(code)}\b["']?\s*[:,]\s*["']{re.escape(name)}["']""", text)]
        assert copies == [], f"{script.name} copies vocabulary labels: {copies}"
