//! The conversations: one draft per chat, moved along by messages and button presses.
//!
//! Train: CSV → target → features → model → cloud or local → (cloud) GPU → estimate and
//! confirm → the run (`train`). Predict: CSV → model → the run (`predict`). Each question is a
//! "panel" message with buttons; a press on an older panel is answered "that question is
//! closed", so a stale button never starts anything. Runs go on in their own tasks, so
//! `/stop`, `/jobs` and new questions are answered while a pod trains.
//!
//! Here: the draft's steps, the handlers of messages and presses, and the moves between steps;
//! `questions` asks each question, `commands` answers the commands outside a draft.
//!
//! Invariants: nothing is created on podwarden before the person confirms the estimate (or
//! picks local); a person without an account gets only the invite prompt.

use crate::App;
use crate::accounts::{Account, ModelRecord};
use crate::plan::{self, Dataset};
use crate::telegram::Keyboard;
use crate::text::{self, short, usd};
use crate::train::{CloudTraining, Training};
use podwarden_api::types::ErrorCode;
use podwarden_api::types::GpuRow;
use podwarden_tabular::model::ModelKind;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use teloxide::prelude::*;
use teloxide::types::MessageId;

mod commands;
mod questions;

use commands::{cost, jobs, models, sign_up, stop};
use questions::{
    Offered, ask_features, ask_gpu, ask_model, ask_target, check_features_then_model, confirm,
};

/// What `/train` or `/predict` asked for before the file came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    Train,
    Predict,
}

/// A chat's half-asked run: the question on screen, and the answers so far.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    step: Step,
    /// What `/train` or `/predict` asked for: a new file keeps it.
    intent: Option<Intent>,
    /// The message whose buttons answer the current question.
    panel: Option<MessageId>,
}

/// Where a chat's draft stands; each step holds exactly the answers given before it, so no
/// step can find one missing.
#[derive(Debug, Default)]
enum Step {
    #[default]
    Idle,
    /// A CSV came without /train or /predict: which one?
    Action(Source),
    Target(Source),
    /// The features proposed (every other column) or typed, to confirm.
    Features(Chosen),
    Model(Chosen),
    Where(Picked),
    Gpu {
        picked: Picked,
        data_center: String,
        offers: Vec<GpuRow>,
    },
    Confirm(CloudTraining),
    PickModel(Dataset),
}

/// The data to train on.
#[derive(Debug)]
struct Source {
    data: Dataset,
    /// Set when the CSV is already on the person's volume (`/train FILE`): its key.
    on_volume: Option<String>,
}

/// The data, what to predict and from which columns.
#[derive(Debug)]
struct Chosen {
    source: Source,
    target: String,
    features: Vec<String>,
}

/// Every answer a local run needs.
#[derive(Debug)]
struct Picked {
    chosen: Chosen,
    model: ModelKind,
}

impl Picked {
    /// The run the answers make, and where its CSV already is.
    fn training(self) -> (Training, Option<String>) {
        let Chosen { source, target, features } = self.chosen;
        (Training { data: source.data, target, features, model: self.model }, source.on_volume)
    }
}

/// Every chat's draft.
#[derive(Default)]
pub(crate) struct Chats(Mutex<HashMap<ChatId, Draft>>);

impl Chats {
    fn take(&self, chat: ChatId) -> Draft {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&chat)
            .unwrap_or_default()
    }

    fn put(&self, chat: ChatId, d: Draft) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(chat, d);
    }
}

type HandlerResult = anyhow::Result<()>;

/// Says `text` in `chat` (no buttons).
async fn tell(app: &App, chat: ChatId, text: &str) -> HandlerResult {
    app.tg.say(chat, text, None).await?;
    Ok(())
}

/// A step that failed: logged, and told to the person in a sentence.
async fn failed(app: &App, chat: ChatId, e: &anyhow::Error) {
    tracing::warn!(error = %format!("{e:#}"), "a conversation step failed");
    let _ = app.tg.say(chat, &format!("Something went wrong: {}", short(e)), None).await;
}

