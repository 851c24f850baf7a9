"""One self-contained HTML report: the table, latency distributions, and speed vs accuracy with the Pareto front.

Plots are inline SVG written here (no CDN, no JavaScript), so the file opens offline on any device.
"""

from __future__ import annotations

import html

import numpy as np

from .report import label, table

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#e377c2")


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated in (lower latency, higher accuracy)."""
    front = []
    for i, (lat, acc) in enumerate(points):
        dominated = any((l2 <= lat and a2 >= acc) and (l2 < lat or a2 > acc) for j, (l2, a2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front


def _latency_svg(rows: list[dict], width: int = 720) -> str:
    """Box-and-strip plot of each configuration's latency samples."""
    row_h, left = 34, 230
    h = row_h * len(rows) + 40
    samples = [np.asarray(r.get("samples_ms") or [r["latency_ms"]["p50"]]) for r in rows]
    hi = max(float(np.percentile(s, 99.5)) for s in samples) * 1.05
    x = lambda v: left + (width - left - 20) * min(v, hi) / hi  # noqa: E731
    parts = [f'<svg id="latency-plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img">',
             '<title>Latency distribution per configuration (ms)</title>']
    for i, (r, s) in enumerate(zip(rows, samples)):
        y = 20 + i * row_h
        c = _COLORS[i % len(_COLORS)]
        q1, q2, q3 = np.percentile(s, [25, 50, 75])
        p1, p99 = np.percentile(s, [1, 99])
        parts.append(f'<text x="4" y="{y + 15}" font-size="12">{html.escape(label(r))}</text>')
        parts.append(f'<line x1="{x(p1):.1f}" x2="{x(p99):.1f}" y1="{y + 11}" y2="{y + 11}" stroke="{c}"/>')
        parts.append(f'<rect class="box" x="{x(q1):.1f}" y="{y + 3}" width="{max(1.0, x(q3) - x(q1)):.1f}" height="16" '
                     f'fill="{c}" fill-opacity="0.3" stroke="{c}"/>')
        parts.append(f'<line x1="{x(q2):.1f}" x2="{x(q2):.1f}" y1="{y + 2}" y2="{y + 20}" stroke="{c}" stroke-width="2"/>')
        step = max(1, len(s) // 150)
        for v in s[::step]:
            parts.append(f'<circle cx="{x(v):.1f}" cy="{y + 27}" r="1.2" fill="{c}" fill-opacity="0.5"/>')
    for k in range(5):
        v = hi * k / 4
        parts.append(f'<text x="{x(v):.1f}" y="{h - 4}" font-size="10" text-anchor="middle">{v:.2f} ms</text>')
    parts.append("</svg>")
    return "".join(parts)


def _pareto_svg(rows: list[dict], recommended: str | None, width: int = 560, height: int = 360) -> str:
    """Median latency (x) against accuracy vs the reference (y); the Pareto front joined, the pick ringed."""
    pts = [(r["latency_ms"]["p50"], (r.get("accuracy") or {}).get("vs_reference")) for r in rows]
    pts = [(lat, 1.0 if acc is None else acc) for lat, acc in pts]
    lats, accs = [p[0] for p in pts], [p[1] for p in pts]
    lx, hx = 0.0, max(lats) * 1.1
    ly, hy = min(min(accs), 0.9) - 0.01, 1.005
    m = 50
    x = lambda v: m + (width - m - 20) * (v - lx) / (hx - lx or 1)  # noqa: E731
    y = lambda v: height - m - (height - m - 20) * (v - ly) / (hy - ly or 1)  # noqa: E731
    parts = [f'<svg id="pareto-plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
             '<title>Speed versus accuracy, Pareto front and recommendation</title>',
             f'<line x1="{m}" y1="{height - m}" x2="{width - 10}" y2="{height - m}" stroke="#444"/>',
             f'<line x1="{m}" y1="{height - m}" x2="{m}" y2="10" stroke="#444"/>',
             f'<text x="{width / 2}" y="{height - 12}" font-size="12" text-anchor="middle">median latency (ms)</text>',
             f'<text x="14" y="{height / 2}" font-size="12" transform="rotate(-90 14 {height / 2})" '
             f'text-anchor="middle">accuracy vs fp32 reference</text>']
    front = sorted(pareto(pts), key=lambda i: pts[i][0])
    if len(front) > 1:
        path = " ".join(f"{x(pts[i][0]):.1f},{y(pts[i][1]):.1f}" for i in front)
        parts.append(f'<polyline class="pareto-front" points="{path}" fill="none" stroke="#2ca02c" stroke-dasharray="4 3"/>')
    for i, (r, (lat, acc)) in enumerate(zip(rows, pts)):
        c = _COLORS[i % len(_COLORS)]
        cls = "point pareto" if i in front else "point"
        parts.append(f'<circle class="{cls}" cx="{x(lat):.1f}" cy="{y(acc):.1f}" r="5" fill="{c}">'
                     f'<title>{html.escape(label(r))}: {lat:.2f} ms, {acc:.3f}</title></circle>')
        parts.append(f'<text x="{x(lat) + 7:.1f}" y="{y(acc) - 6:.1f}" font-size="10">{html.escape(label(r))}</text>')
        if label(r) == recommended:
            parts.append(f'<circle id="recommended" cx="{x(lat):.1f}" cy="{y(acc):.1f}" r="10" fill="none" '
                         f'stroke="#000" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def render(doc: dict) -> str:
    """The whole report as one HTML string."""
    headers, rows = table(doc)
    rec = doc.get("recommendation") or {}
    host = doc["host"]
    thead = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    tbody = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    skipped = "".join(f"<li>{html.escape(s['backend'])}/{html.escape(s['device'])}/{html.escape(s['variant'])}: "
                      f"{html.escape(s['reason'])}</li>" for s in doc.get("skipped", []))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgevid bench: {html.escape(doc['subject'])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}}th{{background:#f3f3f3}}
.rec{{background:#eef8ee;padding:.6em;border-left:4px solid #2ca02c}}</style></head>
<body>
<h1>edgevid bench — {html.escape(doc['subject'])}</h1>
<p>{html.escape(host.get('cpu', ''))}, {host.get('cores')} cores, load average {host.get('loadavg')},
{'<b>other load seen: figures may be pessimistic</b>' if host.get('busy') else 'no other load seen'};
created {html.escape(doc['created'])}; schema v{doc['schema_version']}.</p>
<p class="rec" id="recommendation">Recommended: <b>{html.escape(rec.get('config', 'none'))}</b>
{html.escape(rec.get('why', ''))}</p>
<h2>Results</h2>
<table id="results"><thead><tr>{thead}</tr></thead><tbody>{tbody}</tbody></table>
{f'<h3>Not run</h3><ul>{skipped}</ul>' if skipped else ''}
<h2>Latency distribution</h2>
{_latency_svg(doc['results'])}
<h2>Speed versus accuracy</h2>
{_pareto_svg(doc['results'], rec.get('config'))}
</body></html>
"""
