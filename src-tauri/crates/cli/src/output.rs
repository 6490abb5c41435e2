//! CLI output: JSON with `--json`, aligned text tables otherwise. Writes
//! ignore a closed pipe (`ensemble tasks list | head`) instead of panicking.

use std::io::Write;

use serde::Serialize;

use super::{CliError, CliResult};

pub struct Out {
    pub json: bool,
}

impl Out {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn text(&self, s: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{s}");
    }

    pub fn json<T: Serialize>(&self, value: &T) -> CliResult {
        let text = serde_json::to_string_pretty(value).map_err(|e| CliError {
            message: format!("cannot encode output: {e}"),
            code: 1,
        })?;
        self.text(&text);
        Ok(())
    }

    /// Prints rows under headers with columns padded to their widest cell.
    pub fn table(&self, headers: &[&str], rows: &[Vec<String>]) {
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for r in rows {
            for (i, cell) in r.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let fmt = |cells: Vec<String>| -> String {
            let last = cells.len().saturating_sub(1);
            cells
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    if i == last {
                        c
                    } else {
                        let pad = widths[i].saturating_sub(c.chars().count());
                        format!("{c}{}", " ".repeat(pad))
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        self.text(&fmt(headers.iter().map(|h| h.to_string()).collect()));
        for r in rows {
            self.text(&fmt(r.clone()));
        }
    }
}

/// Shortens text for a table cell.
pub fn clip(s: &str, max: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        let mut t: String = one.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