/// A message: a command, a file, or an answer typed to the current question.
pub(crate) async fn on_message(app: Arc<App>, msg: Message) -> HandlerResult {
    let chat = msg.chat.id;
    let Some(from) = msg.from.as_ref() else { return Ok(()) };
    let tg = from.id.0 as i64;
    let text = msg.text().unwrap_or_default().trim().to_owned();
    let (cmd, arg) = match text.strip_prefix('/') {
        Some(rest) => {
            let (c, a) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            // `/start@podwarden_bot` in groups.
            (Some(c.split('@').next().unwrap_or(c).to_ascii_lowercase()), a.trim().to_owned())
        }
        None => (None, String::new()),
    };
    let Some(acct) = app.accounts.get(tg) else {
        let code = match cmd.as_deref() {
            Some("start") => arg,
            None if text.starts_with("pwi_") => text.clone(),
            _ => String::new(),
        };
        if code.is_empty() {
            tell(&app, chat, text::NEED_INVITE).await?;
        } else {
            sign_up(&app, chat, tg, &code).await?;
        }
        return Ok(());
    };
    let result = match cmd.as_deref() {
        Some("start") | Some("help") => tell(&app, chat, text::HELP).await,
        Some("cancel") => {
            let d = reset(&app, chat).await;
            let what = if matches!(d.step, Step::Idle) {
                "There was nothing to cancel."
            } else {
                "Cancelled; nothing was started."
            };
            tell(&app, chat, what).await
        }
        Some("jobs") => jobs(&app, chat, &acct).await,
        Some("cost") => cost(&app, chat, &acct).await,
        Some("stop") => stop(&app, chat, &acct, &arg).await,
        Some("models") => models(&app, chat, &acct).await,
        Some("train") if !arg.is_empty() => {
            reset(&app, chat).await;
            train_from_volume(&app, chat, &acct, &arg).await
        }
        Some("train") => {
            reset(&app, chat).await;
            app.chats.put(chat, Draft { intent: Some(Intent::Train), ..Draft::default() });
            tell(&app, chat, "Send me the CSV file to train on.").await
        }
        Some("predict") => {
            if acct.models.is_empty() {
                tell(&app, chat, "You have no models yet: send a CSV to train one first.").await?;
            } else {
                reset(&app, chat).await;
                app.chats.put(chat, Draft { intent: Some(Intent::Predict), ..Draft::default() });
                tell(
                    &app,
                    chat,
                    "Send me the CSV file to predict (with the model's feature columns).",
                )
                .await?;
            }
            Ok(())
        }
        Some(_) => tell(&app, chat, text::NOT_UNDERSTOOD).await,
        None => match msg.document() {
            Some(doc) => on_file(&app, chat, &acct, doc).await,
            None => on_text(&app, chat, &text).await,
        },
    };
    if let Err(e) = result {
        failed(&app, chat, &e).await;
    }
    Ok(())
}

/// Forgets the chat's draft and takes its question's buttons away; the draft.
async fn reset(app: &App, chat: ChatId) -> Draft {
    let d = app.chats.take(chat);
    if let Some(p) = d.panel {
        if let Err(e) = app.tg.close(chat, p).await {
            tracing::warn!(error = %e, "cannot close a question");
        }
    }
    d
}

async fn on_file(
    app: &App,
    chat: ChatId,
    acct: &Account,
    doc: &teloxide::types::Document,
) -> HandlerResult {
    let name = doc.file_name.clone().unwrap_or_else(|| "data.csv".into());
    // Refused before downloading anything.
    if let Some(why) = plan::refused(&name, doc.file.size as usize) {
        tell(app, chat, &why).await?;
        return Ok(());
    }
    let bytes = app.tg.download(&doc.file).await?;
    let data = match Dataset::read(&name, bytes) {
        Ok(d) => d,
        Err(why) => {
            tell(app, chat, &why).await?;
            return Ok(());
        }
    };
    let prior = app.chats.take(chat);
    // A new file replaces a half-answered question (its buttons go in `ask`).
    let mut d = Draft { intent: prior.intent, panel: prior.panel, ..Draft::default() };
    let source = Source { data, on_volume: None };
    let r = match d.intent {
        Some(Intent::Train) => ask_target(app, chat, &mut d, source).await,
        Some(Intent::Predict) => ask_model(app, chat, acct, &mut d, source.data).await,
        None => {
            let data = &source.data;
            let q = format!(
                "{}: {} rows, {} columns ({}). Train a new model on it, or predict with one of yours?",
                data.name,
                data.rows,
                data.header.len(),
                data.header.join(", ")
            );
            let keys = vec![vec![
                ("📈 Train a model".to_owned(), "a:train".to_owned()),
                ("🔮 Predict".to_owned(), "a:predict".to_owned()),
            ]];
            d.step = Step::Action(source);
            ask(app, chat, &mut d, &q, Some(&keys)).await
        }
    };
    app.chats.put(chat, d);
    r
}

