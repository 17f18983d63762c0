package report

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Charts are drawn by gonum/plot into vgsvg canvases and inlined. vgsvg
// gives no way to name an element, so two small rewrites of its output
// make the page's points countable and readable: every data point is a
// circle glyph — the only path with an arc (A) command in these charts, as
// lines, axes and legend thumbnails are straight — and gets class="pt"
// and a <title> with its series, round and value, in the order gonum draws
// them (series in order, points in order). No font is embedded; text
// names Liberation Sans (whose metrics gonum lays out with) and falls
// back to the browser's sans-serif.

var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// palette is plotutil's default colours.
func seriesColor(i int) color.Color { return plotutil.Color(i) }

// roundTicks labels integer rounds, -1 as "pre" (a stage outside loops).
type roundTicks struct{}

func (roundTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	step := math.Max(1, math.Ceil((max-min)/10))
	for x := math.Ceil(min); x <= max; x += step {
		label := strconv.Itoa(int(x))
		if x == -1 {
			label = "pre"
		}
		ts = append(ts, plot.Tick{Value: x, Label: label})
	}
	return ts
}

func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 11)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 10)
		a.Tick.Label.Font = font.From(sans, 8)
	}
	return p
}

// svgOf renders drawing into a w×h SVG and returns it ready to inline.
func svgOf(w, h vg.Length, drawing func(c draw.Canvas)) (string, error) {
	c := vgsvg.New(w, h)
	drawing(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	s := buf.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:] // drop the XML declaration and the generator comment
	}
	s = strings.ReplaceAll(s, "font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")
	return s, nil
}

// arcPath is the start of a path vgsvg writes for a circle glyph.
var arcPath = regexp.MustCompile(`<path d="M[-0-9.e,]+A[^"]*"[^>]*/>`)

// labelPoints gives the n circle glyphs of svg class="pt" and titles.
// It reports false, changing nothing, when svg does not hold n of them.
func labelPoints(svg string, titles []string) (string, bool) {
	locs := arcPath.FindAllStringIndex(svg, -1)
	if len(locs) != len(titles) {
		return svg, false
	}
	var b strings.Builder
	last := 0
	for i, l := range locs {
		path := svg[l[0]:l[1]]
		b.WriteString(svg[last:l[0]])
		b.WriteString(`<path class="pt"`)
		b.WriteString(strings.TrimSuffix(path[len("<path"):], "/>"))
		b.WriteString("><title>")
		b.WriteString(template.HTMLEscapeString(titles[i]))
		b.WriteString("</title></path>")
		last = l[1]
	}
	b.WriteString(svg[last:])
	return b.String(), true
}

