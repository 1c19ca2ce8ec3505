//! Training metric points (what a job's code posts to `…/jobs/{id}/metrics`) and the
//! loss-divergence rule that can stop a job early.
//!
//! A point is a JSON object. The fields of a Hugging Face trainer's log (seed `003_*` §4) are
//! checked for type and range; any other field is a custom metric (a number) or a short label
//! (a string). `null` means "not measured this step" and is dropped. Non-finite floats, which
//! JSON cannot carry, may be sent as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.

use serde::{Deserialize, Serialize};

/// What a known field must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A non-negative integer.
    Count,
    /// Any float (non-finite allowed: a diverging loss is worth recording).
    Float,
    /// A non-negative finite float.
    NonNegative,
    /// A percentage, 0–100.
    Percent,
}

/// The fields podwarden knows, with their kinds.
pub const KNOWN_FIELDS: &[&str] = &[
    "step",
    "epoch",
    "loss",
    "eval_loss",
    "learning_rate",
    "grad_norm",
    "samples_per_second",
    "elapsed_seconds",
    "remaining_seconds",
    "progress",
    "gpu_memory_allocated_gb",
    "gpu_memory_reserved_gb",
];

fn kind(field: &str) -> Option<Kind> {
    Some(match field {
        "step" => Kind::Count,
        "loss" | "eval_loss" | "grad_norm" => Kind::Float,
        "epoch"
        | "learning_rate"
        | "samples_per_second"
        | "elapsed_seconds"
        | "remaining_seconds"
        | "gpu_memory_allocated_gb"
        | "gpu_memory_reserved_gb" => Kind::NonNegative,
        "progress" => Kind::Percent,
        _ => return None,
    })
}

/// Longest custom label (string value) in a point.
const MAX_LABEL: usize = 200;
/// Most fields in one point.
const MAX_FIELDS: usize = 64;

/// A point that is not acceptable, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointError {
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for PointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "`{field}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A float from a JSON number or one of the non-finite spellings.
fn float_of(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// Checks one point and returns it normalised (nulls dropped). Errors name the field.
pub fn normalize_point(
    point: &serde_json::Value,
) -> Result<serde_json::Map<String, serde_json::Value>, PointError> {
    let err = |field: &str, message: String| PointError { field: Some(field.to_owned()), message };
    let Some(obj) = point.as_object() else {
        return Err(PointError {
            field: None,
            message: "a point is a JSON object, e.g. {\"step\": 10, \"loss\": 1.93}".into(),
        });
    };
    if obj.len() > MAX_FIELDS {
        return Err(PointError {
            field: None,
            message: format!("{} fields in one point; at most {MAX_FIELDS}", obj.len()),
        });
    }
    let mut out = serde_json::Map::new();
    for (k, v) in obj {
        if v.is_null() {
            continue;
        }
        if k.is_empty() || k.len() > 64 {
            return Err(err(k, "field names are 1–64 characters".into()));
        }
        match kind(k) {
            Some(Kind::Count) => {
                if v.as_u64().is_none() {
                    return Err(err(k, format!("must be a non-negative integer, got {v}")));
                }
            }
            Some(kd) => {
                let Some(x) = float_of(v) else {
                    return Err(err(k, format!("must be a number, got {v}")));
                };
                let ok = match kd {
                    Kind::Float => true,
                    Kind::NonNegative => x.is_finite() && x >= 0.0,
                    // Percent (Count took the branch above).
                    _ => x.is_finite() && (0.0..=100.0).contains(&x),
                };
                if !ok {
                    let want = if kd == Kind::Percent {
                        "a percentage between 0 and 100"
                    } else {
                        "a finite number ≥ 0"
                    };
                    return Err(err(k, format!("must be {want}, got {v}")));
                }
            }
            None => match v {
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {}
                serde_json::Value::String(s) if s.chars().count() <= MAX_LABEL => {}
                serde_json::Value::String(_) => {
                    return Err(err(k, format!("labels are at most {MAX_LABEL} characters")));
                }
                _ => return Err(err(
                    k,
                    "custom fields are numbers, booleans or short strings (no objects or arrays)"
                        .into(),
                )),
            },
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// `[early_stop]` in a job spec: stop the job when a metric diverges — is not a finite number,
/// or stays above `factor` × its best (lowest) value for `patience` points in a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct EarlyStop {
    /// The metric watched (default `loss`).
    pub metric: String,
    /// How far above its best the metric may go, as a multiple (default 3.0).
    pub factor: f64,
    /// Consecutive points above the line before stopping (default 3).
    pub patience: u32,
    /// Points seen before the rule applies (the first steps of training are noisy; default 5).
    pub warmup_points: u32,
}

impl Default for EarlyStop {
    fn default() -> Self {
        Self { metric: "loss".into(), factor: 3.0, patience: 3, warmup_points: 5 }
    }
}

impl EarlyStop {
    /// What is wrong with the rule, if anything (field, message).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if !(self.factor.is_finite() && self.factor > 1.0) {
            return Some((
                "early_stop.factor",
                format!("must be a number above 1, got {}", self.factor),
            ));
        }
        if self.patience == 0 {
            return Some(("early_stop.patience", "must be at least 1".into()));
        }
        if self.metric.trim().is_empty() {
            return Some(("early_stop.metric", "must name a metric, e.g. \"loss\"".into()));
        }
        None
    }
}

/// The running state of an `EarlyStop` rule over one job's points.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DivergenceWatch {
    best: Option<f64>,
    seen: u32,
    above: u32,
}

