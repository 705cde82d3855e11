package bench

import (
	"bytes"
	"fmt"
	"html"
	"math"
)

// chart is a line chart, rendered as a standalone SVG.
type chart struct {
	Title          string
	XLabel, YLabel string
	X, Y           axis
	Series         []series
}

// axis: Log axes place ticks at powers of Base; linear ones at round steps.
type axis struct {
	Log    bool
	Base   float64 // log axes: 2 or 10
	Format func(float64) string
}

type series struct {
	Name   string
	Points [][2]float64
	Dashed bool
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

const (
	chartW, chartH         = 760, 440
	padL, padR, padT, padB = 80, 190, 40, 56
	plotW, plotH           = chartW - padL - padR, chartH - padT - padB
	maxTicks               = 9
)

func (a axis) fwd(v float64) float64 {
	if a.Log {
		return math.Log(v) / math.Log(a.Base)
	}
	return v
}

// ticks returns tick values within [lo, hi] (in data units).
func (a axis) ticks(lo, hi float64) []float64 {
	var ts []float64
	if a.Log {
		first, last := math.Floor(a.fwd(lo)), math.Ceil(a.fwd(hi))
		step := math.Max(1, math.Ceil((last-first)/maxTicks))
		// Few decades: label 2× and 5× too.
		mantissas := []float64{1}
		if a.Base == 10 && last-first <= 2 {
			mantissas = []float64{1, 2, 5}
		}
		for e := first; e <= last; e += step {
			for _, m := range mantissas {
				if e < last || m == 1 {
					ts = append(ts, m*math.Pow(a.Base, e))
				}
			}
		}
		return ts
	}
	step := niceStep((hi - lo) / maxTicks)
	first := math.Floor(lo / step)
	for i := 0.0; (first+i)*step < hi+step*0.999; i++ {
		ts = append(ts, (first+i)*step)
	}
	return ts
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// bounds returns the data range over every series, widened to whole ticks.
func (c chart) bounds(pick int, a axis) (float64, float64, bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, p := range s.Points {
			if !c.plottable(p) {
				continue
			}
			lo, hi = math.Min(lo, p[pick]), math.Max(hi, p[pick])
		}
	}
	if lo > hi {
		return 0, 0, false
	}
	ts := a.ticks(lo, hi)
	lo, hi = math.Min(lo, ts[0]), math.Max(hi, ts[len(ts)-1])
	if !a.Log && lo > 0 {
		lo = 0
	}
	if lo == hi {
		hi = lo + 1
		if a.Log {
			hi = lo * a.Base
		}
	}
	return lo, hi, true
}

// plottable: finite, and positive on log axes.
func (c chart) plottable(p [2]float64) bool {
	for i, a := range []axis{c.X, c.Y} {
		if math.IsNaN(p[i]) || math.IsInf(p[i], 0) || a.Log && p[i] <= 0 {
			return false
		}
	}
	return true
}

// SVG renders the chart. A chart with no points says so.
func (c chart) SVG() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", padL, html.EscapeString(c.Title))
	xlo, xhi, okX := c.bounds(0, c.X)
	ylo, yhi, okY := c.bounds(1, c.Y)
	if !okX || !okY {
		fmt.Fprintf(&b, `<text x="%d" y="%d">no data</text></svg>`+"\n", padL, padT+plotH/2)
		return b.Bytes()
	}
	px := func(v float64) float64 {
		return padL + (c.X.fwd(v)-c.X.fwd(xlo))/(c.X.fwd(xhi)-c.X.fwd(xlo))*plotW
	}
	py := func(v float64) float64 {
		return padT + plotH - (c.Y.fwd(v)-c.Y.fwd(ylo))/(c.Y.fwd(yhi)-c.Y.fwd(ylo))*plotH
	}
	for _, t := range c.X.ticks(xlo, xhi) {
		x := px(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e5e5"/>`+"\n", x, padT, x, padT+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, padT+plotH+18, html.EscapeString(c.X.Format(t)))
	}
	for _, t := range c.Y.ticks(ylo, yhi) {
		y := py(t)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>`+"\n", padL, y, padL+plotW, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", padL-6, y+4, html.EscapeString(c.Y.Format(t)))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n", padL, padT, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", padL+plotW/2, chartH-12, html.EscapeString(c.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(18 %d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", padT+plotH/2, html.EscapeString(c.YLabel))
	for i, s := range c.Series {
		color := palette[i%len(palette)]
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		var pts bytes.Buffer
		for _, p := range s.Points {
			if !c.plottable(p) {
				continue
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(p[0]), py(p[1]))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", color, dash, bytes.TrimSpace(pts.Bytes()))
		if len(s.Points) <= 40 {
			for _, p := range s.Points {
				if !c.plottable(p) {
					continue
				}
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(p[0]), py(p[1]), color)
			}
		}
		ly := padT + 10 + i*18
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", padL+plotW+12, ly, padL+plotW+32, ly, color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", padL+plotW+38, ly+4, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// Axis formats.
func formatSeconds(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1e-3:
		return fmt.Sprintf("%.3g µs", v*1e6)
	case v < 1:
		return fmt.Sprintf("%.3g ms", v*1e3)
	default:
		return fmt.Sprintf("%.3g s", v)
	}
}

func formatPow2(v float64) string { return fmt.Sprintf("2^%.0f", math.Log2(v)) }

func formatNumber(v float64) string { return fmt.Sprintf("%.4g", v) }
