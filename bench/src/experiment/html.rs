//! `report.html`: a results directory as one self-contained web page — the report's markdown rendered
//! (title, provenance: commit, machine, date; the results table), every chart inline (the SVGs of
//! `svg.rs`), a per-node table and the spec as run. No script, no external file, no web font: it reads
//! offline, from a mail attachment as well as from the results directory.
//!
//! [`Page`] knows only the markdown subset the bench writes (headings, paragraphs, pipe tables, `- `
//! lists, `code` and **bold**); it escapes everything else.

use std::fmt::Write as _;

use super::report::Report;

/// Inline style: system fonts, readable in light and dark schemes, tables that scroll on a phone.
const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:1.5rem auto;max-width:72rem;padding:0 1rem;color:#1b1f24;background:#fff}\
@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}svg{background:#fff}}\
h1{font-size:1.5rem}h2{font-size:1.15rem;border-bottom:1px solid #999;margin-top:2rem}\
.scroll{overflow-x:auto}table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:.5rem 0}\
th,td{border-bottom:1px solid #999;padding:.2rem .5rem;text-align:left;white-space:nowrap}td.num{text-align:right}\
figure{margin:1rem 0;display:inline-block}svg{max-width:100%;height:auto}\
pre{overflow-x:auto;padding:.5rem;border:1px solid #999}code{font-family:ui-monospace,monospace}";

/// An HTML document under construction.
#[derive(Debug)]
pub struct Page {
    title: String,
    body: String,
}

impl Page {
    /// An empty page titled `title`.
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            body: String::new(),
        }
    }

    /// A section heading.
    pub fn section(&mut self, title: &str) {
        let _ = writeln!(self.body, "<h2>{}</h2>", escape(title));
    }

    /// Renders `md` (the bench's markdown subset).
    pub fn markdown(&mut self, md: &str) {
        let lines: Vec<&str> = md.lines().collect();
        let mut i = 0;
        let mut paragraph: Vec<&str> = Vec::new();
        while i < lines.len() {
            let line = lines[i].trim_end();
            let block = line.starts_with('|') || line.starts_with("- ") || line.starts_with('#');
            if line.is_empty() || block {
                self.paragraph(&mut paragraph);
            }
            if let Some(level) = heading_level(line) {
                let text = line[level..].trim();
                let _ = writeln!(self.body, "<h{level}>{}</h{level}>", inline(text));
                i += 1;
            } else if line.starts_with('|') {
                let start = i;
                while i < lines.len() && lines[i].trim_start().starts_with('|') {
                    i += 1;
                }
                self.pipe_table(&lines[start..i]);
            } else if line.starts_with("- ") {
                self.body.push_str("<ul>\n");
                while i < lines.len() && lines[i].starts_with("- ") {
                    let _ = writeln!(self.body, "<li>{}</li>", inline(&lines[i][2..]));
                    i += 1;
                }
                self.body.push_str("</ul>\n");
            } else {
                if !line.is_empty() {
                    paragraph.push(line);
                }
                i += 1;
            }
        }
        self.paragraph(&mut paragraph);
    }

    fn paragraph(&mut self, lines: &mut Vec<&str>) {
        if !lines.is_empty() {
            let _ = writeln!(self.body, "<p>{}</p>", inline(&lines.join(" ")));
            lines.clear();
        }
    }

    /// A markdown pipe table: header, separator, rows.
    fn pipe_table(&mut self, lines: &[&str]) {
        let cells = |l: &str| -> Vec<String> {
            let l = l.trim();
            let l = l.strip_prefix('|').unwrap_or(l);
            let l = l.strip_suffix('|').unwrap_or(l);
            l.split('|').map(|c| c.trim().to_owned()).collect()
        };
        let Some((head, rest)) = lines.split_first() else {
            return;
        };
        let is_separator = |l: &str| l.trim().chars().all(|c| matches!(c, '|' | '-' | ':' | ' '));
        let rows: Vec<Vec<String>> = rest
            .iter()
            .filter(|l| !is_separator(l))
            .map(|l| cells(l))
            .collect();
        self.table(&cells(head), &rows);
    }

    /// A table; cells are text (escaped, with inline markup), numbers are right-aligned.
    pub fn table<S: AsRef<str>>(&mut self, head: &[S], rows: &[Vec<String>]) {
        self.body
            .push_str("<div class=\"scroll\"><table>\n<thead><tr>");
        for h in head {
            let _ = write!(self.body, "<th scope=\"col\">{}</th>", inline(h.as_ref()));
        }
        self.body.push_str("</tr></thead>\n<tbody>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for c in row {
                let numeric = c
                    .split_whitespace()
                    .next()
                    .is_some_and(|w| w.trim_end_matches('%').parse::<f64>().is_ok());
                let class = if numeric { " class=\"num\"" } else { "" };
                let _ = write!(self.body, "<td{class}>{}</td>", inline(c));
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody></table></div>\n");
    }

    /// An SVG chart inline (our own markup from `svg.rs`, trusted), with its file name as caption.
    pub fn figure(&mut self, name: &str, svg: &str) {
        let _ = writeln!(
            self.body,
            "<figure>{}<figcaption>{}</figcaption></figure>",
            svg.trim(),
            escape(name)
        );
    }

    /// Preformatted text (the spec).
    pub fn pre(&mut self, text: &str) {
        let _ = writeln!(self.body, "<pre><code>{}</code></pre>", escape(text));
    }

    /// The whole document.
    pub fn finish(self) -> String {
        format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
            escape(&self.title),
            self.body
        )
    }
}

fn heading_level(line: &str) -> Option<usize> {
    let level = line.bytes().take_while(|b| *b == b'#').count();
    ((1..=4).contains(&level) && line.as_bytes().get(level) == Some(&b' ')).then_some(level)
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped text with `code` and **bold** spans.
fn inline(text: &str) -> String {
    let escaped = escape(text);
    let mut out = String::with_capacity(escaped.len());
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            for (j, p) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    let _ = write!(out, "<strong>{p}</strong>");
                } else {
                    out.push_str(p);
                }
            }
        }
    }
    out
}

