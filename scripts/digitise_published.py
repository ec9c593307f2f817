"""Digitise the seed paper's published Fig. 6 and Fig. 7 (Havinga & Sawhney 2020) into CSVs.

    .venv/bin/python scripts/digitise_published.py [--pdf report.pdf] [--png results.png]
                                                   [--out-dir results/figures] [--fig6-source pdf|png]
                                                   [--overlay-dir /tmp]

Sources: the authors' report/report.pdf and report/results.png.  Both figures are vector
drawings inside the PDF (matplotlib's PDF output embedded by pdfTeX), so their geometry is
read from the drawing paths (PyMuPDF's ``Page.get_drawings``) and converted to data values
through a linear calibration fitted to the axis tick marks, whose labels are read from the
PDF's text layer.  ``results.png`` is the same Fig. 6 rendered as a raster; it is digitised
independently by pixel analysis (tick centroids, colour masks for boxes and medians, cap
profiles, ring matching for outliers, the grey band's coverage) and compared stat by stat with
the vector values, which measures the raster method's error.

The two files are the authors' repository (Theys96/lottery-ticket-hypothesis) at its last commit
f9683fa; from a bare clone: ``git -C REPO show HEAD:report/report.pdf > /tmp/authors/report.pdf``
and the same for report/results.png.  Needs PyMuPDF (``pymupdf``, 1.x), numpy, scipy, pillow.

Writes ``published-fig6.csv`` (model,density,stat,value) and ``published-fig7.csv``
(panel,model,epoch,test_accuracy) and, with ``--overlay-dir``, overlay-fig6.png and
overlay-fig7.png: the digitised values drawn over the originals.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageDraw
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PDF = "/tmp/authors/report.pdf"
DEFAULT_PNG = "/tmp/authors/results.png"

# Stroke colours as matplotlib wrote them (RGB fractions).
COLOURS = {
    "pruning": (1.0, 0.0, 0.0),      # 'red'
    "ticket": (0.0, 0.0, 1.0),       # 'blue'
    "random": (0.0, 0.502, 0.0),     # 'green'
    "median": (1.0, 0.498, 0.055),   # matplotlib's default median colour C1
    "black": (0.0, 0.0, 0.0),
    "mean": (0.349, 0.349, 0.349),   # the dense mean line
    "band": (0.878, 0.878, 0.878),   # the dense +-1 sigma band
    "white": (1.0, 1.0, 1.0),
}
MODELS = ("pruning", "ticket", "random")
DENSITY_LABELS = {"50%": 0.5, "33%": 0.33, "20%": 0.2, "10%": 0.1, "5%": 0.05, "2%": 0.02, "1%": 0.01}
# Fig. 7's legend (pruning_network, lottery_ticket, random_reinit) uses the same three colours.


def nearest_density(density_x, model, xc, width):
    """Boxes stand side by side: pruning left of the tick, ticket on it, random right (1.25 widths)."""
    shift = {"pruning": -1.25, "ticket": 0.0, "random": 1.25}[model] * width
    return min(density_x, key=lambda d: abs(density_x[d] + shift - xc))


def colour_name(c, tol=0.02):
    if not c:
        return None
    for name, ref in COLOURS.items():
        if max(abs(a - b) for a, b in zip(c, ref)) < tol:
            return name
    return None


# --------------------------------------------------------------------------- calibration
@dataclass
class Axis:
    """Linear map from a page (or pixel) coordinate to a data value, fitted to labelled ticks."""
    positions: np.ndarray
    values: np.ndarray
    slope: float = 0.0
    offset: float = 0.0

    def __post_init__(self):
        self.positions = np.asarray(self.positions, float)
        self.values = np.asarray(self.values, float)
        self.slope, self.offset = np.polyfit(self.positions, self.values, 1)

    def __call__(self, pos):
        return self.slope * np.asarray(pos, float) + self.offset

    def inverse(self, value):
        return (np.asarray(value, float) - self.offset) / self.slope

    def residuals(self):
        """Each tick label digitised back from its mark (fit on all ticks) minus its label."""
        return self(self.positions) - self.values

    def loo_residuals(self):
        """Leave-one-out: each tick's value predicted from a fit to the other ticks."""
        out = []
        for i in range(len(self.positions)):
            keep = np.arange(len(self.positions)) != i
            s, o = np.polyfit(self.positions[keep], self.values[keep], 1)
            out.append(s * self.positions[i] + o - self.values[i])
        return np.array(out)


# --------------------------------------------------------------------------- PDF: parsing
@dataclass
class Segment:
    kind: str           # 'l' line, 'qu' quad, 'c' bezier path, 're' rect
    colour: str | None  # stroke colour name
    fill: str | None
    width: float
    points: np.ndarray  # (n, 2) page coordinates, y downwards
    rect: tuple