impl DivergenceWatch {
    /// Feeds the next point; `Some(reason)` when the job should stop.
    pub fn observe(
        &mut self,
        rule: &EarlyStop,
        point: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<String> {
        let x = point.get(&rule.metric).and_then(float_of)?;
        let m = &rule.metric;
        if !x.is_finite() {
            return Some(format!("early stop: {m} is {x} (training diverged)"));
        }
        self.seen += 1;
        let best = self.best.map_or(x, |b| b.min(x));
        self.best = Some(best);
        if self.seen <= rule.warmup_points {
            return None;
        }
        if x > best * rule.factor && x > best {
            self.above += 1;
            if self.above >= rule.patience {
                return Some(format!(
                    "early stop: {m} {x:.4} has stayed above {} × its best ({best:.4}) for {} points",
                    rule.factor, self.above
                ));
            }
        } else {
            self.above = 0;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        normalize_point(&v).expect("valid point")
    }

    #[test]
    fn seed_point_is_accepted_and_nulls_dropped() {
        let p = obj(
            json!({"step": 10, "epoch": 0.5, "loss": 1.93, "eval_loss": null, "learning_rate": 2e-4, "grad_norm": 0.8,
            "samples_per_second": 12.5, "elapsed_seconds": 60, "remaining_seconds": 540, "progress": 10.0,
            "gpu_memory_allocated_gb": 7.2, "gpu_memory_reserved_gb": 8.0, "stage": "train"}),
        );
        assert!(!p.contains_key("eval_loss"));
        assert_eq!(p.len(), 12);
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (json!({"step": -1}), "step"),
            (json!({"step": 1.5}), "step"),
            (json!({"loss": "low"}), "loss"),
            (json!({"progress": 140}), "progress"),
            (json!({"learning_rate": -0.1}), "learning_rate"),
            (json!({"custom": {"a": 1}}), "custom"),
        ];
        for (p, field) in cases {
            let e = normalize_point(&p).expect_err("invalid");
            assert_eq!(e.field.as_deref(), Some(field), "{p}");
        }
        assert!(normalize_point(&json!([1])).is_err());
    }

    #[test]
    fn nan_loss_is_accepted_as_a_string_and_stops_at_once() {
        let rule = EarlyStop::default();
        let mut w = DivergenceWatch::default();
        let p = obj(json!({"loss": "NaN"}));
        assert!(w.observe(&rule, &p).expect("stops").contains("NaN"));
    }

    #[test]
    fn divergence_needs_patience_after_warmup() {
        let rule = EarlyStop { patience: 2, warmup_points: 2, ..EarlyStop::default() };
        let mut w = DivergenceWatch::default();
        let feed =
            |w: &mut DivergenceWatch, loss: f64| w.observe(&rule, &obj(json!({"loss": loss})));
        assert_eq!(feed(&mut w, 2.0), None);
        assert_eq!(feed(&mut w, 1.0), None);
        assert_eq!(feed(&mut w, 5.0), None, "one point above 3 × 1.0 is not yet divergence");
        assert_eq!(feed(&mut w, 1.5), None, "back under the line resets the count");
        assert_eq!(feed(&mut w, 4.0), None);
        let why = feed(&mut w, 9.0).expect("two in a row above the line");
        assert!(why.contains("loss 9.0000") && why.contains("best (1.0000)"), "{why}");
        // Points without the metric change nothing.
        let mut w2 = DivergenceWatch::default();
        assert_eq!(w2.observe(&rule, &obj(json!({"step": 3}))), None);
    }

    #[test]
    fn rule_problems() {
        assert!(EarlyStop { factor: 1.0, ..EarlyStop::default() }.problem().is_some());
        assert!(EarlyStop { patience: 0, ..EarlyStop::default() }.problem().is_some());
        assert!(EarlyStop::default().problem().is_none());
    }
}
