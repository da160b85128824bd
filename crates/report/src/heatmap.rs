//! A sources × destinations reachability matrix as a standalone SVG.
//!
//! Each cell tallies the outcomes of the flows tested between one source (a
//! row) and one destination (a column), typically one per port, and is
//! coloured by what it holds:
//!
//! | cell holds | colour |
//! | --- | --- |
//! | only reachable flows | green |
//! | only unreachable flows | red |
//! | only no-return flows | orange |
//! | a mix | purple, with a bar along the bottom split in proportion (green / red / orange) when cells are large enough |
//! | nothing (not tested, e.g. source = destination) | white, grey hatching |
//!
//! Every cell carries a `<title>` tooltip with the full source and
//! destination names and the counts. Labels longer than
//! [`MAX_LABEL_CHARS`] characters are cut with an ellipsis (full name in a
//! tooltip). Cell size shrinks with the matrix (from 36 px down to 10 px per
//! cell) while the label font stays between 8 and 13 px, so 5 × 5 and
//! 200 × 200 both read well. The output is deterministic: the same matrix
//! gives the same bytes.

use std::io::{self, BufWriter, Write};

/// Labels longer than this many characters are truncated with an ellipsis.
pub const MAX_LABEL_CHARS: usize = 40;

const FONT: &str = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif";
/// Average glyph advance as a share of the font size (generous, for sans-serif).
const GLYPH: f64 = 0.62;
const PAD: f64 = 16.0;
const TITLE_SIZE: f64 = 18.0;
const TEXT_SIZE: f64 = 12.0;
const SIN45: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// The outcome of one flow, as counted in a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CellOutcome {
    Reachable,
    Unreachable,
    NoReturn,
    /// Something vnetsim does not model decided (`not-modelled`).
    NotModelled,
}

impl CellOutcome {
    /// From a contract outcome string: `reachable`, `unreachable`, `no-return`.
    pub fn from_outcome(s: &str) -> Option<Self> {
        match s {
            "reachable" => Some(Self::Reachable),
            "unreachable" => Some(Self::Unreachable),
            "no-return" => Some(Self::NoReturn),
            "not-modelled" => Some(Self::NotModelled),
            _ => None,
        }
    }
}

/// Outcome counts of one cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub reachable: u32,
    pub unreachable: u32,
    pub no_return: u32,
    pub not_modelled: u32,
}

impl Tally {
    pub fn total(&self) -> u32 {
        self.reachable + self.unreachable + self.no_return + self.not_modelled
    }

    /// The colour class this tally gets.
    pub fn class(&self) -> CellClass {
        match (
            self.reachable > 0,
            self.unreachable > 0,
            self.no_return > 0,
            self.not_modelled > 0,
        ) {
            (false, false, false, false) => CellClass::Empty,
            (true, false, false, false) => CellClass::Reachable,
            (false, true, false, false) => CellClass::Unreachable,
            (false, false, true, false) => CellClass::NoReturn,
            (false, false, false, true) => CellClass::NotModelled,
            _ => CellClass::Mixed,
        }
    }
}

/// What a cell is coloured as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CellClass {
    /// Nothing tested.
    Empty,
    Reachable,
    Unreachable,
    NoReturn,
    NotModelled,
    /// More than one outcome.
    Mixed,
}

impl CellClass {
    /// All classes, in legend order.
    pub const ALL: [CellClass; 6] = [
        CellClass::Reachable,
        CellClass::Unreachable,
        CellClass::NoReturn,
        CellClass::NotModelled,
        CellClass::Mixed,
        CellClass::Empty,
    ];