// MetricSVG draws one metric: a line per series, rounds on x.
func (rep *Report) MetricSVG(m *Metric) (template.HTML, error) {
	p := newPlot(m.Name)
	p.X.Label.Text = "round"
	p.Y.Label.Text = m.Name
	p.X.Tick.Marker = roundTicks{}
	p.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	leg.TextStyle.Font = font.From(sans, 8)
	leg.Left, leg.Top = true, true
	leg.Padding = vg.Points(3)
	runIndex := map[string]int{}
	for i, r := range rep.Runs {
		runIndex[r.Label] = i
	}
	stageIndex := map[string]int{}
	var titles []string
	for _, s := range m.Series {
		si, ok := stageIndex[s.Stage]
		if !ok {
			si = len(stageIndex)
			stageIndex[s.Stage] = si
		}
		xys := make(plotter.XYs, len(s.Points))
		for i, pt := range s.Points {
			xys[i] = plotter.XY{X: float64(pt.Round), Y: pt.Value}
			titles = append(titles, fmt.Sprintf("%s, round %s: %s", s.Name(len(rep.Runs)), roundName(pt.Round), strconv.FormatFloat(pt.Value, 'g', 6, 64)))
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return "", err
		}
		line.Color = seriesColor(si)
		line.Width = vg.Points(1.5)
		line.Dashes = plotutil.Dashes(runIndex[s.Run])
		pts, err := plotter.NewScatter(xys)
		if err != nil {
			return "", err
		}
		pts.GlyphStyle = draw.GlyphStyle{Color: seriesColor(si), Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		p.Add(line, pts)
		leg.Add(s.Name(len(rep.Runs)), line)
	}
	p.X.Min, p.X.Max = p.X.Min-0.25, p.X.Max+0.25 // no point on the frame
	const w, h, legendW = 6.4 * vg.Inch, 2.8 * vg.Inch, 2.1 * vg.Inch
	svg, err := svgOf(w, h, func(c draw.Canvas) {
		left := draw.Crop(c, 0, -legendW, 0, 0)
		p.Draw(left)
		right := draw.Crop(c, w-legendW+6, 0, 0, -18)
		leg.Draw(right)
	})
	if err != nil {
		return "", err
	}
	svg, _ = labelPoints(svg, titles)
	return template.HTML(svg), nil
}

func roundName(r int) string {
	if r < 0 {
		return "pre (outside loops)"
	}
	return strconv.Itoa(r)
}

// gantt is a plotter of one bar per stage, row i at y = n-1-i (the first
// stage on top).
type gantt struct{ spans []Span }

var statusColor = map[string]color.Color{
	"ran":     color.RGBA{R: 0x2b, G: 0x6c, B: 0xb0, A: 0xff},
	"cached":  color.RGBA{R: 0x9a, G: 0x9a, B: 0x9a, A: 0xff},
	"failed":  color.RGBA{R: 0xc0, G: 0x30, B: 0x30, A: 0xff},
	"skipped": color.RGBA{R: 0xd0, G: 0xd0, B: 0xd0, A: 0xff},
}

func colorOf(status string) color.Color {
	if c, ok := statusColor[status]; ok {
		return c
	}
	return statusColor["skipped"]
}

func (g gantt) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(g.spans)
	for i, s := range g.spans {
		y := float64(n - 1 - i)
		y0, y1 := trY(y-0.35), trY(y+0.35)
		if s.Status == "cached" {
			c.DrawGlyph(draw.GlyphStyle{Color: colorOf(s.Status), Radius: (y1 - y0) / 2, Shape: draw.BoxGlyph{}}, vg.Point{X: trX(0), Y: trY(y)})
			continue
		}
		x0, x1 := trX(s.Start), trX(s.End)
		if x1-x0 < 1 {
			x1 = x0 + 1
		}
		c.FillPolygon(colorOf(s.Status), []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
	}
}

func (g gantt) DataRange() (xmin, xmax, ymin, ymax float64) {
	for _, s := range g.spans {
		xmax = math.Max(xmax, s.End)
	}
	if xmax == 0 {
		xmax = 1
	}
	return 0, xmax, -0.5, float64(len(g.spans)) - 0.5
}

// swatch is a legend entry of one colour.
type swatch struct{ c color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.c, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
}

// TimelineSVG draws a run's stages as bars over wall time.
func TimelineSVG(r *Run) (template.HTML, error) {
	if len(r.Timeline) == 0 {
		return "", nil
	}
	p := newPlot("")
	p.X.Label.Text = "seconds since the run started"
	p.Add(plotter.NewGrid())
	p.Add(gantt{r.Timeline})
	n := len(r.Timeline)
	names := make([]string, n)
	for i, s := range r.Timeline {
		names[n-1-i] = s.Address
	}
	p.NominalY(names...)
	p.Y.Tick.Length = vg.Points(5) // invisible (NominalY sets no tick width): a gap between labels and bars
	p.Y.Tick.Label.Font = font.From(sans, 7)
	leg := plot.NewLegend()
	leg.TextStyle.Font = font.From(sans, 8)
	leg.Top = true
	seen := map[string]bool{}
	for _, s := range r.Timeline {
		seen[s.Status] = true
	}
	for _, st := range []string{"ran", "cached", "failed", "skipped"} {
		if seen[st] {
			name := st
			if st == "cached" {
				name = "cached (no time: drawn at 0)"
			}
			leg.Add(name, swatch{colorOf(st)})
		}
	}
	h := vg.Length(n)*9 + 70
	const w = 10 * vg.Inch
	svg, err := svgOf(w, h, func(c draw.Canvas) {
		p.Draw(draw.Crop(c, 0, 0, 0, -18))
		leg.Draw(draw.Crop(c, 0, 0, h-16, 0))
	})
	return template.HTML(svg), err
}
