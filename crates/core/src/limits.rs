//! Size limits of every spec field: what keeps a spec storable, sendable to RunPod, and
//! startable in a container. Checked by each spec's `validate`, so a bad value is a 422 naming
//! the field before anything is stored or bills.
//!
//! Why these numbers: a job's command reaches the pod inside the wrapper, single-quoted (each `'`
//! becomes four bytes) and base64-encoded (4/3 of that) as one argument of `sh -c`, and Linux
//! refuses a single argument over 128 KiB (`MAX_ARG_STRLEN`) — a longer one fails at exec and
//! the pod never starts. 64 KiB of ordinary command plus the wrapper stays under 96 KiB encoded;
//! the launch saga refuses a start line over 120 KiB (a command dense with quotes) before
//! anything is created. Amounts are capped so sums of micro-dollars can
//! never overflow 64 bits (a million dollars is 10¹² micro-USD; 9 million such jobs still fit).

/// How far ahead a budget looks: a pod job stops once its spend plus what its pods will run up
/// in this long reaches its budget, so the pass period (2 s), a late pass and the terminate's
/// round trip are paid for inside the budget, not past it. The bound: a job's final cost stays
/// within its budget unless passes stall longer than this (RunPod rate-limits or is down); then
/// it overshoots by at most its pods' rate × the stall. A budget worth less than this much of
/// its GPU stops at once.
pub const BUDGET_LOOKAHEAD_MS: i64 = 15_000;

/// Container image reference.
pub const IMAGE: usize = 512;
/// `command` (or `args` joined): under half of Linux's one-argument limit, for the wrapper.
pub const COMMAND: usize = 64 * 1024;
/// RunPod's limit of environment variables per pod ("up to 50",
/// `pods/templates/environment-variables.mdx`).
pub const POD_ENV_VARS: usize = 50;
/// Variables podwarden adds to a pod of its own (job id, callback and metrics URLs, job token,
/// owner, the watchdog's REST URL), with room to spare.
pub const RESERVED_ENV_VARS: usize = 10;
/// Environment variables per spec: what RunPod allows less what podwarden adds.
pub const ENV_VARS: usize = POD_ENV_VARS - RESERVED_ENV_VARS;
/// One variable's name.
pub const ENV_NAME: usize = 128;
/// One variable's value.
pub const ENV_VALUE: usize = 32 * 1024;
/// All of a spec's environment together (names and values).
pub const ENV_TOTAL: usize = 128 * 1024;
/// Items in a list field (data centers, GPU types and pools, ports, inputs, outputs, args).
pub const LIST: usize = 64;
/// One item of a list, or a short field (ids, names of volumes, registry credentials).
pub const ITEM: usize = 256;
/// Any amount in USD (budgets, caps).
pub const USD: f64 = 1_000_000.0;
/// A price per GPU-hour, USD.
pub const PRICE_PER_HOUR: f64 = 1_000.0;
/// Disk and volume sizes, GB.
pub const DISK_GB: i64 = 10_000;
/// Any duration (runtimes, timeouts, keep-alive): a year.
pub const DURATION_SECS: u64 = 366 * 24 * 3600;

/// A value as an error message quotes it: at most 60 characters, so an error never echoes a
/// megabyte back.
pub fn shown(v: &str) -> String {
    if v.chars().count() <= 60 {
        format!("{v:?}")
    } else {
        format!("{:?}… ({} bytes)", v.chars().take(60).collect::<String>(), v.len())
    }
}

/// A field's problem: (field, message).
pub type Problem = (String, String);

/// A text field of at most `max` bytes.
pub fn text(field: &str, value: &str, max: usize) -> Result<(), Problem> {
    if value.len() > max {
        return Err((
            field.to_owned(),
            format!("is {} bytes; at most {max} are allowed", value.len()),
        ));
    }
    Ok(())
}

/// An optional text field.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<(), Problem> {
    value.map_or(Ok(()), |v| text(field, v, max))
}