    /// The `fill` attribute of a cell of this class.
    pub fn fill(self) -> &'static str {
        match self {
            CellClass::Reachable => "#1a9850",
            CellClass::Unreachable => "#d73027",
            CellClass::NoReturn => "#fd8d3c",
            CellClass::NotModelled => "#969696",
            CellClass::Mixed => "#7b5ea7",
            CellClass::Empty => "url(#hatch)",
        }
    }

    /// Legend text.
    pub fn label(self) -> &'static str {
        match self {
            CellClass::Reachable => "all reachable",
            CellClass::Unreachable => "all unreachable",
            CellClass::NoReturn => "all no-return",
            CellClass::NotModelled => "all not modelled",
            CellClass::Mixed => "mixed (bar: share of each outcome)",
            CellClass::Empty => "not tested",
        }
    }

    /// Short name, used as the cell's CSS class suffix.
    pub fn name(self) -> &'static str {
        match self {
            CellClass::Reachable => "reachable",
            CellClass::Unreachable => "unreachable",
            CellClass::NoReturn => "no-return",
            CellClass::NotModelled => "not-modelled",
            CellClass::Mixed => "mixed",
            CellClass::Empty => "empty",
        }
    }
}

/// A sources × destinations matrix of outcome tallies.
#[derive(Clone, Debug)]
pub struct Heatmap {
    title: String,
    rows: Vec<String>,
    cols: Vec<String>,
    cells: Vec<Tally>,
}

impl Heatmap {
    /// An empty matrix: `rows` are the sources, `cols` the destinations.
    pub fn new<R, C>(title: impl Into<String>, rows: R, cols: C) -> Self
    where
        R: IntoIterator,
        R::Item: Into<String>,
        C: IntoIterator,
        C::Item: Into<String>,
    {
        let rows: Vec<String> = rows.into_iter().map(Into::into).collect();
        let cols: Vec<String> = cols.into_iter().map(Into::into).collect();
        let cells = vec![Tally::default(); rows.len() * cols.len()];
        Self {
            title: title.into(),
            rows,
            cols,
            cells,
        }
    }

    pub fn rows(&self) -> &[String] {
        &self.rows
    }

    pub fn cols(&self) -> &[String] {
        &self.cols
    }

    fn idx(&self, row: usize, col: usize) -> usize {
        assert!(
            row < self.rows.len() && col < self.cols.len(),
            "heat map cell ({row}, {col}) outside a {} x {} matrix",
            self.rows.len(),
            self.cols.len()
        );
        row * self.cols.len() + col
    }

    /// Counts one flow in a cell.
    ///
    /// # Panics
    /// If `row` or `col` is out of range.
    pub fn add(&mut self, row: usize, col: usize, outcome: CellOutcome) {
        self.add_count(row, col, outcome, 1);
    }

    /// Counts `n` flows in a cell.
    ///
    /// # Panics
    /// If `row` or `col` is out of range.
    pub fn add_count(&mut self, row: usize, col: usize, outcome: CellOutcome, n: u32) {
        let i = self.idx(row, col);
        let t = &mut self.cells[i];
        match outcome {
            CellOutcome::Reachable => t.reachable = t.reachable.saturating_add(n),
            CellOutcome::Unreachable => t.unreachable = t.unreachable.saturating_add(n),
            CellOutcome::NoReturn => t.no_return = t.no_return.saturating_add(n),
            CellOutcome::NotModelled => t.not_modelled = t.not_modelled.saturating_add(n),
        }
    }

    /// The tally of a cell.
    pub fn tally(&self, row: usize, col: usize) -> Tally {
        self.cells[self.idx(row, col)]
    }

    /// The SVG as a string.
    pub fn to_svg(&self) -> String {
        let mut v = Vec::new();
        self.write_svg(&mut v)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(v).expect("the SVG is UTF-8")
    }

