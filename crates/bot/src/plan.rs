//! What a training run will be: the dataset's shape, the models that fit its target, the GPU
//! the seed's rules recommend, and the estimated time and cost. Pure functions, tested here.
//!
//! The seed's GPU rules (`000_*` §"Select optimal GPU type"): neural networks and datasets over
//! 5 GB get an A100 (40 GB or more), 1–5 GB an A40 (48 GB), smaller ones an RTX A5000 (24 GB).
//! A named GPU missing from the live offers falls back to the cheapest with at least its memory.

use podwarden_api::types::GpuRow;
use podwarden_tabular::model::ModelKind;

/// Largest CSV the bot takes (Telegram's Bot API serves files up to 20 MB).
pub(crate) const MAX_CSV_BYTES: usize = 20 * 1024 * 1024;

/// Why a file cannot be a dataset, judged by its name and size alone (so before it is
/// downloaded).
pub(crate) fn refused(file_name: &str, size: usize) -> Option<String> {
    let lower = file_name.to_ascii_lowercase();
    if !(lower.ends_with(".csv") || lower.ends_with(".txt")) {
        return Some(format!(
            "{file_name} is not a CSV file. Send a .csv file: comma-separated, with a header row."
        ));
    }
    (size > MAX_CSV_BYTES)
        .then(|| format!("{file_name} is over 20 MB, the most Telegram lets a bot fetch."))
}

/// A CSV the person sent (or named on their volume).
#[derive(Debug, Clone)]
pub(crate) struct Dataset {
    /// The file's name, safe as a path segment.
    pub name: String,
    pub bytes: Vec<u8>,
    pub header: Vec<String>,
    pub rows: usize,
    /// The target candidates that are numeric with many values (regression) — others classify.
    pub numeric: Vec<bool>,
    pub distinct: Vec<usize>,
}

impl Dataset {
    /// Reads a CSV, or says what is wrong with it in the person's terms.
    pub(crate) fn read(file_name: &str, bytes: Vec<u8>) -> Result<Self, String> {
        if let Some(why) = refused(file_name, bytes.len()) {
            return Err(why);
        }
        if std::str::from_utf8(&bytes).is_err() {
            return Err(format!("{file_name} is not text (UTF-8). Send a CSV file."));
        }
        let table = podwarden_tabular::data::Table::parse(file_name, &bytes).map_err(|e| {
            format!("I cannot read {file_name} as a CSV: {e}. Send a CSV with a header row and the same number of fields on every line.")
        })?;
        if table.header.len() < 2 {
            return Err(format!(
                "{file_name} has one column; a model needs a target and at least one feature."
            ));
        }
        let mut numeric = Vec::new();
        let mut distinct = Vec::new();
        for i in 0..table.header.len() {
            let mut seen = std::collections::BTreeSet::new();
            let mut all_numbers = true;
            for v in table.values(i) {
                let v = v.trim();
                all_numbers &= v.parse::<f64>().is_ok_and(f64::is_finite);
                if seen.len() <= 1000 {
                    seen.insert(v.to_owned());
                }
            }
            numeric.push(all_numbers);
            distinct.push(seen.len());
        }
        let name: String = file_name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
            .collect();
        let rows = table.len();
        Ok(Self { name, bytes, header: table.header, rows, numeric, distinct })
    }

    pub(crate) fn size_mb(&self) -> f64 {
        self.bytes.len() as f64 / (1024.0 * 1024.0)
    }

    /// Whether predicting `target` is regression (a number with many values).
    pub(crate) fn is_regression(&self, target: &str) -> bool {
        self.header
            .iter()
            .position(|h| h == target)
            .is_some_and(|i| self.numeric[i] && self.distinct[i] > 10)
    }

    /// Columns the features must be numbers in (all but the target, unless chosen).
    pub(crate) fn non_numeric(&self, features: &[String]) -> Vec<String> {
        features
            .iter()
            .filter(|f| self.header.iter().position(|h| h == *f).is_some_and(|i| !self.numeric[i]))
            .cloned()
            .collect()
    }
}

/// The models that fit a regression or a classification target, the recommended one first.
pub(crate) fn models_for(regression: bool) -> Vec<ModelKind> {
    if regression {
        vec![
            ModelKind::RandomForestRegressor,
            ModelKind::Linear,
            ModelKind::Ridge,
            ModelKind::Lasso,
            ModelKind::ElasticNet,
            ModelKind::DecisionTreeRegressor,
            ModelKind::GradientBoostingRegressor,
        ]
    } else {
        vec![
            ModelKind::RandomForestClassifier,
            ModelKind::Logistic,
            ModelKind::DecisionTreeClassifier,
        ]
    }
}

