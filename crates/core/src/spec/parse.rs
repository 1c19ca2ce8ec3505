//! Parsing specs of every kind (jobs, endpoints, fine-tunes) from TOML or the API's JSON, with
//! errors located by file, line and column and a hint ("did you mean", the duration syntax);
//! and the duration format specs use.

use std::fmt;

/// A spec problem, located when it came from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// File name as given (or `<api>` for JSON bodies).
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted path of the offending field, when known.
    pub field: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "`{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Parses a TOML spec of any kind: serde's errors located by span, `validate`'s by field.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
    hint: fn(&str) -> Option<String>,
    validate: impl Fn(&T) -> Result<(), Box<SpecError>>,
) -> Result<T, Box<SpecError>> {
    let spec: T = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unzip();
        let message = clip(e.message().trim());
        Box::new(SpecError {
            file: file.to_owned(),
            line,
            column,
            field: None,
            hint: hint(&message),
            message,
        })
    })?;
    validate(&spec).map_err(|mut e| {
        e.file = file.to_owned();
        if let Some((l, c)) = e.field.as_deref().and_then(|f| locate(text, f)) {
            e.line = Some(l);
            e.column = Some(c);
        }
        e
    })?;
    Ok(spec)
}

/// An error message of at most 300 characters.
fn clip(m: &str) -> String {
    if m.chars().count() <= 300 {
        m.to_owned()
    } else {
        format!("{}…", m.chars().take(300).collect::<String>())
    }
}

/// Parses the API's JSON form of a spec of any kind.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    hint: fn(&str) -> Option<String>,
    validate: impl Fn(&T) -> Result<(), Box<SpecError>>,
) -> Result<T, Box<SpecError>> {
    let spec: T = serde_json::from_value(value).map_err(|e| {
        // serde quotes the offending value: keep the message short whatever was sent.
        let message = clip(&e.to_string());
        Box::new(SpecError {
            file: "<api>".into(),
            line: None,
            column: None,
            field: None,
            hint: hint(&message),
            message,
        })
    })?;
    validate(&spec).map_err(|mut e| {
        e.file = "<api>".into();
        e
    })?;
    Ok(spec)
}

/// Finds the line and column of a dotted field (`limits.budget_usd`, `ports[1]`) in a TOML
/// text: the key inside its `[table]`, or the table header itself.
fn locate(text: &str, field: &str) -> Option<(usize, usize)> {
    let field = field.split('[').next().unwrap_or(field);
    let (table, key) = match field.rsplit_once('.') {
        Some((t, k)) => (t, k),
        None => ("", field),
    };
    let mut current = "";
    let mut table_line = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        let indent = raw.len() - line.len();
        if let Some(h) = line.strip_prefix('[') {
            current = h.split(']').next().unwrap_or("").trim();
            if current == table || (table.is_empty() && current == key) {
                table_line = Some((i + 1, indent + 1));
            }
            continue;
        }
        let k = line.split('=').next().unwrap_or("").trim();
        if current == table && k == key && line.contains('=') {
            return Some((i + 1, indent + 1));
        }
        if table.is_empty() && current.is_empty() && k == key && line.contains('=') {
            return Some((i + 1, indent + 1));
        }
        // `gpu = { ... }` or `limits.budget_usd = 1` at top level.
        if current.is_empty()
            && !table.is_empty()
            && (k == table || k == field)
            && line.contains('=')
        {
            return Some((i + 1, indent + 1));
        }
    }
    table_line
}

/// The hint for a serde message of a spec: "did you mean" among `fields` for an unknown field
/// (pointing at `doc`), the duration syntax, and `missing` for a missing field.
pub(crate) fn spec_hint(
    message: &str,
    fields: &[&str],
    doc: &str,
    missing: &str,
) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or("");
        let closest = fields
            .iter()
            .min_by_key(|f| edit_distance(name, f))
            .filter(|f| edit_distance(name, f) <= 3);
        return Some(match closest {
            Some(c) => format!("did you mean `{c}`? see {doc}"),
            None => format!("see {doc}"),
        });
    }
    if message.contains("duration") {
        return Some("durations are strings like \"90s\", \"10m\", \"2h\"".into());
    }
    message.contains("missing field").then(|| missing.to_owned())
}

/// A validation error on `field` (located by the parser afterwards).
pub(crate) fn field_error(field: &str, message: String, hint: &str) -> Box<SpecError> {
    Box::new(SpecError {
        file: String::new(),
        line: None,
        column: None,
        field: Some(field.into()),
        message,
        hint: Some(hint.into()),
    })
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

pub(crate) mod duration {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| {
            serde::de::Error::custom(format!("invalid duration {}: {e}", crate::limits::shown(&s)))
        })
    }
}

pub(crate) mod opt_duration {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(&humantime::format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => humantime::parse_duration(&s).map(Some).map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid duration {}: {e}",
                    crate::limits::shown(&s)
                ))
            }),
            None => Ok(None),
        }
    }
}
