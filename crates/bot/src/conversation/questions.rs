//! The questions of the train and predict flows: each asks, with its buttons, and moves the
//! draft to the step that waits for its answer; `confirm` prices the cloud run first.

use super::*;

pub(super) async fn ask_target(
    app: &App,
    chat: ChatId,
    d: &mut Draft,
    source: Source,
) -> HandlerResult {
    let data = &source.data;
    let q = format!(
        "{}: {} rows, {} columns. Which column should the model predict? (press it, or type its name)",
        data.name,
        data.rows,
        data.header.len()
    );
    // Telegram keyboards hold 100 buttons; past that the name is typed.
    let keys = if data.header.len() <= 99 { Some(target_keys(data)) } else { None };
    d.step = Step::Target(source);
    ask(app, chat, d, &q, keys.as_ref()).await
}

pub(super) async fn ask_features(
    app: &App,
    chat: ChatId,
    d: &mut Draft,
    source: Source,
    target: String,
) -> HandlerResult {
    let rest: Vec<String> = source.data.header.iter().filter(|h| **h != target).cloned().collect();
    let q = format!(
        "Predicting {target}. Features: all other columns ({}) — or send the ones to use, separated by commas.",
        rest.join(", ")
    );
    let keys = vec![vec![("✅ Use all other columns".to_owned(), "f:all".to_owned())]];
    d.step = Step::Features(Chosen { source, target, features: rest });
    ask(app, chat, d, &q, Some(&keys)).await
}

pub(super) async fn check_features_then_model(
    app: &App,
    chat: ChatId,
    d: &mut Draft,
    c: Chosen,
) -> HandlerResult {
    let data = &c.source.data;
    let bad = data.non_numeric(&c.features);
    if !bad.is_empty() {
        let say = format!(
            "The features must be numbers, but {} {} text. Send the numeric columns to use, separated by commas, or /cancel.",
            bad.join(", "),
            if bad.len() == 1 { "holds" } else { "hold" }
        );
        d.step = Step::Features(c);
        return tell(app, chat, &say).await;
    }
    let regression = data.is_regression(&c.target);
    let kinds = plan::models_for(regression);
    let q = format!(
        "{} looks like {}. Which model? (the first is a good default)",
        c.target,
        if regression {
            "a number to estimate (regression)"
        } else {
            "a class to predict (classification)"
        }
    );
    let keys = grid(
        kinds.iter().map(|k| (k.name().replace('_', " "), format!("m:{}", k.name()))).collect(),
        2,
    );
    d.step = Step::Model(c);
    ask(app, chat, d, &q, Some(&keys)).await
}

pub(super) async fn ask_model(
    app: &App,
    chat: ChatId,
    acct: &Account,
    d: &mut Draft,
    data: Dataset,
) -> HandlerResult {
    if acct.models.is_empty() {
        *d = Draft::default();
        return tell(
            app,
            chat,
            "You have no models yet: train one first (send a CSV and pick Train).",
        )
        .await;
    }
    let keys: Keyboard = acct
        .models
        .iter()
        .enumerate()
        .rev()
        .take(8)
        .map(|(i, m)| {
            let label = format!("{} {} → {} ({})", m.place.icon(), m.kind, m.target, m.id);
            vec![(label, format!("p:{i}"))]
        })
        .collect();
    d.step = Step::PickModel(data);
    ask(app, chat, d, "Which model should predict it?", Some(&keys)).await
}

/// The GPUs in the person's data center, the seed's pick first, with memory and live prices.
pub(super) async fn ask_gpu(
    app: &App,
    chat: ChatId,
    acct: &Account,
    d: &mut Draft,
    picked: Picked,
) -> HandlerResult {
    let c = app.client(&acct.token)?;
    let rows = c
        .gpus(&podwarden_api::client::GpuQuery {
            min_vram_gb: 16,
            count: 1,
            cloud: "any".into(),
            max_price_per_hour: None,
            // The bot's jobs keep their data on a RunPod network volume.
            provider: Some("runpod".into()),
        })
        .await?;
    // Jobs run where the person's volume is; a new volume goes where most GPUs are.
    let dc = match crate::podwarden::volume(&c).await? {
        Some(v) => v.data_center,
        None => app
            .cfg
            .data_center
            .clone()
            .or_else(|| plan::busiest_data_center(&rows))
            .unwrap_or_default(),
    };
    let offers = plan::offers_in(rows, &dc);
    let data = &picked.chosen.source.data;
    let Some(best) = plan::recommend(&offers, data.size_mb(), false) else {
        tell(app, chat, &format!("No GPU is on offer in {dc} right now. Try again later, or /cancel and train locally.")).await?;
        *d = Draft::default();
        return Ok(());
    };
    // The recommendation and up to five others, cheapest first.
    let mut shown: Vec<usize> = vec![best];
    shown.extend((0..offers.len()).filter(|i| *i != best).take(5));
    let keys: Keyboard = shown
        .iter()
        .map(|i| {
            let g = &offers[*i];
            let star = if *i == best { "⭐ " } else { "" };
            vec![(
                format!(
                    "{star}{} · {} GB · {}/h",
                    text::gpu_name(&g.gpu_type),
                    g.vram_gb,
                    usd(g.price_per_hour_usd)
                ),
                format!("g:{i}"),
            )]
        })
        .collect();
    let g = &offers[best];
    let q = format!(
        "🎯 Recommended GPU: {} ({} GB VRAM, {}/h) for a {:.1} MB dataset.\nGPU pods are billed per second. Use it, or pick another:",
        text::gpu_name(&g.gpu_type),
        g.vram_gb,
        usd(g.price_per_hour_usd),
        data.size_mb()
    );
    d.step = Step::Gpu { picked, data_center: dc, offers };
    ask(app, chat, d, &q, Some(&keys)).await
}