def pdf_segments(page):
    out = []
    for d in page.get_drawings():
        pts = []
        kinds = set()
        for it in d["items"]:
            kinds.add(it[0])
            if it[0] == "l":
                if not pts or (abs(pts[-1][0] - it[1].x) > 1e-4 or abs(pts[-1][1] - it[1].y) > 1e-4):
                    pts.append((it[1].x, it[1].y))
                pts.append((it[2].x, it[2].y))
            elif it[0] == "c":
                pts.extend([(it[1].x, it[1].y), (it[4].x, it[4].y)])
            elif it[0] == "qu":
                q = it[1]
                pts.extend([(p.x, p.y) for p in (q.ul, q.ur, q.lr, q.ll)])
            elif it[0] == "re":
                r = it[1]
                pts.extend([(r.x0, r.y0), (r.x1, r.y0), (r.x1, r.y1), (r.x0, r.y1)])
        kind = "c" if "c" in kinds else ("qu" if "qu" in kinds else ("re" if "re" in kinds else "l"))
        r = d["rect"]
        out.append(Segment(kind, colour_name(d.get("color")), colour_name(d.get("fill")),
                           d.get("width") or 0.0, np.array(pts, float), (r.x0, r.y0, r.x1, r.y1)))
    return out


def pdf_spans(page):
    spans = []
    for b in page.get_text("dict")["blocks"]:
        for line in b.get("lines", []):
            for s in line["spans"]:
                t = s["text"].strip()
                if t:
                    spans.append((t, tuple(s["bbox"])))
    return spans


def find_page(doc, needle):
    for page in doc:
        if needle in page.get_text():
            return page
    raise SystemExit(f"no page of the PDF contains {needle!r}")


def tick_marks(segments):
    """Short black single lines: matplotlib's tick marks (length 3.5 pt before scaling)."""
    h, v = [], []
    for s in segments:
        if s.kind != "l" or s.colour != "black" or len(s.points) != 2:
            continue
        (x0, y0), (x1, y1) = s.points
        if abs(y0 - y1) < 1e-3 and 0.5 < abs(x1 - x0) < 3:
            h.append((min(x0, x1), max(x0, x1), y0))
        elif abs(x0 - x1) < 1e-3 and 0.5 < abs(y1 - y0) < 3:
            v.append((x0, min(y0, y1), max(y0, y1)))
    return h, v


def match_ticks(spans, ticks, pattern, label_centre, tick_position, beside, convert=float):
    """Match tick labels (text matching `pattern`) to their tick marks: the unused mark ``beside`` the
    label whose position lies within 3 pt of the label's centre; returns (mark positions, values)."""
    pos, val, used = [], [], set()
    for t, box in spans:
        if not re.fullmatch(pattern, t):
            continue
        centre = label_centre(box)
        cands = [(abs(tick_position(tick) - centre), i) for i, tick in enumerate(ticks)
                 if beside(box, tick) and abs(tick_position(tick) - centre) < 3 and i not in used]
        if cands:
            i = min(cands)[1]
            used.add(i)
            pos.append(tick_position(ticks[i]))
            val.append(convert(t))
    return pos, val


def y_axis(spans, hticks, pattern):
    """Y tick labels matched to the horizontal tick mark just right of each label."""
    return match_ticks(spans, hticks, pattern, lambda b: (b[1] + b[3]) / 2, lambda tick: tick[2],
                       lambda b, tick: 0 <= tick[0] - b[2] < 6)


def x_axis(spans, vticks, pattern, convert):
    """X tick labels matched to the vertical tick mark just above each label."""
    return match_ticks(spans, vticks, pattern, lambda b: (b[0] + b[2]) / 2, lambda tick: tick[0],
                       lambda b, tick: -3 < b[1] - tick[2] < 6, convert)


def group_by(values, gap):
    """Split sorted-able indices into clusters where consecutive values differ by less than gap."""
    order = np.argsort(values)
    groups, cur = [], [order[0]]
    for a, b in zip(order[:-1], order[1:]):
        if values[b] - values[a] > gap:
            groups.append(cur)
            cur = []
        cur.append(b)
    groups.append(cur)
    return groups


# --------------------------------------------------------------------------- PDF: Fig. 6
@dataclass
class Fig6:
    stats: dict                      # (model, density, stat) -> value; density None for dense
    yaxis: Axis
    xaxis: Axis
    outliers: dict = field(default_factory=dict)   # (model, density) -> [values]
    boxes: list = field(default_factory=list)      # geometry of each box, for the overlay
    ring_radius: float | None = None               # outlier marker radius (vector figure)
    frame: tuple | None = None                     # axes frame (raster figure)
    line_width_px: float | None = None             # box outline width (raster figure)


