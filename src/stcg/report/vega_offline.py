"""An HTML template for ``dvc plots show --html-template`` that works offline.

DVC's default page loads vega, vega-lite and vega-embed from a CDN, so it is blank without
internet.  This template inlines the three libraries (BSD-3-Clause, University of Washington
Interactive Data Lab; the minified builds of the npm packages, e.g. ``npm pack vega@5
vega-lite@5 vega-embed@6``) and leaves out DVC's ``{scripts}`` placeholder, where DVC would put
its CDN ``<script src=...>`` tags.  ``{plot_divs}`` is where DVC puts the charts.

The committed template is ``vendor/vega/dvc_plots_template.html`` (with ``vendor/vega/LICENSE``);
rebuild it with::

    python -m stcg.report.vega_offline --vega vega.min.js --vega-lite vega-lite.min.js \\
        --vega-embed vega-embed.min.js --licence LICENSE --out vendor/vega/dvc_plots_template.html
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from stcg.io import atomic_path

PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{refresh_tag}
<title>stcg: DVC plots</title>
<!--
{licence}
-->
{inline_scripts}
<style>
  body {{ font-family: sans-serif; }}
  table {{ border-spacing: 15px; }}
  img {{ max-width: 100%; }}
</style>
</head>
<body>
{plot_divs}
</body>
</html>
"""


def build_template(libraries: dict[str, str], licence: str) -> str:
    """The template: each library's source in its own inline ``<script>`` (in the given order:
    vega, vega-lite, vega-embed), the licence in a comment, and DVC's ``{plot_divs}`` and
    ``{refresh_tag}`` placeholders.

    Raises:
        ValueError: if a library's source would end its ``<script>`` element early or holds one
            of DVC's placeholders, or the licence would end the comment.
    """
    blocks = []
    for name, src in libraries.items():
        if "</script" in src.lower():
            raise ValueError(f"{name}: holds '</script', so it cannot be inlined")
        if any(p in src for p in ("{plot_divs}", "{scripts}", "{refresh_tag}")):
            raise ValueError(f"{name}: holds a DVC template placeholder")
        blocks.append(f"<script>/* {name} */\n{src}\n</script>")
    if "-->" in licence:
        raise ValueError("licence: holds '-->'")
    page = PAGE.format(licence=licence.strip(), inline_scripts="\n".join(blocks),
                       refresh_tag="{refresh_tag}", plot_divs="{plot_divs}")
    return page


def external_scripts(html: str) -> list[str]:
    """The ``<script ... src=...>`` tags of a page (an offline page has none)."""
    return [m.group(0) for m in re.finditer(r"<script[^>]*\bsrc\s*=[^>]*>", html, re.IGNORECASE)]


def main(argv: list[str] | None = None) -> None:
    """Build the template from the three minified builds and a licence file."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vega", type=Path, required=True, help="vega.min.js (npm vega@5, build/)")
    ap.add_argument("--vega-lite", type=Path, required=True, help="vega-lite.min.js (vega-lite@5)")
    ap.add_argument("--vega-embed", type=Path, required=True,
                    help="vega-embed.min.js (vega-embed@6)")
    ap.add_argument("--licence", type=Path, required=True, help="licence text to include")
    ap.add_argument("--out", type=Path, required=True, help="template HTML to write")
    args = ap.parse_args(argv)
    libs = {}
    for name, path in (("vega", args.vega), ("vega-lite", args.vega_lite),
                       ("vega-embed", args.vega_embed)):
        if not path.is_file():
            raise SystemExit(f"--{name}: {path} is not a file (the package's build/{name}.min.js)")
        libs[name] = path.read_text(encoding="utf-8")
    page = build_template(libs, args.licence.read_text(encoding="utf-8"))
    with atomic_path(args.out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    print(f"{args.out} written ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
