"""The annual report's print style sheet: A4 pages, footer with page numbers, tables that do not
break inside a row. ``{{FOOTER}}`` and ``{{PAGE}}`` are replaced with the language's texts."""

from __future__ import annotations

CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm;
  @bottom-left { content: "{{FOOTER}}"; font: 8pt "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #666; }
  @bottom-right { content: "{{PAGE}} " counter(page) " / " counter(pages);
    font: 8pt "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #666; } }
html { -webkit-print-color-adjust: exact; } /* browsers print the bars; WeasyPrint always does */
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 9pt; line-height: 1.35;
  color: #1a1a1a; margin: 0 auto; max-width: 190mm; overflow-wrap: break-word; }
h1 { font-size: 20pt; margin: 0 0 4mm; color: #0b3d6b; }
h2 { font-size: 14pt; margin: 8mm 0 3mm; color: #0b3d6b; border-bottom: 1.5pt solid #0b3d6b; }
h3 { font-size: 11.5pt; margin: 6mm 0 2mm; color: #0b3d6b; }
h4 { font-size: 10pt; margin: 0 0 1.5mm; }
h5 { font-size: 9pt; margin: 2.5mm 0 1mm; color: #444; }
h2, h3, h4, h5 { break-after: avoid; page-break-after: avoid; }
.title-page { border-left: 4pt solid #0b3d6b; padding: 2mm 0 2mm 5mm; margin-bottom: 6mm; }
.title-page p { margin: 1mm 0; font-size: 11pt; }
.title-page .generated { font-size: 8.5pt; color: #555; }
section.axis { break-before: page; page-break-before: always; }
article.action { border: 0.75pt solid #c8c8c8; border-radius: 2pt; padding: 2.5mm 3mm; margin: 0 0 3mm; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 2mm; font-size: 8.5pt; }
th, td { border: 0.5pt solid #c8c8c8; padding: 0.8mm 1.5mm; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; word-wrap: break-word; }
th { background: #eef2f6; font-weight: bold; font-size: 8pt; }
tr { break-inside: avoid; page-break-inside: avoid; }
td.num, th.num { text-align: right; white-space: nowrap; }
table.summary { width: auto; min-width: 90mm; }
table.indicators { table-layout: fixed; } /* fixed widths: a long name cannot push the table off the page */
table.indicators th:nth-child(1) { width: 22%; } table.indicators th:nth-child(2) { width: 11%; }
table.indicators th:nth-child(8) { width: 16%; }
table.indicators .num { white-space: normal; }
table.changes th:first-child { width: 22%; }
table.milestones th:first-child { width: 40%; }
dl.facts { display: grid; grid-template-columns: 30mm auto; margin: 0 0 1mm; }
dl.facts dt { font-weight: bold; color: #444; }
dl.facts dd { margin: 0; }
.note { white-space: pre-line; }
.bar { display: inline-block; width: 40mm; height: 3mm; background: #e3e3e3; vertical-align: middle;
  border-radius: 1.5pt; overflow: hidden; margin-right: 2mm; }
.bar span { display: block; height: 100%; background: #2e7d32; }
.dot { display: inline-block; width: 2.6mm; height: 2.6mm; border-radius: 50%; vertical-align: middle;
  margin: 0 1mm 0 2mm; }
.on_track { background: #2e7d32; } .at_risk { background: #f39c12; } .off_track { background: #c0392b; }
.state-overdue { color: #c0392b; font-weight: bold; } .state-reached { color: #2e7d32; }
.behind { color: #a3261b; } /* the words say it; the colour only repeats them (WCAG 1.4.1) */
table.behind-target { width: auto; min-width: 120mm; }
ul.decisions { margin: 0.5mm 0 1mm 5mm; padding: 0; }
.muted { color: #666; }
.appendix { break-before: page; page-break-before: always; }
"""