/// The GPU the seed's rules pick for a dataset of `size_mb` and a `neural` model, among
/// `offers` (one row per GPU type); its index.
pub(crate) fn recommend(offers: &[GpuRow], size_mb: f64, neural: bool) -> Option<usize> {
    let gb = size_mb / 1024.0;
    let (named, min_vram) = if neural || gb > 5.0 {
        ("A100", 40)
    } else if gb > 1.0 {
        ("A40", 48)
    } else {
        ("RTX A5000", 24)
    };
    let cheapest = |pick: &dyn Fn(&GpuRow) -> bool| {
        offers
            .iter()
            .enumerate()
            .filter(|(_, g)| pick(g))
            .min_by(|a, b| a.1.price_per_hour_usd.total_cmp(&b.1.price_per_hour_usd))
            .map(|(i, _)| i)
    };
    cheapest(&|g| g.gpu_type.contains(named) && g.vram_gb >= min_vram)
        .or_else(|| cheapest(&|g| g.vram_gb >= min_vram))
        .or_else(|| cheapest(&|_| true))
}

/// One row per GPU type (its cheapest offer) in `data_center`, cheapest first.
pub(crate) fn offers_in(rows: Vec<GpuRow>, data_center: &str) -> Vec<GpuRow> {
    let mut by_type: std::collections::BTreeMap<String, GpuRow> = Default::default();
    for g in rows.into_iter().filter(|g| g.data_centers.iter().any(|d| d == data_center)) {
        match by_type.get(&g.gpu_type) {
            Some(have) if have.price_per_hour_usd <= g.price_per_hour_usd => {}
            _ => {
                by_type.insert(g.gpu_type.clone(), g);
            }
        }
    }
    let mut v: Vec<GpuRow> = by_type.into_values().collect();
    v.sort_by(|a, b| a.price_per_hour_usd.total_cmp(&b.price_per_hour_usd));
    v
}

/// The data center with the most GPU types on offer among those whose volumes RunPod serves
/// over S3 (where a new volume goes: the bot moves the person's files through it).
pub(crate) fn busiest_data_center(rows: &[GpuRow]) -> Option<String> {
    let mut n: std::collections::BTreeMap<&str, usize> = Default::default();
    for g in rows {
        for d in &g.data_centers {
            if runpod::types::network_volumes::S3_API_DATA_CENTERS.contains(&d.as_str()) {
                *n.entry(d).or_default() += 1;
            }
        }
    }
    n.into_iter().max_by_key(|(d, c)| (*c, std::cmp::Reverse(*d))).map(|(d, _)| d.to_owned())
}

/// The estimate shown before a cloud run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Estimate {
    pub secs: u64,
    pub cost_usd: f64,
    /// What the job may spend at most: three times the estimate (at least 5 cents), within
    /// what is left of the person's spend cap.
    pub budget_usd: f64,
    /// Its wall-clock limit.
    pub max_runtime_secs: u64,
}

/// Seconds to fit 10,000 rows of up to 10 features, by model family (a CPU-bound fit: the
/// GPU does not speed these models; it is what the seed's users rent).
fn fit_secs_per_10k_rows(m: ModelKind) -> f64 {
    match m {
        ModelKind::RandomForestRegressor | ModelKind::RandomForestClassifier => 30.0,
        ModelKind::GradientBoostingRegressor => 40.0,
        ModelKind::DecisionTreeRegressor | ModelKind::DecisionTreeClassifier => 3.0,
        _ => 1.0,
    }
}

