//! Builders for the report's sections (the shape [`super`] documents): tables whose rows may
//! open a detail, and a matrix of labelled cells that may open one.

use serde_json::{json, Value};

/// What a row or a cell opens: a title, notes and tables.
#[derive(Debug, Default, Clone)]
pub struct Detail {
    title: String,
    notes: Vec<String>,
    tables: Vec<Table>,
}

impl Detail {
    pub fn new(title: impl Into<String>) -> Detail {
        Detail {
            title: title.into(),
            ..Detail::default()
        }
    }

    pub fn note(mut self, text: impl Into<String>) -> Detail {
        self.notes.push(text.into());
        self
    }

    pub fn table(mut self, t: Table) -> Detail {
        self.tables.push(t);
        self
    }

    fn json(&self) -> Value {
        json!({
            "title": self.title,
            "notes": self.notes,
            "tables": self.tables.iter().map(Table::json).collect::<Vec<_>>(),
        })
    }
}

/// A table: named columns, rows of cells (text or numbers), each row with an optional
/// detail. Rows past `max_rows` are counted as omitted, not kept.
#[derive(Debug, Clone)]
pub struct Table {
    title: String,
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
    details: Vec<Option<Detail>>,
    max_rows: usize,
    omitted: u64,
}

impl Table {
    pub fn new(title: impl Into<String>, columns: &[&str], max_rows: usize) -> Table {
        Table {
            title: title.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
            details: Vec::new(),
            max_rows,
            omitted: 0,
        }
    }

    /// Adds a row; false (and counted as omitted) once the table holds `max_rows`.
    pub fn row(&mut self, cells: Vec<Value>, detail: Option<Detail>) -> bool {
        if self.rows.len() >= self.max_rows {
            self.omitted += 1;
            return false;
        }
        self.rows.push(cells);
        self.details.push(detail);
        true
    }

    /// Counts rows left out by the caller (beyond what it chose to pass).
    pub fn omit(&mut self, n: u64) {
        self.omitted += n;
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn json(&self) -> Value {
        json!({
            "title": self.title,
            "columns": self.columns,
            "rows": self.rows,
            "details": self.details.iter().map(|d| d.as_ref().map_or(Value::Null, Detail::json)).collect::<Vec<_>>(),
            "omitted": self.omitted,
        })
    }
}

/// How a matrix cell is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Bad,
    Warn,
    Ok,
    Plain,
}

impl Mark {
    fn name(self) -> Value {
        match self {
            Mark::Bad => json!("bad"),
            Mark::Warn => json!("warn"),
            Mark::Ok => json!("ok"),
            Mark::Plain => Value::Null,
        }
    }
}

/// A matrix of labelled rows and columns; only the cells given are drawn.
#[derive(Debug, Clone, Default)]
pub struct Matrix {
    caption: String,
    rows: Vec<String>,
    cols: Vec<String>,
    cells: Vec<Value>,
    details: Vec<Value>,
}

impl Matrix {
    pub fn new(caption: impl Into<String>, rows: Vec<String>, cols: Vec<String>) -> Matrix {
        Matrix {
            caption: caption.into(),
            rows,
            cols,
            ..Matrix::default()
        }
    }

    pub fn cell(
        &mut self,
        row: usize,
        col: usize,
        text: String,
        mark: Mark,
        detail: Option<Detail>,
    ) {
        let d = detail.map_or(Value::Null, |d| {
            self.details.push(d.json());
            json!(self.details.len() - 1)
        });
        self.cells.push(json!([row, col, text, mark.name(), d]));
    }
}

/// A whole section.
#[derive(Debug, Clone)]
pub struct Section {
    id: String,
    title: String,
    notes: Vec<String>,
    matrix: Option<Matrix>,
    tables: Vec<Table>,
}

impl Section {
    pub fn new(id: &str, title: impl Into<String>) -> Section {
        Section {
            id: id.to_string(),
            title: title.into(),
            notes: Vec::new(),
            matrix: None,
            tables: Vec::new(),
        }
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    pub fn matrix(&mut self, m: Matrix) {
        self.matrix = Some(m);
    }

    pub fn table(&mut self, t: Table) {
        self.tables.push(t);
    }

    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "title": self.title,
            "notes": self.notes,
            "matrix": self.matrix.as_ref().map(|m| json!({
                "caption": m.caption, "rows": m.rows, "cols": m.cols,
                "cells": m.cells, "details": m.details,
            })),
            "tables": self.tables.iter().map(Table::json).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_past_the_budget_are_counted_not_kept() {
        let mut t = Table::new("t", &["a"], 2);
        assert!(t.row(vec![json!(1)], None));
        assert!(t.row(vec![json!(2)], Some(Detail::new("d"))));
        assert!(!t.row(vec![json!(3)], None));
        let v = t.json();
        assert_eq!(v["rows"], json!([[1], [2]]));
        assert_eq!(v["omitted"], 1);
        assert_eq!(v["details"][0], Value::Null);
        assert_eq!(v["details"][1]["title"], "d");
    }

    #[test]
    fn matrix_cells_point_at_their_details() {
        let mut m = Matrix::new("c", vec!["a".into()], vec!["b".into(), "c".into()]);
        m.cell(0, 0, "1".into(), Mark::Bad, Some(Detail::new("a→b")));
        m.cell(0, 1, "0".into(), Mark::Ok, None);
        m.cell(0, 1, "2".into(), Mark::Warn, Some(Detail::new("a→c")));
        let mut s = Section::new("x", "X");
        s.matrix(m);
        let v = s.json();
        assert_eq!(v["matrix"]["cells"][0], json!([0, 0, "1", "bad", 0]));
        assert_eq!(v["matrix"]["cells"][1], json!([0, 1, "0", "ok", null]));
        assert_eq!(v["matrix"]["cells"][2][4], 1);
        assert_eq!(v["matrix"]["details"][1]["title"], "a→c");
    }
}