/// `/train FILE`: a CSV already on the person's volume.
async fn train_from_volume(app: &App, chat: ChatId, acct: &Account, file: &str) -> HandlerResult {
    let c = app.client(&acct.token)?;
    let key = if file.contains('/') {
        file.to_owned()
    } else {
        podwarden_tabular::storage::dataset_key(&acct.user_id, file)
    };
    let bytes = match crate::podwarden::get(&c, &key).await {
        Ok(b) => b,
        Err(e) => {
            tell(
                app,
                chat,
                &format!(
                    "I cannot read {key} on your volume {}: {}",
                    crate::podwarden::VOLUME,
                    short(&e)
                ),
            )
            .await?;
            return Ok(());
        }
    };
    let name = key.rsplit('/').next().unwrap_or(&key).to_owned();
    match Dataset::read(&name, bytes) {
        Ok(data) => {
            let mut d = Draft::default();
            let r = ask_target(app, chat, &mut d, Source { data, on_volume: Some(key) }).await;
            app.chats.put(chat, d);
            r?;
        }
        Err(why) => {
            tell(app, chat, &why).await?;
        }
    }
    Ok(())
}

/// A typed answer: a target column's name, or the features.
async fn on_text(app: &App, chat: ChatId, text: &str) -> HandlerResult {
    let mut d = app.chats.take(chat);
    let r = typed(app, chat, &mut d, text).await;
    app.chats.put(chat, d);
    r
}

async fn typed(app: &App, chat: ChatId, d: &mut Draft, text: &str) -> HandlerResult {
    match std::mem::take(&mut d.step) {
        Step::Target(source) => {
            if source.data.header.iter().any(|h| h == text) {
                return ask_features(app, chat, d, source, text.to_owned()).await;
            }
            let data = &source.data;
            let q = format!(
                "There is no column \"{text}\" in {}. Its columns are: {}. Which one should the model predict?",
                data.name,
                data.header.join(", ")
            );
            let keys = target_keys(data);
            d.step = Step::Target(source);
            ask(app, chat, d, &q, Some(&keys)).await
        }
        Step::Features(mut c) => {
            let (data, target) = (&c.source.data, &c.target);
            let chosen: Vec<String> =
                text.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            let unknown: Vec<&String> =
                chosen.iter().filter(|c| !data.header.contains(c)).collect();
            if chosen.is_empty() || !unknown.is_empty() || chosen.contains(target) {
                let why = if chosen.contains(target) {
                    format!("{target} is what the model predicts; it cannot also be a feature.")
                } else {
                    format!("{} has no column {:?}.", data.name, unknown)
                };
                let say = format!(
                    "{why} Send column names separated by commas (columns: {}), or press \"use all\".",
                    data.header.join(", ")
                );
                d.step = Step::Features(c);
                tell(app, chat, &say).await
            } else {
                c.features = chosen;
                check_features_then_model(app, chat, d, c).await
            }
        }
        Step::Idle => tell(app, chat, text::NOT_UNDERSTOOD).await,
        other => {
            d.step = other;
            tell(app, chat, "Please answer with the buttons above, or /cancel.").await
        }
    }
}

/// Asks a question with buttons: the previous question's buttons go, so only the current one
/// can be answered.
async fn ask(
    app: &App,
    chat: ChatId,
    d: &mut Draft,
    q: &str,
    keys: Option<&Keyboard>,
) -> HandlerResult {
    if let Some(old) = d.panel.take() {
        app.tg.close(chat, old).await?;
    }
    d.panel = Some(app.tg.say(chat, q, keys).await?);
    Ok(())
}

/// Buttons laid out `per_row` to a row.
fn grid(buttons: Vec<(String, String)>, per_row: usize) -> Keyboard {
    buttons.chunks(per_row).map(<[_]>::to_vec).collect()
}

fn target_keys(data: &Dataset) -> Keyboard {
    grid(data.header.iter().enumerate().map(|(i, h)| (h.clone(), format!("t:{i}"))).collect(), 3)
}

/// A button press.
pub(crate) async fn on_callback(app: Arc<App>, q: CallbackQuery) -> HandlerResult {
    let Some(m) = q.message.as_ref() else { return Ok(()) };
    let chat = m.chat().id;
    let tg = q.from.id.0 as i64;
    let Some(acct) = app.accounts.get(tg) else {
        app.tg.ack(&q, Some("Send /start CODE first")).await;
        return Ok(());
    };
    let data = q.data.clone().unwrap_or_default();
    let mut d = app.chats.take(chat);
    if d.panel != Some(m.id()) {
        app.chats.put(chat, d);
        app.tg.ack(&q, Some("That question is closed; send a CSV to start again")).await;
        return Ok(());
    }
    app.tg.ack(&q, None).await;
    let result = press(&app, chat, &acct, &mut d, &data).await;
    app.chats.put(chat, d);
    if let Err(e) = result {
        failed(&app, chat, &e).await;
    }
    Ok(())
}