/// The estimate for `rows` × `features` with `model` on a GPU at `price_per_hour` (the price
/// of the placement the server's planner picks: `POST /api/v1/estimate`), after a boot of
/// `boot_secs` (the server's assumed boot, the CLI's and dashboard's too), given what is left
/// of the spend cap (`None`: no cap). The fit time is the bot's own: it knows the data.
pub(crate) fn estimate(
    rows: usize,
    features: usize,
    model: ModelKind,
    price_per_hour: f64,
    boot_secs: i64,
    cap_left: Option<f64>,
) -> Estimate {
    let boot = boot_secs.max(0) as f64;
    let width = (features as f64 / 10.0).max(1.0);
    let fit = (rows as f64 / 10_000.0) * fit_secs_per_10k_rows(model) * width;
    let secs = (boot + fit).ceil() as u64;
    // Billed per second.
    let cost_usd = price_per_hour * secs as f64 / 3600.0;
    let mut budget_usd = (3.0 * cost_usd).max(0.05);
    if let Some(left) = cap_left {
        budget_usd = budget_usd.min(left.max(0.0));
    }
    // Whole micro-dollars, as podwarden keeps money.
    budget_usd = (budget_usd * 1e6).floor() / 1e6;
    Estimate { secs, cost_usd, budget_usd, max_runtime_secs: 3 * secs + 600 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(t: &str, vram: i64, price: f64, dc: &str) -> GpuRow {
        GpuRow {
            provider: "runpod".into(),
            gpu_type: t.into(),
            name: t.into(),
            vram_gb: vram,
            cloud: "secure".into(),
            price_per_hour_usd: price,
            data_centers: vec![dc.into()],
        }
    }

    #[test]
    fn the_seeds_rules_pick_by_size_and_model_with_fallbacks() {
        let offers = vec![
            gpu("NVIDIA RTX A4000", 16, 0.17, "X"),
            gpu("NVIDIA RTX A5000", 24, 0.27, "X"),
            gpu("NVIDIA A40", 48, 0.40, "X"),
            gpu("NVIDIA A100 80GB PCIe", 80, 1.64, "X"),
        ];
        let pick = |mb: f64, neural: bool| {
            offers[recommend(&offers, mb, neural).expect("pick")].gpu_type.clone()
        };
        assert_eq!(pick(0.1, false), "NVIDIA RTX A5000");
        assert_eq!(pick(2048.0, false), "NVIDIA A40");
        assert_eq!(pick(6000.0, false), "NVIDIA A100 80GB PCIe");
        assert_eq!(pick(0.1, true), "NVIDIA A100 80GB PCIe");
        // No A5000 on offer: the cheapest with at least 24 GB.
        let without: Vec<GpuRow> =
            offers.iter().filter(|g| !g.gpu_type.contains("A5000")).cloned().collect();
        assert_eq!(without[recommend(&without, 0.1, false).expect("pick")].gpu_type, "NVIDIA A40");
        assert_eq!(recommend(&[], 0.1, false), None);
    }

    #[test]
    fn offers_are_one_per_type_in_the_data_center_cheapest_first() {
        let rows = vec![
            gpu("B", 24, 0.5, "EU-RO-1"),
            gpu("A", 24, 0.3, "EU-RO-1"),
            gpu("A", 24, 0.2, "EU-RO-1"),
            gpu("C", 24, 0.1, "US-KS-2"),
            gpu("D", 24, 0.1, "US-TX-3"),
            gpu("E", 24, 0.1, "US-TX-3"),
            gpu("F", 24, 0.1, "US-TX-3"),
            gpu("G", 24, 0.1, "US-TX-3"),
        ];
        let o = offers_in(rows.clone(), "EU-RO-1");
        assert_eq!(
            o.iter().map(|g| (g.gpu_type.as_str(), g.price_per_hour_usd)).collect::<Vec<_>>(),
            vec![("A", 0.2), ("B", 0.5)]
        );
        assert_eq!(
            busiest_data_center(&rows).as_deref(),
            Some("EU-RO-1"),
            "US-TX-3 has more GPUs but no S3 API for the person's files"
        );
    }

    #[test]
    fn the_estimate_is_billed_per_second_and_the_budget_stays_within_the_cap() {
        let e = estimate(1000, 4, ModelKind::Linear, 0.36, 120, None);
        assert_eq!(e.secs, 121);
        assert!((e.cost_usd - 0.36 * 121.0 / 3600.0).abs() < 1e-12);
        assert_eq!(e.budget_usd, 0.05, "at least five cents");
        let big = estimate(1_000_000, 20, ModelKind::RandomForestRegressor, 1.0, 120, None);
        assert_eq!(big.secs, 120 + 6000);
        assert!((big.budget_usd - 3.0 * big.cost_usd).abs() < 1e-6);
        assert_eq!(estimate(1000, 4, ModelKind::Linear, 0.36, 120, Some(0.01)).budget_usd, 0.01);
        assert_eq!(estimate(1000, 4, ModelKind::Linear, 0.36, 120, Some(-1.0)).budget_usd, 0.0);
    }

    #[test]
    fn datasets_are_read_or_refused_in_plain_words() {
        let d = Dataset::read("h.csv", b"a,b,price\n1,x,10\n2,y,20\n".to_vec()).expect("csv");
        assert_eq!(d.header, vec!["a", "b", "price"]);
        assert_eq!(d.rows, 2);
        assert_eq!(d.non_numeric(&["a".into(), "b".into()]), vec!["b".to_owned()]);
        assert!(!d.is_regression("price"), "two values: a class");
        let e = Dataset::read("report.pdf", b"%PDF-1.4".to_vec()).expect_err("pdf");
        assert!(e.contains("not a CSV"), "{e}");
        let e = Dataset::read("x.csv", vec![0xff, 0xfe, 0]).expect_err("binary");
        assert!(e.contains("not text"), "{e}");
        let e = Dataset::read("x.csv", b"a,b\n1\n".to_vec()).expect_err("ragged");
        assert!(e.contains("cannot read"), "{e}");
        let e = Dataset::read("x.csv", b"a\n1\n".to_vec()).expect_err("one column");
        assert!(e.contains("one column"), "{e}");
        let odd = Dataset::read("my data (1).csv", b"a,b\n1,2\n".to_vec()).expect("csv");
        assert_eq!(odd.name, "my_data__1_.csv");
    }
}
