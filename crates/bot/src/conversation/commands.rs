//! The commands outside a draft: signing up with an invite code, `/jobs`, `/cost`, `/stop`,
//! `/models`.

use super::*;

pub(super) async fn sign_up(app: &App, chat: ChatId, tg: i64, code: &str) -> HandlerResult {
    let c = app.client("")?;
    let name = format!("tg-{tg}");
    match c.redeem_invite(code, &name).await {
        Ok(t) => {
            app.accounts.insert(
                tg,
                Account {
                    telegram_id: tg,
                    user_id: t.user.id.clone(),
                    name,
                    token: t.token,
                    models: Vec::new(),
                },
            )?;
            let cap = match t.user.spend_cap_usd {
                Some(v) => {
                    format!("You may spend up to {} on GPU pods (billed per second).", usd(v))
                }
                None => {
                    "Your GPU pods have no spend cap; each run still has its own budget.".into()
                }
            };
            tell(app, chat, &format!("Welcome! {cap}\n\n{}", text::HELP)).await?;
        }
        Err(e) if e.code() == Some(ErrorCode::InvalidInvite) => {
            tell(app, chat, "That invite code is unknown, already used or expired. Ask the operator for a new one.").await?;
        }
        Err(e) if e.code() == Some(ErrorCode::Conflict) => {
            tell(app, chat, "You already have a podwarden user, but this bot lost its record of it. Ask the operator to reconnect it; your invite code is still unused.").await?;
        }
        Err(e) => {
            app.tg
                .say(chat, &format!("I could not sign you up: {}", short(&e.into())), None)
                .await?;
        }
    }
    Ok(())
}

pub(super) async fn jobs(app: &App, chat: ChatId, acct: &Account) -> HandlerResult {
    let c = app.client(&acct.token)?;
    let jobs = c.jobs(10).await?;
    let text = if jobs.is_empty() {
        "You have no GPU pod jobs yet.".to_owned()
    } else {
        let lines: Vec<String> = jobs
            .iter()
            .map(|j| {
                format!(
                    "{} · {} · {}{} · {}{}",
                    j.id,
                    j.name,
                    j.state,
                    j.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
                    usd(j.spent_usd),
                    j.gpu
                        .as_deref()
                        .map(|g| format!(" · {}", text::gpu_name(g)))
                        .unwrap_or_default()
                )
            })
            .collect();
        format!("Your recent GPU pod jobs:\n{}\n\n/stop JOB stops one.", lines.join("\n"))
    };
    tell(app, chat, &text).await?;
    Ok(())
}

pub(super) async fn cost(app: &App, chat: ChatId, acct: &Account) -> HandlerResult {
    let c = app.client(&acct.token)?;
    let r = c.cost().await?;
    let s = c.compute_settings().await?;
    let mut t = format!(
        "You have spent {} on GPU pods and serverless workers (billed per second).",
        usd(r.total_usd)
    );
    if let Some(cap) = s.spend_cap_usd {
        t.push_str(&format!(
            "\nSpend cap: {} — {} left (running jobs' budgets count as spent until they end).",
            usd(cap),
            usd((cap - s.hosted_committed_usd).max(0.0))
        ));
    }
    for (_, name, v) in r.by_job.iter().take(5) {
        t.push_str(&format!("\n• {name}: {}", usd(*v)));
    }
    if r.simulated {
        t.push_str("\n(simulated: this server runs on RunPod's emulator)");
    }
    tell(app, chat, &t).await?;
    Ok(())
}

pub(super) async fn stop(app: &App, chat: ChatId, acct: &Account, id: &str) -> HandlerResult {
    if id.is_empty() {
        tell(app, chat, "Which job? /stop JOB — /jobs lists them.").await?;
        return Ok(());
    }
    let c = app.client(&acct.token)?;
    match c.stop_job(id).await {
        Ok(j) => {
            tell(
                app,
                chat,
                &format!(
                    "Stopping {} ({}): its pod is terminated, and billing stops. Spent so far: {}.",
                    j.job.id,
                    j.job.name,
                    usd(j.job.spent_usd)
                ),
            )
            .await?;
        }
        Err(e) if e.code() == Some(ErrorCode::NotFound) => {
            tell(app, chat, &format!("You have no job {id}. /jobs lists yours.")).await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

pub(super) async fn models(app: &App, chat: ChatId, acct: &Account) -> HandlerResult {
    let text = if acct.models.is_empty() {
        "You have no models yet: send a CSV to train one.".to_owned()
    } else {
        let lines: Vec<String> = acct
            .models
            .iter()
            .rev()
            .map(|m| {
                format!(
                    "{} · {} → {} · {} = {:.4} · {}",
                    m.id,
                    m.kind,
                    m.target,
                    m.metric,
                    m.score,
                    m.place.word()
                )
            })
            .collect();
        format!("Your models (newest first):\n{}", lines.join("\n"))
    };
    tell(app, chat, &text).await?;
    Ok(())
}