/// Closes the current panel with what was chosen.
async fn answered(app: &App, chat: ChatId, d: &mut Draft, what: &str) -> HandlerResult {
    if let Some(p) = d.panel.take() {
        app.tg.edit(chat, p, what, None).await?;
    }
    Ok(())
}

async fn press(
    app: &Arc<App>,
    chat: ChatId,
    acct: &Account,
    d: &mut Draft,
    data: &str,
) -> HandlerResult {
    let (kind, value) = data.split_once(':').unwrap_or((data, ""));
    let index = value.parse::<usize>().ok();
    match (std::mem::take(&mut d.step), kind) {
        (Step::Action(source), "a") => {
            if value == "predict" {
                answered(app, chat, d, "Predict with one of your models.").await?;
                ask_model(app, chat, acct, d, source.data).await
            } else {
                answered(app, chat, d, "Train a new model.").await?;
                ask_target(app, chat, d, source).await
            }
        }
        (Step::Target(source), "t") => {
            let Some(t) = index.and_then(|i| source.data.header.get(i)).cloned() else {
                d.step = Step::Target(source);
                return Ok(());
            };
            answered(app, chat, d, &format!("Target: {t}")).await?;
            ask_features(app, chat, d, source, t).await
        }
        (Step::Features(c), "f") => {
            answered(app, chat, d, &format!("Features: {}", c.features.join(", "))).await?;
            check_features_then_model(app, chat, d, c).await
        }
        (Step::Model(chosen), "m") => {
            let Ok(model) = ModelKind::parse(value) else {
                d.step = Step::Model(chosen);
                return Ok(());
            };
            answered(app, chat, d, &format!("Model: {}", model.name().replace('_', " "))).await?;
            let keys = vec![
                vec![(
                    "☁️ Cloud: RunPod GPU pod (paid, billed per second)".to_owned(),
                    "w:cloud".to_owned(),
                )],
                vec![("💻 Local: the bot's server (free)".to_owned(), "w:local".to_owned())],
            ];
            d.step = Step::Where(Picked { chosen, model });
            ask(app, chat, d, "Where should it train?", Some(&keys)).await
        }
        (Step::Where(picked), "w") if value == "local" => {
            answered(app, chat, d, "Training locally, on the bot's server.").await?;
            *d = Draft::default();
            crate::train::start_local(app, chat, acct.clone(), picked.training().0).await
        }
        (Step::Where(picked), "w") => {
            answered(app, chat, d, "Training in the cloud, on a RunPod GPU pod.").await?;
            ask_gpu(app, chat, acct, d, picked).await
        }
        (Step::Gpu { picked, data_center, offers }, "g") => {
            let Some(g) = index.and_then(|i| offers.get(i)).cloned() else {
                d.step = Step::Gpu { picked, data_center, offers };
                return Ok(());
            };
            answered(
                app,
                chat,
                d,
                &format!(
                    "GPU: {} ({} GB, {}/h)",
                    text::gpu_name(&g.gpu_type),
                    g.vram_gb,
                    usd(g.price_per_hour_usd)
                ),
            )
            .await?;
            confirm(app, chat, acct, d, Offered { picked, data_center, offers }, g).await
        }
        (Step::Confirm(run), "c") if value == "yes" => {
            answered(app, chat, d, "Confirmed.").await?;
            *d = Draft::default();
            crate::train::start_cloud(app, chat, acct.clone(), run).await
        }
        (Step::Confirm(_), "c") => {
            answered(app, chat, d, "Cancelled: no pod was started and nothing was billed.").await?;
            *d = Draft::default();
            Ok(())
        }
        (Step::PickModel(data), "p") => {
            let Some(m) = index.and_then(|i| acct.models.get(i)).cloned() else {
                d.step = Step::PickModel(data);
                return Ok(());
            };
            answered(app, chat, d, &format!("Model: {} → {} ({})", m.kind, m.target, m.id)).await?;
            *d = Draft::default();
            predict_checked(app, chat, acct, data, m).await
        }
        // A press that does not answer this step (it cannot: the panel is this step's).
        (step, _) => {
            d.step = step;
            Ok(())
        }
    }
}

async fn predict_checked(
    app: &Arc<App>,
    chat: ChatId,
    acct: &Account,
    data: Dataset,
    m: ModelRecord,
) -> HandlerResult {
    let missing: Vec<&String> = m.features.iter().filter(|f| !data.header.contains(f)).collect();
    if !missing.is_empty() {
        app.tg
            .say(chat, &format!("{} lacks the column(s) {} that model {} was trained on (it needs: {}). Send a CSV with those columns.", data.name, missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "), m.id, m.features.join(", ")), None)
            .await?;
        return Ok(());
    }
    crate::predict::start(app, chat, acct.clone(), data, m).await
}