    /// Writes the matrix as a standalone SVG document.
    pub fn write_svg(&self, w: impl Write) -> io::Result<()> {
        let mut w = BufWriter::with_capacity(64 * 1024, w);
        let l = Layout::new(self);
        let (nr, nc) = (self.rows.len(), self.cols.len());

        writeln!(
            w,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="{FONT}">"#,
            W = n(l.width),
            H = n(l.height)
        )?;
        writeln!(w, "<title>{}</title>", esc(&self.title))?;
        writeln!(
            w,
            r##"<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><path d="M0 0H6V6H0Z" fill="#ffffff"/><path d="M0 0V6" stroke="#c8c8c8" stroke-width="1.5"/></pattern></defs>"##
        )?;
        writeln!(
            w,
            r##"<path d="M0 0H{W}V{H}H0Z" fill="#ffffff"/>"##,
            W = n(l.width),
            H = n(l.height)
        )?;

        // Title and subtitle.
        writeln!(
            w,
            r##"<text x="{}" y="{}" font-size="{}" font-weight="bold" fill="#202020">{}</text>"##,
            n(PAD),
            n(l.title_y),
            n(TITLE_SIZE),
            esc(&self.title)
        )?;
        writeln!(
            w,
            r##"<text x="{}" y="{}" font-size="{}" fill="#555555">{}</text>"##,
            n(PAD),
            n(l.subtitle_y),
            n(TEXT_SIZE),
            esc(&l.subtitle)
        )?;

        // Legend.
        writeln!(w, r#"<g class="legend" font-size="{}">"#, n(TEXT_SIZE))?;
        for item in &l.legend {
            writeln!(
                w,
                r##"<path d="M{x} {y}h14v14h-14Z" fill="{}" stroke="#808080" stroke-width="0.5"/><text x="{}" y="{}" fill="#202020">{}</text>"##,
                item.class.fill(),
                n(item.x + 19.0),
                n(l.legend_y + 11.5),
                esc(&item.text),
                x = n(item.x),
                y = n(l.legend_y),
            )?;
        }
        writeln!(w, "</g>")?;

        // Axis captions.
        writeln!(
            w,
            r##"<text x="{}" y="{}" font-size="{}" font-weight="bold" fill="#404040" text-anchor="middle">destination →</text>"##,
            n(l.grid_x + l.cell * nc as f64 / 2.0),
            n(l.dest_caption_y),
            n(TEXT_SIZE)
        )?;
        let sy = l.grid_y + l.cell * nr as f64 / 2.0;
        writeln!(
            w,
            r##"<text x="{x}" y="{y}" font-size="{}" font-weight="bold" fill="#404040" text-anchor="middle" transform="rotate(-90 {x} {y})">← source</text>"##,
            n(TEXT_SIZE),
            x = n(PAD + TEXT_SIZE),
            y = n(sy),
        )?;

        // Row labels (sources), right-aligned against the grid.
        writeln!(
            w,
            r##"<g class="row-labels" font-size="{}" fill="#202020" text-anchor="end">"##,
            n(l.font)
        )?;
        for (i, name) in self.rows.iter().enumerate() {
            let y = l.grid_y + (i as f64 + 0.5) * l.cell + l.font * 0.35;
            label(
                &mut w,
                name,
                &format!(r#"x="{}" y="{}""#, n(l.grid_x - 5.0), n(y)),
            )?;
        }
        writeln!(w, "</g>")?;

        // Column labels (destinations), rotated up: 45° when columns are wide
        // enough for slanted lines not to overlap, else upright (90°).
        writeln!(
            w,
            r##"<g class="col-labels" font-size="{}" fill="#202020">"##,
            n(l.font)
        )?;
        for (j, name) in self.cols.iter().enumerate() {
            let shift = if l.col_angle == 90.0 { 0.35 } else { 0.25 };
            let x = l.grid_x + (j as f64 + 0.5) * l.cell + l.font * shift;
            let y = l.grid_y - 5.0;
            label(
                &mut w,
                name,
                &format!(
                    r#"x="{x}" y="{y}" transform="rotate(-{a} {x} {y})""#,
                    x = n(x),
                    y = n(y),
                    a = n(l.col_angle)
                ),
            )?;
        }
        writeln!(w, "</g>")?;

        // Cells.
        let gap = if l.cell >= 16.0 { 1.5 } else { 1.0 };
        let bar = l.cell >= 14.0;
        writeln!(
            w,
            r##"<g class="cells" stroke="#ffffff" stroke-width="{}">"##,
            n(gap)
        )?;
        for (i, rname) in self.rows.iter().enumerate() {
            for (j, cname) in self.cols.iter().enumerate() {
                let t = self.cells[i * nc + j];
                let class = t.class();
                let (x, y) = (l.grid_x + j as f64 * l.cell, l.grid_y + i as f64 * l.cell);
                let tip = if class == CellClass::Empty {
                    format!("{rname} → {cname}\nnot tested")
                } else {
                    let nm = match t.not_modelled {
                        0 => String::new(),
                        n => format!(", not modelled {n}"),
                    };
                    format!(
                        "{rname} → {cname}\nreachable {}, unreachable {}, no-return {}{nm} (of {})",
                        t.reachable,
                        t.unreachable,
                        t.no_return,
                        t.total()
                    )
                };
                writeln!(
                    w,
                    r#"<rect class="cell {}" x="{}" y="{}" width="{c}" height="{c}" fill="{}"><title>{}</title></rect>"#,
                    class.name(),
                    n(x),
                    n(y),
                    class.fill(),
                    esc(&tip),
                    c = n(l.cell),
                )?;
                if class == CellClass::Mixed && bar {
                    // A bar along the bottom third, split in proportion to the counts.
                    let inset = gap / 2.0 + 1.5;
                    let bw = l.cell - 2.0 * inset;
                    let bh = (l.cell / 3.0).max(4.0);
                    let by = y + l.cell - inset - bh;
                    let mut bx = x + inset;
                    let total = t.total() as f64;
                    for (count, cls) in [
                        (t.reachable, CellClass::Reachable),
                        (t.unreachable, CellClass::Unreachable),
                        (t.no_return, CellClass::NoReturn),
                        (t.not_modelled, CellClass::NotModelled),
                    ] {
                        if count == 0 {
                            continue;
                        }
                        let sw = bw * count as f64 / total;
                        writeln!(
                            w,
                            r#"<path d="M{} {}h{}v{}h-{}Z" fill="{}" stroke="none" pointer-events="none"/>"#,
                            n(bx),
                            n(by),
                            n(sw),
                            n(bh),
                            n(sw),
                            cls.fill()
                        )?;
                        bx += sw;
                    }
                }
            }
        }
        writeln!(w, "</g>")?;
        // Frame around the grid.
        if nr > 0 && nc > 0 {
            writeln!(
                w,
                r##"<path d="M{} {}h{}v{}h-{}Z" fill="none" stroke="#909090" stroke-width="1"/>"##,
                n(l.grid_x),
                n(l.grid_y),
                n(l.cell * nc as f64),
                n(l.cell * nr as f64),
                n(l.cell * nc as f64)
            )?;
        }
        writeln!(w, "</svg>")?;
        w.flush()
    }
}

struct LegendItem {
    class: CellClass,
    text: String,
    x: f64,
}

struct Layout {
    cell: f64,
    font: f64,
    col_angle: f64,
    width: f64,
    height: f64,
    title_y: f64,
    subtitle_y: f64,
    subtitle: String,
    legend_y: f64,
    legend: Vec<LegendItem>,
    dest_caption_y: f64,
    grid_x: f64,
    grid_y: f64,
}

impl Layout {
    fn new(h: &Heatmap) -> Self {
        let (nr, nc) = (h.rows.len(), h.cols.len());
        let biggest = nr.max(nc).max(1) as f64;
        let cell = (640.0 / biggest).floor().clamp(10.0, 36.0);
        let font = (cell * 0.6).clamp(8.0, 13.0).round();
        let width_of = |s: &str, size: f64| display_label(s).chars().count() as f64 * size * GLYPH;
        let row_w = h.rows.iter().map(|s| width_of(s, font)).fold(0.0, f64::max);
        let col_w: Vec<f64> = h.cols.iter().map(|s| width_of(s, font)).collect();
        // Slanted labels sit `cell * sin 45°` apart; below a line's height, stand them upright.
        let col_angle = if cell * SIN45 >= font * 1.15 {
            45.0
        } else {
            90.0
        };
        let (rise, run) = if col_angle == 45.0 {
            (SIN45, SIN45)
        } else {
            (1.0, 0.0)
        };
        let col_h = col_w.iter().copied().fold(0.0, f64::max) * rise + font;

        let mut counts = [0usize; 6];
        let mut flows = 0u64;
        for t in &h.cells {
            let k = CellClass::ALL
                .iter()
                .position(|c| *c == t.class())
                .unwrap_or(5);
            counts[k] += 1;
            flows += t.total() as u64;
        }
        let tested = h.cells.len() - counts[5];
        let subtitle = format!(
            "{nr} source{} × {nc} destination{}: {tested} pair{} tested, {flows} flow{}",
            plural(nr),
            plural(nc),
            plural(tested),
            plural(flows as usize)
        );

        let title_y = PAD + TITLE_SIZE;
        let subtitle_y = title_y + TEXT_SIZE + 8.0;
        let legend_y = subtitle_y + 12.0;
        let mut legend = Vec::new();
        let mut x = PAD;
        for (k, class) in CellClass::ALL.iter().enumerate() {
            // Listed only where something vnetsim does not model decided a cell.
            if *class == CellClass::NotModelled && counts[k] == 0 {
                continue;
            }
            let text = format!("{} ({})", class.label(), counts[k]);
            let tw = text.chars().count() as f64 * TEXT_SIZE * 0.57;
            legend.push(LegendItem {
                class: *class,
                text,
                x,
            });
            x += 19.0 + tw + 22.0;
        }
        let legend_right = x - 22.0;
        let dest_caption_y = legend_y + 14.0 + 26.0;
        let grid_y = dest_caption_y + 10.0 + col_h;
        let grid_x = PAD + TEXT_SIZE + 12.0 + row_w + 6.0;
        let grid_right = grid_x + cell * nc as f64;
        let cols_right = col_w
            .iter()
            .enumerate()
            .map(|(j, w)| grid_x + (j as f64 + 0.5) * cell + w * run + font)
            .fold(0.0, f64::max);
        let title_right = PAD + width_of(&h.title, TITLE_SIZE) * 1.05;
        let subtitle_right = PAD + subtitle.chars().count() as f64 * TEXT_SIZE * GLYPH;
        let width = [
            grid_right,
            cols_right,
            legend_right,
            title_right,
            subtitle_right,
        ]
        .into_iter()
        .fold(0.0, f64::max)
            + PAD;
        let height = grid_y + cell * nr as f64 + PAD;
        Self {
            cell,
            font,
            col_angle,
            width: width.ceil(),
            height: height.ceil(),
            title_y,
            subtitle_y,
            subtitle,
            legend_y,
            legend,
            dest_caption_y,
            grid_x,
            grid_y,
        }
    }
}

fn plural(k: usize) -> &'static str {
    if k == 1 {
        ""
    } else {
        "s"
    }
}

/// Writes a `<text>` label, truncated past [`MAX_LABEL_CHARS`], with the full
/// name as a tooltip.
fn label(w: &mut impl Write, name: &str, attrs: &str) -> io::Result<()> {
    writeln!(
        w,
        "<text {attrs}><title>{}</title>{}</text>",
        esc(name),
        esc(&display_label(name))
    )
}

/// The label as shown: cut to [`MAX_LABEL_CHARS`] characters, ellipsis included.
pub fn display_label(s: &str) -> String {
    if s.chars().count() <= MAX_LABEL_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX_LABEL_CHARS - 1).collect();
        t.push('…');
        t
    }
}

/// A coordinate: at most one decimal, no trailing `.0` (deterministic text).
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Escapes text for XML content and attribute values; characters XML 1.0
/// forbids become U+FFFD.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_cut_with_an_ellipsis() {
        let long = "x".repeat(60);
        let d = display_label(&long);
        assert_eq!(d.chars().count(), MAX_LABEL_CHARS);
        assert!(d.ends_with('…'));
        assert_eq!(display_label("short"), "short");
    }

    #[test]
    fn numbers_are_short_and_stable() {
        assert_eq!(n(10.0), "10");
        assert_eq!(n(10.25), "10.3");
        assert_eq!(n(0.04), "0");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            esc("a&b<c>\"'\u{1}"),
            "a&amp;b&lt;c&gt;&quot;&apos;\u{FFFD}"
        );
    }
}