/// A list of short items.
pub fn list(field: &str, items: &[String]) -> Result<(), Problem> {
    if items.len() > LIST {
        return Err((
            field.to_owned(),
            format!("has {} items; at most {LIST} are allowed", items.len()),
        ));
    }
    for (i, v) in items.iter().enumerate() {
        text(&format!("{field}[{i}]"), v, ITEM)?;
    }
    Ok(())
}

/// An environment: count, name and value sizes, total size, and names a shell accepts.
pub fn env(field: &str, env: &std::collections::BTreeMap<String, String>) -> Result<(), Problem> {
    if env.len() > ENV_VARS {
        return Err((
            field.to_owned(),
            format!(
                "has {} variables; at most {ENV_VARS} are allowed (RunPod takes {POD_ENV_VARS} per pod, and podwarden adds up to {RESERVED_ENV_VARS} of its own)",
                env.len()
            ),
        ));
    }
    let mut total = 0;
    for (k, v) in env {
        let name_ok = !k.is_empty()
            && k.len() <= ENV_NAME
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !k.starts_with(|c: char| c.is_ascii_digit());
        if !name_ok {
            return Err((
                format!("{field}.{k}"),
                "is not a variable name: letters, digits and `_`, not starting with a digit".into(),
            ));
        }
        text(&format!("{field}.{k}"), v, ENV_VALUE)?;
        total += k.len() + v.len();
    }
    if total > ENV_TOTAL {
        return Err((
            field.to_owned(),
            format!("is {total} bytes in all; at most {ENV_TOTAL} are allowed"),
        ));
    }
    Ok(())
}

/// An amount in USD: finite, positive, at most `USD`.
pub fn usd(field: &str, v: f64) -> Result<(), Problem> {
    if !(v.is_finite() && v > 0.0 && v <= USD) {
        return Err((
            field.to_owned(),
            format!("must be an amount between 0 and {USD} USD, got {v}"),
        ));
    }
    // Money is kept in micro-dollars: a smaller amount would be $0, no limit at all.
    if (v * 1e6).round() < 1.0 {
        return Err((field.to_owned(), format!("must be at least $0.000001, got {v}")));
    }
    Ok(())
}

/// A duration of at most `DURATION_SECS`.
pub fn duration(field: &str, d: std::time::Duration) -> Result<(), Problem> {
    if d.as_secs() > DURATION_SECS {
        return Err((field.to_owned(), format!("{} s is longer than a year", d.as_secs())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_names_the_field_and_the_size() {
        assert_eq!(text("image", &"x".repeat(IMAGE), IMAGE), Ok(()));
        let (f, m) = text("image", &"x".repeat(IMAGE + 1), IMAGE).expect_err("too long");
        assert_eq!(f, "image");
        assert!(m.contains("513 bytes") && m.contains("512"), "{m}");
        let many: Vec<String> = (0..=LIST).map(|i| i.to_string()).collect();
        assert_eq!(list("data_centers", &many).expect_err("many").0, "data_centers");
        assert_eq!(
            list("data_centers", &["x".repeat(ITEM + 1)]).expect_err("long").0,
            "data_centers[0]"
        );
        let mut e = std::collections::BTreeMap::new();
        e.insert("OK_1".to_owned(), "v".to_owned());
        assert_eq!(env("env", &e), Ok(()));
        e.insert("1BAD".to_owned(), String::new());
        assert_eq!(env("env", &e).expect_err("name").0, "env.1BAD");
        e.remove("1BAD");
        e.insert("BIG".to_owned(), "v".repeat(ENV_VALUE + 1));
        assert_eq!(env("env", &e).expect_err("value").0, "env.BIG");
        let total: std::collections::BTreeMap<String, String> =
            (0..5).map(|i| (format!("V{i}"), "v".repeat(ENV_VALUE))).collect();
        assert_eq!(env("env", &total).expect_err("total").0, "env");
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e13, 1e-9, 4e-7] {
            assert!(usd("limits.budget_usd", bad).is_err(), "{bad}");
        }
        assert_eq!(usd("limits.budget_usd", USD), Ok(()));
        assert!(
            duration("limits.max_runtime", std::time::Duration::from_secs(DURATION_SECS + 1))
                .is_err()
        );
    }
}
