//! Results of a conformance run and the three reports written from them: JUnit XML for CI
//! systems, a Markdown requirement-by-target matrix for people, and JSON for tools.
//!
//! The writers are pure functions of a [`RunReport`], so their output is snapshot-tested.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::catalog::Catalog;

/// How one case ended on one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail { message: String },
    Skip { reason: String },
}

/// One case run on one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    pub case: String,
    pub target: String,
    pub requirements: Vec<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub duration_ms: u64,
}

/// Every result of a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunReport {
    pub results: Vec<CaseResult>,
}

/// The cell of the requirement matrix for one requirement on one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Pass,
    Fail,
    Skip,
    NotCovered,
}

impl Cell {
    fn text(self) -> &'static str {
        match self {
            Cell::Pass => "pass",
            Cell::Fail => "**FAIL**",
            Cell::Skip => "skip",
            Cell::NotCovered => "—",
        }
    }
}

impl RunReport {
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|r| matches!(r.outcome, Outcome::Fail { .. })).count()
    }

    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.outcome == Outcome::Pass).count()
    }

    pub fn skipped(&self) -> usize {
        self.results.iter().filter(|r| matches!(r.outcome, Outcome::Skip { .. })).count()
    }

    fn targets(&self) -> Vec<String> {
        let mut targets: Vec<String> = self.results.iter().map(|r| r.target.clone()).collect();
        targets.sort();
        targets.dedup();
        targets
    }

    /// Fail if any case covering it failed; pass if any passed; skip if all were skipped.
    pub fn cell(&self, requirement: &str, target: &str) -> Cell {
        let mut cell = Cell::NotCovered;
        for r in self.results.iter().filter(|r| r.target == target) {
            if !r.requirements.iter().any(|id| id == requirement) {
                continue;
            }
            cell = match (&r.outcome, cell) {
                (Outcome::Fail { .. }, _) | (_, Cell::Fail) => Cell::Fail,
                (Outcome::Pass, _) | (_, Cell::Pass) => Cell::Pass,
                (Outcome::Skip { .. }, _) => Cell::Skip,
            };
        }
        cell
    }

    /// The one-line summary runners close with: `N passed, N failed, N skipped`.
    pub fn summary_line(&self) -> String {
        format!("{} passed, {} failed, {} skipped", self.passed(), self.failed(), self.skipped())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    pub fn to_junit(&self) -> String {
        let mut by_target: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
        for r in &self.results {
            by_target.entry(r.target.as_str()).or_default().push(r);
        }
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"hwa-conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            self.results.len(),
            self.failed(),
            self.skipped()
        );
        for (target, results) in by_target {
            let failures = results.iter().filter(|r| matches!(r.outcome, Outcome::Fail { .. }));
            let skips = results.iter().filter(|r| matches!(r.outcome, Outcome::Skip { .. }));
            let secs: u64 = results.iter().map(|r| r.duration_ms).sum();
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{}\">",
                xml(target),
                results.len(),
                failures.count(),
                skips.count(),
                seconds(secs)
            );
            for r in results {
                let _ = write!(
                    out,
                    "    <testcase classname=\"hwa.conformance.{}\" name=\"{} [{}]\" time=\"{}\"",
                    xml(target),
                    xml(&r.case),
                    xml(&r.requirements.join(", ")),
                    seconds(r.duration_ms)
                );
                match &r.outcome {
                    Outcome::Pass => out.push_str("/>\n"),
                    Outcome::Fail { message } => {
                        let first = message.lines().next().unwrap_or_default();
                        let _ = writeln!(
                            out,
                            ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                            xml(first),
                            xml(message)
                        );
                    }
                    Outcome::Skip { reason } => {
                        let _ = writeln!(
                            out,
                            ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                            xml(reason)
                        );
                    }
                }
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }

    pub fn to_markdown(&self, catalog: &Catalog) -> String {
        let targets = self.targets();
        let mut out = String::from("# Conformance report\n\n");
        let _ = writeln!(out, "{}\n", self.summary_line());
        out.push_str("## Requirements by target\n\n| requirement | title |");
        for t in &targets {
            let _ = write!(out, " {t} |");
        }
        out.push_str("\n|---|---|");
        for _ in &targets {
            out.push_str("---|");
        }
        out.push('\n');
        for req in &catalog.requirements {
            let _ = write!(out, "| {} | {} |", req.id, md(&req.title));
            for t in &targets {
                let _ = write!(out, " {} |", self.cell(&req.id, t).text());
            }
            out.push('\n');
        }
        let failures: Vec<&CaseResult> =
            self.results.iter().filter(|r| matches!(r.outcome, Outcome::Fail { .. })).collect();
        if !failures.is_empty() {
            out.push_str("\n## Failures\n\n");
            for r in failures {
                if let Outcome::Fail { message } = &r.outcome {
                    let _ = writeln!(
                        out,
                        "- `{}` on {} ({}): {}",
                        r.case,
                        r.target,
                        r.requirements.join(", "),
                        md(message.lines().next().unwrap_or_default())
                    );
                }
            }
        }
        let skips: Vec<&CaseResult> =
            self.results.iter().filter(|r| matches!(r.outcome, Outcome::Skip { .. })).collect();
        if !skips.is_empty() {
            out.push_str("\n## Skipped\n\n");
            for r in skips {
                if let Outcome::Skip { reason } = &r.outcome {
                    let _ = writeln!(out, "- `{}` on {}: {}", r.case, r.target, md(reason));
                }
            }
        }
        out
    }

    /// Writes `junit.xml`, `report.md` and `report.json` into `dir`, each atomically.
    pub fn write_all(&self, catalog: &Catalog, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        write_atomic(&dir.join("junit.xml"), &self.to_junit())?;
        write_atomic(&dir.join("report.md"), &self.to_markdown(catalog))?;
        write_atomic(&dir.join("report.json"), &self.to_json())
    }
}

fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// Keeps a table cell on one line and its pipes literal.
fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunReport {
        let result = |case: &str, target: &str, reqs: &[&str], outcome| CaseResult {
            case: case.into(),
            target: target.into(),
            requirements: reqs.iter().map(|s| s.to_string()).collect(),
            outcome,
            duration_ms: 1250,
        };
        RunReport {
            results: vec![
                result("happy_path", "sim", &["HL-03", "HL-17"], Outcome::Pass),
                result("happy_path", "live", &["HL-03", "HL-17"], Outcome::Pass),
                result(
                    "second_decision_is_refused",
                    "live",
                    &["HL-14"],
                    Outcome::Fail {
                        message: "expected 409 <already_decided>, got 200 & \"ok\"".into(),
                    },
                ),
                result(
                    "memlock_eperm",
                    "live",
                    &["HL-06"],
                    Outcome::Skip { reason: "sim only".into() },
                ),
            ],
        }
    }

    #[test]
    fn cells_prefer_failure_then_pass_then_skip() {
        let report = sample();
        assert_eq!(report.cell("HL-17", "live"), Cell::Pass);
        assert_eq!(report.cell("HL-14", "live"), Cell::Fail);
        assert_eq!(report.cell("HL-06", "live"), Cell::Skip);
        assert_eq!(report.cell("HL-06", "sim"), Cell::NotCovered);
        assert_eq!(report.summary_line(), "2 passed, 1 failed, 1 skipped");
    }

    #[test]
    fn junit_output_is_escaped_and_counts_outcomes() {
        insta::assert_snapshot!(sample().to_junit());
    }

    #[test]
    fn markdown_matrix_lists_every_catalog_requirement() {
        let catalog = Catalog::shipped().unwrap();
        let md = sample().to_markdown(&catalog);
        for req in &catalog.requirements {
            assert!(md.contains(&format!("| {} |", req.id)), "{} missing", req.id);
        }
        let row = "| HL-14 | exactly one decision by compare-and-swap | **FAIL** | — |";
        assert!(md.contains(row));
    }
}