/// The page of a `run` or `simulate` report: its markdown, the charts, one row per node, the spec.
pub fn experiment(report: &Report, charts: &[(String, String)]) -> String {
    let spec = &report.spec;
    let mut page = Page::new(&format!("{} ({})", spec.name, report.mode));
    page.markdown(&report.markdown());
    if !charts.is_empty() {
        page.section("Charts");
        for (name, svg) in charts {
            page.figure(name, svg);
        }
    }
    page.section("Per node");
    let mut rhos: Vec<f64> = Vec::new();
    for r in &report.rows {
        if !rhos.contains(&r.rho) {
            rhos.push(r.rho);
        }
    }
    let mut head = vec![
        "node".to_owned(),
        "K".to_owned(),
        "Q".to_owned(),
        "weight".to_owned(),
        "load source".to_owned(),
    ];
    head.extend(rhos.iter().map(|rho| format!("λ/s at ρ {rho}")));
    let rows: Vec<Vec<String>> = (0..spec.cluster.nodes)
        .map(|i| {
            let mut sources: Vec<&str> = Vec::new();
            for r in &report.rows {
                if let Some(s) = r.load_sources.get(i)
                    && !sources.contains(&s.as_str())
                {
                    sources.push(s);
                }
            }
            let mut row = vec![
                i.to_string(),
                spec.cluster.slots.to_string(),
                spec.cluster.queue_len.to_string(),
                spec.traffic
                    .weights
                    .get(i)
                    .map_or_else(|| "1".to_owned(), f64::to_string),
                if sources.is_empty() {
                    "–".to_owned()
                } else {
                    sources.join(", ")
                },
            ];
            row.extend(rhos.iter().map(|rho| {
                report
                    .rows
                    .iter()
                    .find(|r| r.rho == *rho)
                    .and_then(|r| r.lambda.get(i))
                    .map_or_else(|| "–".to_owned(), |l| format!("{l:.2}"))
            }));
            row
        })
        .collect();
    page.table(&head, &rows);
    page.section("Spec as run");
    page.pre(&serde_json::to_string_pretty(spec).unwrap_or_default());
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_tables_lists_and_headings_become_html() {
        let mut p = Page::new("t");
        p.markdown(
            "# Title\n\nsome `code` and **bold**\ntext\n\n| a | b |\n|---|--:|\n| x | 1.5 |\n| y | 2 |\n\n- one\n- two\n",
        );
        let html = p.finish();
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<p>some <code>code</code> and <strong>bold</strong> text</p>"));
        assert!(html.contains("<th scope=\"col\">a</th><th scope=\"col\">b</th>"));
        assert!(html.contains("<tr><td>x</td><td class=\"num\">1.5</td></tr>"));
        assert_eq!(
            html.matches("<tr>").count(),
            3,
            "header + two rows, no separator"
        );
        assert!(html.contains("<ul>\n<li>one</li>\n<li>two</li>\n</ul>"));
    }

    #[test]
    fn text_is_escaped_and_nothing_is_loaded_from_elsewhere() {
        let mut p = Page::new("<x>");
        p.markdown("<script>alert(1)</script> & \"q\"");
        p.pre("a < b");
        let html = p.finish();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"));
        assert!(html.contains("<title>&lt;x&gt;</title>"));
        assert!(html.contains("a &lt; b"));
        for banned in ["<link", "src=", "http://", "https://", "@import"] {
            assert!(!html.contains(banned), "{banned}");
        }
    }
}