def pdf_fig6(page, segments, spans):
    hticks, vticks = tick_marks(segments)
    ypos, yval = y_axis(spans, hticks, r"0\.\d{4}")
    xpos, xval = x_axis(spans, vticks, r"\d{1,2}%", lambda t: DENSITY_LABELS[t])
    if len(ypos) < 3 or len(xpos) != 7:
        raise SystemExit(f"Fig. 6 axes not found (y ticks {yval}, x ticks {xval})")
    yaxis, xaxis = Axis(ypos, yval), Axis(xpos, xval)
    # The axes rectangle: white fill whose left edge is the y-tick marks' right end.
    left = max(h[1] for h in hticks if h[2] in ypos)
    axes = [s for s in segments if s.kind == "re" and s.fill == "white" and abs(s.rect[0] - left) < 0.05]
    ax0, ay0, ax1, ay1 = axes[0].rect
    density_x = dict(zip(xval, xpos))

    def inside(s):
        x0, y0, x1, y1 = s.rect
        return x0 >= ax0 - 0.5 and x1 <= ax1 + 0.5 and y0 >= ay0 - 0.5 and y1 <= ay1 + 0.5

    segs = [s for s in segments if inside(s)]
    stats, outliers = {}, {}
    boxes, radii = [], []
    for s in segs:
        if s.kind == "qu" and s.colour in MODELS:
            x0, x1 = s.points[:, 0].min(), s.points[:, 0].max()
            y0, y1 = s.points[:, 1].min(), s.points[:, 1].max()
            xc = (x0 + x1) / 2
            density = nearest_density(density_x, s.colour, xc, x1 - x0)
            boxes.append(dict(model=s.colour, density=density, x0=x0, x1=x1, xc=xc, top=y0, bottom=y1))
    for b in boxes:
        key = (b["model"], b["density"])
        stats[key + ("q3",)] = yaxis(b["top"])
        stats[key + ("q1",)] = yaxis(b["bottom"])
        med = [s for s in segs if s.colour == "median" and s.kind == "l"
               and abs(s.points[:, 0].mean() - b["xc"]) < 0.25 * (b["x1"] - b["x0"])]
        assert len(med) == 1, (key, len(med))
        stats[key + ("median",)] = yaxis(med[0].points[:, 1].mean())
        # Whiskers: black vertical lines on the box centre, leaving the box's top or bottom edge.
        wl = [s for s in segs if s.kind == "l" and s.colour == "black" and len(s.points) == 2
              and np.all(np.abs(s.points[:, 0] - b["xc"]) < 1e-2)]
        caps = [s for s in segs if s.kind == "l" and s.colour == "black" and len(s.points) == 2
                and abs(s.points[0, 1] - s.points[1, 1]) < 1e-3 and abs(s.points[:, 0].mean() - b["xc"]) < 1e-2]
        lows = [s.points[:, 1].max() for s in wl if abs(s.points[:, 1].min() - b["bottom"]) < 1e-2]
        highs = [s.points[:, 1].min() for s in wl if abs(s.points[:, 1].max() - b["top"]) < 1e-2]
        assert len(lows) == 1 and len(highs) == 1, (key, lows, highs)
        cap_y = sorted(s.points[0, 1] for s in caps)
        # The caps sit exactly at the whisker ends.
        assert min(abs(c - lows[0]) for c in cap_y) < 1e-3 and min(abs(c - highs[0]) for c in cap_y) < 1e-3, key
        stats[key + ("whisker_low",)] = yaxis(lows[0])
        stats[key + ("whisker_high",)] = yaxis(highs[0])
        rings = [s for s in segs if s.kind == "c" and s.colour == "black"
                 and abs((s.rect[0] + s.rect[2]) / 2 - b["xc"]) < 0.05]
        outliers[key] = sorted(yaxis((s.rect[1] + s.rect[3]) / 2) for s in rings)
        radii += [np.abs(s.points - [(s.rect[0] + s.rect[2]) / 2, (s.rect[1] + s.rect[3]) / 2]).max() for s in rings]
    # Dense model: the grey mean line spanning the axes and the light-grey band.
    mean = [s for s in segs if s.colour == "mean" and s.kind == "l" and len(s.points) == 2
            and np.ptp(s.points[:, 0]) > 0.9 * (ax1 - ax0)]
    band = [s for s in segs if s.kind != "qu" and (s.fill == "band" or s.colour == "band")
            and np.ptp(s.points[:, 0]) > 0.9 * (ax1 - ax0)]
    assert len(mean) == 1 and band, (len(mean), len(band))
    top, bottom = band[0].points[:, 1].min(), band[0].points[:, 1].max()
    stats[("dense", None, "mean")] = yaxis(mean[0].points[0, 1])
    stats[("dense", None, "sd")] = (yaxis(top) - yaxis(bottom)) / 2
    stats[("dense", None, "band_centre")] = (yaxis(top) + yaxis(bottom)) / 2
    return Fig6(stats, yaxis, xaxis, outliers, boxes=boxes, ring_radius=float(np.median(radii)))