/// The answers, and the GPUs offered where the run would go.
pub(super) struct Offered {
    pub(super) picked: Picked,
    pub(super) data_center: String,
    pub(super) offers: Vec<GpuRow>,
}

pub(super) async fn confirm(
    app: &App,
    chat: ChatId,
    acct: &Account,
    d: &mut Draft,
    offered: Offered,
    g: GpuRow,
) -> HandlerResult {
    let c = app.client(&acct.token)?;
    let compute = c.compute_settings().await?;
    let left = compute.spend_cap_usd.map(|cap| cap - compute.hosted_committed_usd);
    let Offered { picked, data_center, offers } = offered;
    let (data, model, features) =
        (&picked.chosen.source.data, picked.model, picked.chosen.features.len());
    // Fallbacks: GPUs with as much memory at up to 1.5× the price, if this one has no capacity.
    let fallbacks: Vec<String> = offers
        .iter()
        .filter(|o| {
            o.gpu_type != g.gpu_type
                && o.vram_gb >= g.vram_gb
                && o.price_per_hour_usd <= 1.5 * g.price_per_hour_usd
        })
        .map(|o| o.gpu_type.clone())
        .collect();
    // Priced by the server, as the CLI and the dashboard are: the placement its planner picks
    // for this very job (a network volume means Secure Cloud, dearer than the offer shown).
    let boot = podwarden_api::TYPICAL_BOOT_MS / 1000;
    let first = plan::estimate(data.rows, features, model, g.price_per_hour_usd, boot, left);
    let priced = c
        .estimate(&crate::train::job_spec(
            app,
            model,
            &g.gpu_type,
            &fallbacks,
            &first,
            vec!["true".into()],
        ))
        .await?;
    let e =
        plan::estimate(data.rows, features, model, priced.price_per_hour_usd, priced.boot_s, left);
    // What is left must pay for more than the server's budget lookahead, or the run would be
    // stopped as soon as it starts; at up to 1.5× this price, as a fallback GPU may run it.
    let too_little =
        1.5 * priced.price_per_hour_usd * podwarden_api::BUDGET_LOOKAHEAD_MS as f64 / 3.6e6;
    if e.budget_usd <= too_little {
        tell(app, chat, &format!("Your spend cap is used up ({} committed). Ask the operator to raise it, or train locally for free.", usd(compute.hosted_committed_usd))).await?;
        *d = Draft::default();
        return Ok(());
    }
    let capped = if left.is_some_and(|l| l < 3.0 * e.cost_usd) {
        format!(
            "\n⚠️ Only {} is left of your spend cap: the run stops if it reaches that.",
            usd(e.budget_usd)
        )
    } else {
        String::new()
    };
    let q = format!(
        "🎯 Training configuration\nGPU: {} ({} GB, {} Cloud at {}/h)\nDataset: {} ({:.1} MB, {} rows)\nModel: {}\nEst. time: {}\nEst. cost: {} (billed per second; stopped at {} at most){capped}\n\nProceed with cloud training?",
        text::gpu_name(&g.gpu_type),
        g.vram_gb,
        if priced.cloud == "secure" { "Secure" } else { "Community" },
        usd(priced.price_per_hour_usd),
        data.name,
        data.size_mb(),
        data.rows,
        model.name().replace('_', " "),
        text::duration(e.secs),
        usd(e.cost_usd),
        usd(e.budget_usd),
    );
    let keys = vec![vec![
        ("✅ Train".to_owned(), "c:yes".to_owned()),
        ("✖️ Cancel".to_owned(), "c:no".to_owned()),
    ]];
    let (training, on_volume) = picked.training();
    d.step = Step::Confirm(CloudTraining {
        training,
        on_volume,
        data_center,
        gpu: g,
        fallbacks,
        estimate: e,
    });
    ask(app, chat, d, &q, Some(&keys)).await
}
