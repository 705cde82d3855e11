package bench

import (
	"encoding/xml"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
)

// svgTexts parses an SVG and returns its text elements.
func svgTexts(t *testing.T, svg []byte) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(svg)))
	var texts []string
	inText := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return texts
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			inText = tk.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, string(tk))
			}
		case xml.EndElement:
			inText = false
		}
	}
}

func TestChartLogLog(t *testing.T) {
	c := chart{Title: "MSM <&>", XLabel: "points", YLabel: "time", X: pow2Axis, Y: timeAxis, Series: []series{
		{Name: "cpu", Points: [][2]float64{{1 << 12, 0.016}, {1 << 16, 0.15}, {1 << 20, 2.1}}},
		{Name: "cuda:0, inputs on device", Dashed: true, Points: [][2]float64{{1 << 12, 0.0002}, {1 << 20, 0.004}}},
	}}
	texts := svgTexts(t, c.SVG())
	for _, want := range []string{"MSM <&>", "cpu", "cuda:0, inputs on device", "2^12", "2^20", "100 µs", "1 s"} {
		if !slices.Contains(texts, want) {
			t.Errorf("chart lacks text %q; has %q", want, texts)
		}
	}
	if !strings.Contains(string(c.SVG()), "stroke-dasharray") {
		t.Error("the dashed series is solid")
	}
}

func TestChartSkipsUnplottable(t *testing.T) {
	c := chart{Title: "t", X: timeAxis, Y: axis{Format: formatNumber}, Series: []series{
		{Name: "s", Points: [][2]float64{{0, 0.5}, {math.NaN(), 1}, {0.1, 0.5}, {0.2, 1}}},
	}}
	svg := string(c.SVG())
	svgTexts(t, []byte(svg))
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Fatalf("unplottable points leaked into the SVG:\n%s", svg)
	}
}

func TestChartWithoutData(t *testing.T) {
	c := chart{Title: "empty", X: pow2Axis, Y: timeAxis}
	if texts := svgTexts(t, c.SVG()); !slices.Contains(texts, "no data") {
		t.Fatalf("an empty chart does not say so: %q", texts)
	}
}

func TestAxisTicks(t *testing.T) {
	for _, tc := range []struct {
		a      axis
		lo, hi float64
		want   []float64
	}{
		{pow2Axis, 1 << 10, 1 << 14, []float64{1 << 10, 1 << 11, 1 << 12, 1 << 13, 1 << 14}},
		{timeAxis, 0.003, 0.2, []float64{0.001, 0.01, 0.1, 1}},
		{timeAxis, 0.12, 0.9, []float64{0.1, 0.2, 0.5, 1}},
		{axis{Format: formatNumber}, 0, 8.4, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{axis{Format: formatNumber}, 0, 1, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
	} {
		got := tc.a.ticks(tc.lo, tc.hi)
		if len(got) != len(tc.want) {
			t.Errorf("ticks(%g, %g) = %v, want %v", tc.lo, tc.hi, got, tc.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-9*math.Max(1, tc.want[i]) {
				t.Errorf("ticks(%g, %g) = %v, want %v", tc.lo, tc.hi, got, tc.want)
				break
			}
		}
	}
}

func TestFormatSeconds(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.000294: "294 µs", 0.0159: "15.9 ms", 2.1: "2.1 s", 150: "150 s"} {
		if got := formatSeconds(v); got != want {
			t.Errorf("formatSeconds(%g) = %q, want %q", v, got, want)
		}
	}
}