# --------------------------------------------------------------------------- PDF: Fig. 7
def pdf_fig7(page, segments, spans):
    hticks, vticks = tick_marks(segments)
    ypos, yval = y_axis(spans, hticks, r"[01]\.\d{3}")
    xpos, xval = x_axis(spans, vticks, r"\d{1,3}", int)
    ypos, yval, xpos, xval = map(np.array, (ypos, yval, xpos, xval))
    panels = []
    for g in group_by(ypos, 30.0):
        yaxis = Axis(ypos[g], yval[g])
        lo, hi = ypos[g].min(), ypos[g].max()
        # x ticks belong to the panel whose lowest y tick (the axis' bottom) they hang from
        gx = [i for i in range(len(xpos)) if abs(xtick_top(vticks, xpos[i], hi) - hi) < 1.0]
        xaxis = Axis(xpos[gx], xval[gx])
        cap = [(y0 - hi, t) for t, (x0, y0, x1, y1) in spans if re.fullmatch(r"\([a-z]\)", t) and y0 > hi]
        name = min(cap)[1].strip("()") if cap else str(len(panels) + 1)
        panels.append(dict(name=name, yaxis=yaxis, xaxis=xaxis, top=lo, bottom=hi,
                           left=xpos[gx].min(), right=xpos[gx].max()))
    rows = []
    info = {}
    for p in panels:
        curves = [s for s in segments if s.kind == "l" and s.colour in MODELS and len(s.points) > 5
                  and p["top"] - 30 < s.rect[1] and s.rect[3] < p["bottom"] + 30
                  and s.rect[0] >= p["left"] - 5]
        # page points per figure point: the panel's figure background (white rect) against the
        # size of the embedded matplotlib figure (a form XObject of the same aspect ratio)
        k = figure_scale(page, segments, p)
        for s in curves:
            x = p["xaxis"](s.points[:, 0])
            y = p["yaxis"](s.points[:, 1])
            xi = np.round(x)
            on_grid = np.abs(x - xi) < 0.02
            # matplotlib clips a line at the figure's edge: the cut leaves a vertex off the epoch
            # grid, on the clip line; values beyond it are not in the file.
            clip_ys = s.points[~on_grid, 1]
            exact = on_grid & ~np.isin(np.round(s.points[:, 1], 3), np.round(clip_ys, 3))
            xe, ye = xi[exact].astype(int), y[exact]
            pe = s.points[exact]
            # Vertices dropped by matplotlib's path simplification (within 1/9 pt, perpendicular,
            # of the line it kept) are recovered by linear interpolation between the kept ones.
            full = np.arange(xe.min(), xe.max() + 1)
            yf = np.interp(full, xe, ye)
            interp = ~np.isin(full, xe)
            bound, loose = 0.0, []
            for j in np.where(np.diff(xe) > 1)[0]:
                dx, dy = pe[j + 1] - pe[j]
                # vertical error <= 2 thresholds / cos(slope), converted to accuracy
                b = 2 * k / 9 * np.hypot(dx, dy) / abs(dx) * abs(p["yaxis"].slope)
                bound = max(bound, b)
                if b > 5e-5:
                    loose += [(int(e) + 1, float(np.interp(e, xe, ye)), b) for e in range(xe[j] + 1, xe[j + 1])]
            grid = float(np.abs(ye * 1e4 - np.round(ye * 1e4)).max() / 1e4)
            info[(p["name"], s.colour)] = dict(first=int(full.min()) + 1, last=int(full.max()) + 1,
                                               vertices=int(exact.sum()), interpolated=int(interp.sum()),
                                               clip_points=int((~on_grid).sum()),
                                               clip_value=float(p["yaxis"](clip_ys).max()) if len(clip_ys) else None,
                                               interp_bound=bound, off_grid=grid, loose=loose)
            for e, v in zip(full, yf):
                rows.append((p["name"], s.colour, int(e) + 1, float(v)))
    return panels, rows, info


def figure_scale(page, segments, panel):
    """Page points per figure point for the matplotlib figure holding `panel`."""
    cx, cy = (panel["left"] + panel["right"]) / 2, (panel["top"] + panel["bottom"]) / 2
    bgs = [s.rect for s in segments if s.kind == "re" and s.fill == "white"
           and s.rect[0] < cx < s.rect[2] and s.rect[1] < cy < s.rect[3]]
    x0, y0, x1, y1 = max(bgs, key=lambda r: (r[2] - r[0]) * (r[3] - r[1]))
    aspect = (x1 - x0) / (y1 - y0)
    forms = [bb for _, _, parent, bb in page.get_xobjects() if parent == 0
             and abs((bb[2] - bb[0]) / (bb[3] - bb[1]) - aspect) < 2e-3]
    return (x1 - x0) / (forms[0][2] - forms[0][0])


def xtick_top(vticks, x, default):
    c = [ty0 for tx, ty0, ty1 in vticks if abs(tx - x) < 1e-3]
    return min(c, key=lambda t: abs(t - default)) if c else np.inf


# --------------------------------------------------------------------------- PNG: Fig. 6
def centroid(profile, idx):
    w = np.clip(profile, 0, None)
    return float((w * idx).sum() / w.sum())


def clusters(mask):
    """Runs of True in a 1-D mask as (start, stop) index pairs."""
    m = np.concatenate([[False], mask, [False]])
    d = np.diff(m.astype(int))
    return list(zip(np.where(d == 1)[0], np.where(d == -1)[0]))


