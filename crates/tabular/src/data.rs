//! CSV tables: read, pick feature and target columns, with errors that name the file, the
//! column and the row.
//!
//! A table keeps its fields in one string with their ends beside it (4 bytes a field), not a
//! record per row: a million-row CSV takes about its own size in memory again, where a
//! `StringRecord` per row took five times that (BENCHMARKS.md → Tabular).

use crate::{Result, TabularError};

/// A CSV read into memory: header and rows of fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub file: String,
    pub header: Vec<String>,
    /// Every field of every row, one after the other.
    text: String,
    /// Where each field ends in `text` (row-major, `header.len()` a row).
    ends: Vec<u32>,
}

impl Table {
    /// Parses CSV bytes (`file` names it in errors). Fails on no header, no rows, ragged rows,
    /// and fields past 4 GiB in all.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self> {
        let bad = |why: String| TabularError::BadCsv { file: file.to_owned(), why };
        let mut r = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(bytes);
        let header: Vec<String> = r
            .headers()
            .map_err(|e| bad(e.to_string()))?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        if header.iter().all(String::is_empty) {
            return Err(TabularError::EmptyCsv { file: file.to_owned() });
        }
        // The fields take at most the file's bytes (less its separators and quotes).
        let mut text = String::with_capacity(bytes.len());
        let mut ends = Vec::new();
        let mut rec = csv::StringRecord::new();
        loop {
            match r.read_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(bad(e.to_string())),
            }
            for f in rec.iter() {
                text.push_str(f);
                let end = u32::try_from(text.len())
                    .map_err(|_| bad("its fields take more than 4 GiB; split the file".into()))?;
                ends.push(end);
            }
        }
        if ends.is_empty() {
            return Err(TabularError::EmptyCsv { file: file.to_owned() });
        }
        Ok(Self { file: file.to_owned(), header, text, ends })
    }

    /// Data rows (the header not counted).
    pub fn len(&self) -> usize {
        self.ends.len() / self.header.len()
    }

    /// Whether it has no data rows (never, once parsed).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Row `row`'s field `col`.
    fn field(&self, row: usize, col: usize) -> &str {
        let k = row * self.header.len() + col;
        let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        &self.text[start..self.ends[k] as usize]
    }

    /// Column `col`'s values, as read (untrimmed).
    pub fn values(&self, col: usize) -> impl Iterator<Item = &str> {
        (0..self.len()).map(move |r| self.field(r, col))
    }

    /// Row `row`'s fields.
    fn row(&self, row: usize) -> impl Iterator<Item = &str> {
        (0..self.header.len()).map(move |c| self.field(row, c))
    }

    /// The index of `column`.
    pub fn column(&self, column: &str) -> Result<usize> {
        self.header.iter().position(|h| h == column).ok_or_else(|| TabularError::MissingColumn {
            file: self.file.clone(),
            column: column.to_owned(),
            available: self.header.join(", "),
        })
    }

    /// The numeric matrix of `columns`, row-major.
    pub fn numeric(&self, columns: &[String]) -> Result<Vec<Vec<f64>>> {
        let idx: Vec<usize> = columns.iter().map(|c| self.column(c)).collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(self.len());
        for n in 0..self.len() {
            let mut row = Vec::with_capacity(idx.len());
            for (&i, name) in idx.iter().zip(columns) {
                let v = self.field(n, i).trim();
                let x: f64 = v.parse().ok().filter(|x: &f64| x.is_finite()).ok_or_else(|| {
                    TabularError::NotNumeric {
                        file: self.file.clone(),
                        column: name.clone(),
                        row: n + 2, // 1-based, after the header line
                        value: v.to_owned(),
                    }
                })?;
                row.push(x);
            }
            out.push(row);
        }
        Ok(out)
    }

    /// One column's raw values.
    pub fn strings(&self, column: &str) -> Result<Vec<String>> {
        let i = self.column(column)?;
        Ok((0..self.len()).map(|r| self.field(r, i).trim().to_owned()).collect())
    }

    /// The CSV with one more column.
    pub fn with_column(&self, name: &str, values: &[String]) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::with_capacity(self.text.len() * 2));
        let bad =
            |e: csv::Error| TabularError::BadCsv { file: self.file.clone(), why: e.to_string() };
        w.write_record(self.header.iter().map(String::as_str).chain([name])).map_err(bad)?;
        for (r, v) in (0..self.len()).zip(values) {
            w.write_record(self.row(r).chain([v.as_str()])).map_err(bad)?;
        }
        w.into_inner()
            .map_err(|e| TabularError::BadCsv { file: self.file.clone(), why: e.to_string() })
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_tables_are_named_precisely() {
        let t = Table::parse("d.csv", b"a,b,y\n1,2,3\n4,x,6\n").expect("parse");
        assert_eq!(t.numeric(&["a".into()]).expect("a"), vec![vec![1.0], vec![4.0]]);
        let e = t.numeric(&["a".into(), "b".into()]).expect_err("b is not numeric").to_string();
        assert_eq!(e, "d.csv: column \"b\" row 3 is not a number: \"x\"; features must be numeric");
        let e = t.column("price").expect_err("missing").to_string();
        assert_eq!(e, "d.csv: no column \"price\" (columns: a, b, y)");
        assert!(matches!(Table::parse("e.csv", b""), Err(TabularError::EmptyCsv { .. })));
        assert!(matches!(Table::parse("h.csv", b"a,b\n"), Err(TabularError::EmptyCsv { .. })));
        assert!(
            matches!(Table::parse("r.csv", b"a,b\n1\n"), Err(TabularError::BadCsv { .. })),
            "ragged rows"
        );
        let out = t.with_column("p", &["7".into(), "8".into()]).expect("write");
        assert_eq!(String::from_utf8_lossy(&out), "a,b,y,p\n1,2,3,7\n4,x,6,8\n");
    }
}
