//! CSV tables: read, pick feature and target columns, with errors that name the file, the
//! column and the row.

use crate::{Result, TabularError};

/// A CSV read into memory: header and rows of fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub file: String,
    pub header: Vec<String>,
    pub rows: Vec<csv::StringRecord>,
}

impl Table {
    /// Parses CSV bytes (`file` names it in errors). Fails on no header, no rows, ragged rows.
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
        let mut rows = Vec::new();
        for rec in r.records() {
            rows.push(rec.map_err(|e| bad(e.to_string()))?);
        }
        if rows.is_empty() {
            return Err(TabularError::EmptyCsv { file: file.to_owned() });
        }
        Ok(Self { file: file.to_owned(), header, rows })
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
        let mut out = Vec::with_capacity(self.rows.len());
        for (n, rec) in self.rows.iter().enumerate() {
            let mut row = Vec::with_capacity(idx.len());
            for (&i, name) in idx.iter().zip(columns) {
                let v = rec.get(i).unwrap_or("").trim();
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
        Ok(self.rows.iter().map(|r| r.get(i).unwrap_or("").trim().to_owned()).collect())
    }

    /// The CSV with one more column.
    pub fn with_column(&self, name: &str, values: &[String]) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let bad =
            |e: csv::Error| TabularError::BadCsv { file: self.file.clone(), why: e.to_string() };
        w.write_record(self.header.iter().map(String::as_str).chain([name])).map_err(bad)?;
        for (rec, v) in self.rows.iter().zip(values) {
            w.write_record(rec.iter().chain([v.as_str()])).map_err(bad)?;
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