def png_fig6(path, pdf_fig=None):
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(float)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    H, W = r.shape
    dark = 1 - rgb.max(-1) / 255.0                      # neutral ink, 0 on white
    neutral = (rgb.max(-1) - rgb.min(-1)) < 12
    strength = {
        "pruning": np.clip(np.minimum(r - g, r - b) - 1.2 * np.abs(g - b), 0, None) / 255,
        "ticket": np.clip(b - np.maximum(r, g), 0, None) / 255,
        "random": np.clip(g - np.maximum(r, b), 0, None) / 128,
        "median": np.clip(np.minimum(g - b, r - g), 0, None) / 113,
    }
    # Axes frame: the longest dark column / rows.
    dmask = (dark > 0.5) & neutral
    left = int(np.argmax(dmask.sum(0)[: W // 2]))
    rows = np.where(dmask.sum(1) > 0.6 * W)[0]
    top, bottom = int(rows.min()), int(rows.max())
    right = int(W // 2 + np.argmax(dmask[top:bottom, W // 2:].sum(0)))
    # y ticks: ink in the 4 columns left of the spine (the tick marks are 3.5 pt long).
    strip = dark[:, left - 5:left - 1].mean(1) * neutral[:, left - 5:left - 1].all(1)
    ticks_y = [centroid(strip[a - 1:b_ + 1], np.arange(a - 1, b_ + 1))
               for a, b_ in clusters(strip > 0.2) if top < a < bottom]
    # Tick labels as printed (read off the figure; the PDF's text layer has the same seven).
    labels = [0.9900, 0.9875, 0.9850, 0.9825, 0.9800, 0.9775, 0.9750]
    assert len(ticks_y) == len(labels), ticks_y
    yaxis = Axis(ticks_y, labels)
    strip = dark[bottom + 2:bottom + 6, :].mean(0)
    ticks_x = [centroid(strip[a - 1:b_ + 1], np.arange(a - 1, b_ + 1))
               for a, b_ in clusters(strip > 0.2) if left < a < right]
    xaxis = Axis(ticks_x, list(DENSITY_LABELS.values()))
    density_x = dict(zip(DENSITY_LABELS.values(), ticks_x))

    stats, outliers, boxes = {}, {}, []
    inner = np.zeros_like(dark, bool)
    inner[top + 3:bottom - 2, left + 3:right - 2] = True
    for model in MODELS:
        # Whisker and median lines cut the outline where they cross it: join the pieces
        # by labelling a dilated mask.
        lab, n = ndimage.label(ndimage.binary_dilation((strength[model] > 0.35) & inner, np.ones((5, 5), bool)))
        for sl in ndimage.find_objects(lab):
            h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
            core = strength[model][sl][4:-4, 4:-4]
            if h < 12 or w < 12 or core.size == 0 or (core > 0.5).mean() > 0.3:
                continue                                  # legend bars are solid, boxes hollow
            # Vertical edges: column centroids of the box's colour, left and right halves.
            # (rows away from the top and bottom edges, which would pull the centroids inwards)
            col = strength[model][sl][6:-6].sum(0)
            cols = np.arange(sl[1].start, sl[1].stop)
            half = len(col) // 2
            x0 = centroid(col[:half], cols[:half])
            x1 = centroid(col[half:], cols[half:])
            xc = (x0 + x1) / 2
            density = nearest_density(density_x, model, xc, x1 - x0)
            # Horizontal edges and the median from interior columns.
            ci = slice(int(np.ceil(x0)) + 2, int(np.floor(x1)) - 1)
            rr = np.arange(sl[0].start - 1, sl[0].stop + 1)
            prof = strength[model][rr, ci].mean(1)
            runs = [(a, b_) for a, b_ in clusters(prof > 0.15)]
            e_top = centroid(prof[runs[0][0] - 1:runs[0][1] + 1], rr[runs[0][0] - 1:runs[0][1] + 1])
            e_bot = centroid(prof[runs[-1][0] - 1:runs[-1][1] + 1], rr[runs[-1][0] - 1:runs[-1][1] + 1])
            mprof = strength["median"][rr, ci].mean(1)
            mr = clusters(mprof > 0.15)
            mr = max(mr, key=lambda ab: mprof[ab[0]:ab[1]].sum())
            med = centroid(mprof[mr[0] - 1:mr[1] + 1], rr[mr[0] - 1:mr[1] + 1])
            key = (model, density)
            stats[key + ("q3",)] = yaxis(e_top)
            stats[key + ("q1",)] = yaxis(e_bot)
            stats[key + ("median",)] = yaxis(med)
            # Whiskers: walk the centre column out of the box while it stays inked, then take
            # the ink centroid of the cap (columns beside the whisker line) around that end.
            c = int(round(xc))
            capw = 0.25 * (x1 - x0)
            capcols = np.r_[int(np.ceil(xc - capw)) + 0:c - 1, c + 2:int(np.floor(xc + capw)) + 1]
            for stat, start, step in (("whisker_high", int(np.floor(e_top)) - 2, -1),
                                      ("whisker_low", int(np.ceil(e_bot)) + 2, 1)):
                y = start
                while dark[y + step, c - 1:c + 2].max() > 0.3:
                    y += step
                # the cap's peak row near the walk's end, then a 5-row window around it (keeps
                # out rings and lines 3 px or more away)
                near = np.arange(y - 2, y + 3)
                y = near[np.argmax(dark[near][:, capcols].mean(1))]
                win = np.arange(y - 2, y + 3)
                cp = dark[win][:, capcols].mean(1)
                # per-row background (band, mean line) from the columns just beyond the cap's ends
                bgcols = np.r_[int(np.floor(xc - capw)) - 4:int(np.floor(xc - capw)) - 1,
                               int(np.ceil(xc + capw)) + 2:int(np.ceil(xc + capw)) + 5]
                cp = cp - dark[win][:, bgcols].mean(1)
                stats[key + (stat,)] = yaxis(centroid(cp, win))
            boxes.append(dict(model=model, density=density, x0=x0, x1=x1, xc=xc))
    # Dense: the grey mean line and the band, from the strip between the spine and the first box.
    first = min(bx["x0"] for bx in boxes)
    cs = slice(left + 4, int(first) - 3)
    col = rgb[:, cs].mean(1).mean(-1)
    band_cov = np.clip((255 - col) / (255 - 224.0), 0, 1)
    meanprof = np.clip((224 - col) / (224 - 89.0), 0, None)
    mr = clusters(meanprof > 0.15)
    mr = max(mr, key=lambda ab: meanprof[ab[0]:ab[1]].sum())
    mean_y = centroid(meanprof[mr[0] - 1:mr[1] + 1], np.arange(mr[0] - 1, mr[1] + 1))
    # band: coverage rows between top and bottom (mean line rows count as covered)
    bc = band_cov.copy()
    bc[mr[0] - 1:mr[1] + 1] = 1
    run = [ab for ab in clusters(bc > 0.02) if ab[0] <= mr[0] <= ab[1]][0]
    a, b_ = run
    # continuous edges (row i spans [i, i+1]); the partial first/last rows give sub-pixel edges
    t_edge = a + (1 - bc[a])
    b_edge = (b_ - 1) + bc[b_ - 1]
    # centre convention (row i at coordinate i): -0.5; remove half the band's edge stroke (1 pt,
    # as wide as the box outlines: measured from the ticket box edges' total coverage).
    lw = _edge_width(strength["ticket"], boxes, top, bottom)
    t_edge, b_edge = t_edge - 0.5 + lw / 2, b_edge - 0.5 - lw / 2
    band_rows = (a, b_)
    lw_ring = lw
    # Outliers: unfilled rings (marker 'o') on the box's centre line, outside the whiskers and
    # outside the legend.  Candidates come from a ring-template correlation; each candidate is
    # then fitted with one or two antialiased ring models (two rings overlap at 10 %).
    ring_r = 5.3           # marker 'o' (6 pt) at the PNG's 127 dpi, if no vector figure is given
    if pdf_fig is not None:   # vector ring radius x (raster px per page pt) = ratio of calibrations
        ring_r = pdf_fig.ring_radius * pdf_fig.yaxis.slope / yaxis.slope
    legend = _legend_box(rgb, neutral, band_rows, W)
    yy, xx = np.mgrid[-8:9, -8:9]
    tmpl = np.exp(-0.5 * ((np.hypot(yy, xx) - ring_r) / 0.8) ** 2)
    tmpl -= tmpl.mean()
    ink = dark * neutral
    resp = ndimage.correlate(ink, tmpl, mode="constant")
    thr = 0.45 * tmpl[tmpl > 0].sum()
    idx = np.arange(top + 3, bottom - 2)
    for bx in boxes:
        key = (bx["model"], bx["density"])
        c = int(round(bx["xc"]))
        w_hi = yaxis.inverse(stats[key + ("whisker_high",)])
        w_lo = yaxis.inverse(stats[key + ("whisker_low",)])
        col = resp[top + 3:bottom - 2, c - 1:c + 2].max(1)
        found = []
        for a, b_ in clusters(col > thr):
            y = idx[a + np.argmax(col[a:b_])]
            if w_hi - 2 < y < w_lo + 2:
                continue                     # the box and whisker lines themselves
            if legend and legend[0] <= c <= legend[2] and legend[1] <= y <= legend[3]:
                continue                     # legend text
            found += _fit_rings(ink, bx["xc"], idx[a], idx[b_ - 1], ring_r, lw_ring, (w_hi - 3, w_lo + 3))
        outliers[key] = sorted(yaxis(v) for v in found)
    stats[("dense", None, "mean")] = yaxis(mean_y)
    stats[("dense", None, "sd")] = (yaxis(t_edge) - yaxis(b_edge)) / 2
    stats[("dense", None, "band_centre")] = (yaxis(t_edge) + yaxis(b_edge)) / 2
    return Fig6(stats, yaxis, xaxis, outliers, boxes=boxes, frame=(left, top, right, bottom), line_width_px=lw)


def _legend_box(rgb, neutral, band_rows, W):
    """The legend frame (light grey, 0.8): rows and columns holding long runs of its colour."""
    v = rgb.mean(-1)
    m = (np.abs(v - 204) < 25) & neutral
    m[band_rows[0] - 2:band_rows[1] + 2] = False          # the band's grey is close to the frame's
    rows = np.where(m.sum(1) > 0.25 * W)[0]
    if len(rows) < 2:
        return None
    r0, r1 = rows.min(), rows.max()
    cols = np.where(m[r0:r1 + 1].sum(0) > 0.8 * (r1 - r0))[0]
    if len(cols) < 2:
        return None
    return (cols.min(), r0, cols.max(), r1)


def _ring_model(shape, y0, x0, centres, r, w):
    ys = np.arange(shape[0])[:, None] + y0
    xs = np.arange(shape[1])[None, :] + x0
    out = np.zeros(shape)
    for (cy, cx) in centres:
        d = np.hypot(ys - cy, xs - cx)
        out = np.maximum(out, np.clip(w / 2 + 0.5 - np.abs(d - r), 0, 1))
    return out


def _fit_rings(ink, xc, ya, yb, r, w, exclude):
    """Centres (rows) of one or two rings of radius r on column xc explaining the ink near ya..yb."""
    y0, y1 = int(ya - r - 4), int(yb + r + 5)
    x0, x1 = int(np.floor(xc - r - 3)), int(np.ceil(xc + r + 4))
    patch = ink[y0:y1, x0:x1].copy()
    bg = np.median(patch)
    patch = np.clip((patch - bg) / (1 - bg), 0, 1)
    rows = np.arange(y0, y1)
    use = np.ones(patch.shape, bool)
    use[(rows > exclude[0]) & (rows < exclude[1])] = False   # whisker, cap and box
    grid = np.arange(ya - 3, yb + 3, 0.05)
    best1 = min((np.sum(((patch - _ring_model(patch.shape, y0, x0, [(g, xc)], r, w)) * use) ** 2), g) for g in grid)
    best2 = None
    coarse = np.arange(ya - 3, yb + 3, 0.25)
    for i, g1 in enumerate(coarse):
        for g2 in coarse[i + 4:]:                             # at least 1 px apart
            e = np.sum(((patch - _ring_model(patch.shape, y0, x0, [(g1, xc), (g2, xc)], r, w)) * use) ** 2)
            if best2 is None or e < best2[0]:
                best2 = (e, g1, g2)
    if best2 is not None and best2[0] < 0.5 * best1[0]:
        # refine the pair on a finer grid around the coarse optimum
        e, g1, g2 = best2
        fine = [(np.sum(((patch - _ring_model(patch.shape, y0, x0, [(a, xc), (b, xc)], r, w)) * use) ** 2), a, b)
                for a in np.arange(g1 - 0.25, g1 + 0.26, 0.05) for b in np.arange(g2 - 0.25, g2 + 0.26, 0.05)]
        _, a, b = min(fine)
        return [a, b]
    return [best1[1]]


def _edge_width(strength, boxes, top, bottom):
    """Width in pixels of a box outline: the summed colour coverage across a horizontal edge."""
    ws = []
    for bx in boxes:
        if bx["model"] != "ticket":
            continue
        ci = slice(int(np.ceil(bx["x0"])) + 2, int(np.floor(bx["x1"])) - 1)
        prof = strength[top:bottom, ci].mean(1)
        runs = clusters(prof > 0.05)
        a, b_ = runs[0]
        ws.append(prof[a:b_].sum())
    return float(np.median(ws))


# --------------------------------------------------------------------------- output
def fig6_rows(fig):
    rows = []
    for model in MODELS:
        for density in DENSITY_LABELS.values():
            for stat in ("median", "q1", "q3", "whisker_low", "whisker_high"):
                rows.append((model, density, stat, fig.stats[(model, density, stat)]))
            for v in fig.outliers.get((model, density), []):
                rows.append((model, density, "outlier", v))
    rows.append(("dense", None, "mean", fig.stats[("dense", None, "mean")]))
    rows.append(("dense", None, "sd", fig.stats[("dense", None, "sd")]))
    return rows


def write_csv(path, header, rows, fmt):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for row in rows:
            w.writerow(fmt(row))


def overlay_fig6(png, png_fig, fig, out, scale=3):
    """Digitised values (from `fig`) drawn over results.png, enlarged `scale` times, through the
    PNG's own calibration: magenta box edges, whisker ends, band edges and outlier crosses; cyan
    medians and dense mean."""
    im = Image.open(png).convert("RGB")
    im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    d = ImageDraw.Draw(im)
    # pixel i's centre is coordinate i in the analysis; its centre is scale*(i + 0.5) when enlarged
    Y = lambda v: scale * (float(png_fig.yaxis.inverse(v)) + 0.5)
    X = lambda x: scale * (x + 0.5)
    mag, cyan = (255, 0, 255), (0, 190, 190)
    for b in png_fig.boxes:
        key = (b["model"], b["density"])
        x0, x1, xc = b["x0"], b["x1"], b["xc"]
        for stat in ("q1", "q3", "median", "whisker_low", "whisker_high"):
            half = {"median": (x1 - x0) / 2 - 1.5, "whisker_low": (x1 - x0) / 4 + 2,
                    "whisker_high": (x1 - x0) / 4 + 2}.get(stat, (x1 - x0) / 2 + 2)
            yy = Y(fig.stats[key + (stat,)])
            d.line([(X(xc - half), yy), (X(xc + half), yy)], fill=cyan if stat == "median" else mag, width=1)
        for v in fig.outliers.get(key, []):
            yy = Y(v)
            d.line([(X(xc - 3), yy), (X(xc + 3), yy)], fill=mag, width=1)
            d.line([(X(xc), yy - 3 * scale), (X(xc), yy + 3 * scale)], fill=mag, width=1)
    left, top, right, bottom = png_fig.frame
    sd = fig.stats[("dense", None, "sd")]
    bc = fig.stats[("dense", None, "band_centre")]
    for v, colour in ((fig.stats[("dense", None, "mean")], cyan), (bc + sd, mag), (bc - sd, mag)):
        yy = Y(v)
        for xa, xb in ((left + 1, left + 10), (right - 10, right - 1)):
            d.line([(X(xa), yy), (X(xb), yy)], fill=colour, width=1)
    im.save(out)


def overlay_fig7(page, panels, rows, out, dpi=500):
    x0 = min(p["left"] for p in panels) - 30
    x1 = max(p["right"] for p in panels) + 12
    y0 = min(p["top"] for p in panels) - 25
    y1 = max(p["bottom"] for p in panels) + 25
    clip = pymupdf.Rect(x0, y0, x1, y1)
    pix = page.get_pixmap(dpi=dpi, clip=clip)
    im = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
    d = ImageDraw.Draw(im)
    k = dpi / 72.0
    col = {"pruning": (0, 0, 0), "ticket": (255, 160, 0), "random": (255, 0, 255)}
    byp = {p["name"]: p for p in panels}
    for name, model, epoch, acc in rows:
        p = byp[name]
        px = (float(p["xaxis"].inverse(epoch - 1)) - x0) * k
        py = (float(p["yaxis"].inverse(acc)) - y0) * k
        d.ellipse([px - 1.5, py - 1.5, px + 1.5, py + 1.5], fill=col[model])
    im.save(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pdf", default=DEFAULT_PDF)
    ap.add_argument("--png", default=DEFAULT_PNG)
    ap.add_argument("--out-dir", default=str(ROOT / "results" / "figures"))
    ap.add_argument("--fig6-source", choices=("pdf", "png"), default="pdf",
                    help="which rendering of Fig. 6 the CSV is written from (default: the vector PDF)")
    ap.add_argument("--overlay-dir", default=None, help="write overlay-fig6.png and overlay-fig7.png here")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every Fig. 6 stat, vector and raster")
    args = ap.parse_args(argv)
    out = Path(args.out_dir)

    doc = pymupdf.open(args.pdf)
    page = find_page(doc, "Training process on various pruned network models")
    segments, spans = pdf_segments(page), pdf_spans(page)
    f6 = pdf_fig6(page, segments, spans)
    p6 = png_fig6(args.png, f6)
    panels, rows7, info7 = pdf_fig7(page, segments, spans)

    src = f6 if args.fig6_source == "pdf" else p6
    write_csv(out / "published-fig6.csv", ("model", "density", "stat", "value"), fig6_rows(src),
              lambda r: (r[0], "" if r[1] is None else r[1], r[2], f"{r[3]:.6f}"))
    write_csv(out / "published-fig7.csv", ("panel", "model", "epoch", "test_accuracy"), rows7,
              lambda r: (r[0], r[1], r[2], f"{r[3]:.6f}"))

    # ---- report: calibration, raster-vs-vector agreement, Fig. 7 coverage
    for f in (args.pdf, args.png):
        print(f"{f}: sha256 {hashlib.sha256(Path(f).read_bytes()).hexdigest()}")
    print(f"figures on page {page.number + 1} of the PDF")
    for name, ax, unit in (("Fig. 6 PDF y", f6.yaxis, "page pt"), ("Fig. 6 PNG y", p6.yaxis, "px")):
        print(f"{name}: 1 {unit} = {abs(ax.slope):.3g} accuracy; the {len(ax.values)} tick labels digitised "
              f"back from their marks: max |error| {np.abs(ax.residuals()).max():.1g} (one fit), "
              f"{np.abs(ax.loo_residuals()).max():.1g} (leave-one-out)")
    for p in panels:
        for nm, ax in (("y", p["yaxis"]), ("x", p["xaxis"])):
            print(f"Fig. 7({p['name']}) {nm}: 1 page pt = {abs(ax.slope):.3g} {'accuracy' if nm == 'y' else 'epochs'}; "
                  f"tick labels back: max |error| {np.abs(ax.residuals()).max():.1g} (one fit), "
                  f"{np.abs(ax.loo_residuals()).max():.1g} (leave-one-out)")
    diffs, table = [], []
    print("\nFig. 6, vector (PDF) vs raster (PNG)" + ("" if args.verbose else ": the five largest differences (all with -v)"))
    print(f"{'model':8} {'density':>7} {'stat':13} {'pdf':>9} {'png':>9} {'diff':>9} {'px':>6}")
    for k, v in f6.stats.items():
        w = p6.stats.get(k)
        if w is None:
            continue
        diffs.append(w - v)
        table.append(f"{k[0]:8} {str(k[1]):>7} {k[2]:13} {v:9.6f} {w:9.6f} {w - v:+9.6f} {(w - v) / abs(p6.yaxis.slope):+6.2f}")
    for k in f6.outliers:
        a, b = f6.outliers[k], p6.outliers.get(k, [])
        if len(a) != len(b):
            print(f"outliers {k}: pdf {np.round(a, 5)} png {np.round(b, 5)}  (count differs)")
        else:
            for v, w in zip(a, b):
                diffs.append(w - v)
                table.append(f"{k[0]:8} {str(k[1]):>7} {'outlier':13} {v:9.6f} {w:9.6f} {w - v:+9.6f} {(w - v) / abs(p6.yaxis.slope):+6.2f}")
    order = np.argsort(-np.abs(diffs))
    for i in (range(len(table)) if args.verbose else order[:5]):
        print(table[i])
    diffs = np.abs(diffs)
    print(f"|png - pdf|: median {np.median(diffs):.2g}, 95th pct {np.percentile(diffs, 95):.2g}, "
          f"max {diffs.max():.2g} ({diffs.max() / abs(p6.yaxis.slope):.2f} px); "
          f"PNG line width {p6.line_width_px:.2f} px")
    print("\nFig. 7 curves (epoch = the plot's x index + 1):")
    for (pn, m), i in info7.items():
        clip = f" at {i['clip_value']:.4f}" if i["clip_value"] is not None else ""
        print(f"  ({pn}) {m:8} epochs {i['first']}-{i['last']}: {i['vertices']} path vertices "
              f"(max distance from a multiple of 1e-4: {i['off_grid']:.1g}), {i['interpolated']} epochs "
              f"interpolated (error <= {i['interp_bound']:.1g}), {i['clip_points']} clip point(s){clip} dropped")
        for e, v, b in i["loose"]:
            print(f"      interpolated epoch {e}: {v:.5f} +- {b:.5f} (a steep stretch)")
    print(f"\nwrote {out / 'published-fig6.csv'} (from the {args.fig6_source.upper()}) and {out / 'published-fig7.csv'}")
    if args.overlay_dir:
        od = Path(args.overlay_dir)
        od.mkdir(parents=True, exist_ok=True)
        overlay_fig6(args.png, p6, f6, od / "overlay-fig6.png")
        overlay_fig7(page, panels, rows7, od / "overlay-fig7.png")
        print(f"overlays in {od}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
