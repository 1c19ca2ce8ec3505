//! `podwarden bot` end to end: the real binary's bot against a local fake of Telegram's Bot
//! API (podwarden-test-utils' `telegram`), talking to a real `podwarden serve` on its embedded
//! emulator. Scripted conversations: sign-up with an invite, a cloud train → predict, a local
//! train → predict, and each bad input — a non-CSV file, a target the CSV does not have, a
//! cancelled confirmation, a budget reached mid-run, Telegram failing (retried), a stale button.

use crate::common;

use podwarden_test_utils::telegram::{Failure, FakeTelegram, Msg};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "123456:TEST-not-a-real-token";
const ANN: i64 = 1001;
const BOB: i64 = 1002;
const HOUSES: &[u8] = include_bytes!("../../../../examples/data/houses.csv");
const HOUSES_NEW: &[u8] = include_bytes!("../../../../examples/data/houses_new.csv");
/// Long enough for a pod to boot and train on a loaded 2-core machine.
const RUN: Duration = Duration::from_secs(240);
const ASK: Duration = Duration::from_secs(30);

/// The server and the bot for one test; the bot is killed at the end, and its log printed when
/// the test failed.
struct Setup {
    home: tempfile::TempDir,
    tg: FakeTelegram,
    bot: Child,
    env: Vec<(String, String)>,
}

impl Setup {
    /// Kills the bot (as a crash would) and starts it again on the same data.
    fn restart_bot(&mut self) {
        let _ = self.bot.kill();
        let _ = self.bot.wait();
        let env: Vec<(&str, &str)> =
            self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.bot = start_bot(self.home.path(), &env, &self.tg);
    }
}

fn start_bot(home: &Path, env: &[(&str, &str)], tg: &FakeTelegram) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.join("bot.log"))
        .expect("log");
    podwarden(home, env)
        .arg("bot")
        .env("TELEGRAM_BOT_TOKEN", TOKEN)
        .env("TELEGRAM_API_URL", &tg.url)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("bot starts")
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = self.bot.kill();
        let _ = self.bot.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.home.path().join("bot.log")).unwrap_or_default();
            eprintln!("--- bot.log ---\n{log}");
            let log =
                std::fs::read_to_string(self.home.path().join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            eprintln!(
                "--- server.log (last lines) ---\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        common::Server(self.home.path());
    }
}

fn podwarden(home: &Path, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_podwarden"));
    c.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env("PODWARDEN_HOME", home)
        .env("NO_COLOR", "1")
        .env("PODWARDEN_TICK_MS", "100")
        .env_remove("RUNPOD_API_KEY")
        .env_remove("PODWARDEN_URL");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Starts the server (through `admin invite`, which starts it) with `env`, issues one invite
/// code per entry of `invites` (with those arguments), and starts the bot against a fresh fake
/// Telegram.
async fn setup(env: &[(&str, &str)], invites: &[&[&str]]) -> (Setup, Vec<String>) {
    let home = tempfile::tempdir().expect("home");
    let mut codes = Vec::new();
    for args in invites {
        let out = podwarden(home.path(), env)
            .args(["admin", "invite"])
            .args(*args)
            .output()
            .expect("invite");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        codes.push(String::from_utf8(out.stdout).expect("utf-8").trim().to_owned());
    }
    let tg = FakeTelegram::start(TOKEN).await;
    let bot = start_bot(home.path(), env, &tg);
    let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    (Setup { home, tg, bot, env }, codes)
}

/// The newest bot message in `chat` with a button whose data starts with `prefix`.
async fn panel(tg: &FakeTelegram, chat: i64, prefix: &str) -> Msg {
    tg.wait_for(chat, &format!("a question with a {prefix} button"), ASK, |ms| {
        ms.iter().rev().find(|m| m.buttons.iter().any(|(d, _)| d.starts_with(prefix))).cloned()
    })
    .await
}

/// Presses the button whose label contains `label` (or the first with `prefix`).
async fn press(tg: &FakeTelegram, chat: i64, prefix: &str, label: Option<&str>) -> Msg {
    let m = panel(tg, chat, prefix).await;
    let (data, _) = m
        .buttons
        .iter()
        .find(|(d, l)| d.starts_with(prefix) && label.is_none_or(|x| l.contains(x)))
        .unwrap_or_else(|| panic!("no {prefix} button {label:?} in {:?}", m.buttons))
        .clone();
    tg.press(chat, m.id, &data);
    // The press closes the question: its buttons go.
    tg.wait_for(chat, "the question closed", ASK, |_| {
        tg.message(m.id).filter(|x| x.buttons.is_empty()).map(|_| ())
    })
    .await;
    m
}

async fn sign_up(tg: &FakeTelegram, chat: i64, code: &str) {
    tg.send_text(chat, &format!("/start {code}"));
    tg.wait_text(chat, "Welcome!", ASK).await;
}

/// Sends the houses CSV and answers the training questions up to "where".
async fn train_until_where(tg: &FakeTelegram, chat: i64, model: &str) {
    tg.send_document(chat, "houses.csv", "text/csv", HOUSES);
    press(tg, chat, "a:", Some("Train")).await;
    press(tg, chat, "t:", Some("price")).await;
    press(tg, chat, "f:", None).await;
    press(tg, chat, "m:", Some(model)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_up_trains_on_a_gpu_pod_and_predicts_with_bad_input_answered() {
    let (s, codes) = setup(&[("PODWARDEN_DEFAULT_SPEND_CAP_USD", "5")], &[&[]]).await;
    let tg = &s.tg;

    // Strangers get the invite prompt; a wrong code is refused; the right one signs up.
    // (By then the bot has set its command menu.)
    tg.send_text(ANN, "hello");
    tg.wait_text(ANN, "needs an invite code", ASK).await;
    tg.send_text(ANN, "/start pwi_0000");
    tg.wait_text(ANN, "unknown, already used or expired", ASK).await;
    sign_up(tg, ANN, &codes[0]).await;
    let welcome = tg.wait_text(ANN, "Welcome!", ASK).await;
    let menu = tg.calls().into_iter().find(|c| c.method == "setMyCommands").expect("a menu");
    assert!(menu.ok, "{:?}", menu.params);
    assert_eq!(menu.params["commands"].as_array().map(Vec::len), Some(8), "{:?}", menu.params);
    assert!(welcome.text.contains("$5.00"), "the operator's default cap: {}", welcome.text);
    // The code is used: someone else cannot reuse it.
    tg.send_text(BOB, &format!("/start {}", codes[0]));
    tg.wait_text(BOB, "unknown, already used or expired", ASK).await;

    // A file that is not a CSV.
    tg.send_document(ANN, "report.pdf", "application/pdf", b"%PDF-1.4 not a table");
    tg.wait_text(ANN, "report.pdf is not a CSV file", ASK).await;

    // Train: the target typed wrong first (the CSV has no such column), then picked.
    tg.send_document(ANN, "houses.csv", "text/csv", HOUSES);
    let q = panel(tg, ANN, "a:").await;
    assert!(q.text.contains("1000 rows") && q.text.contains("sqft"), "{}", q.text);
    press(tg, ANN, "a:", Some("Train")).await;
    panel(tg, ANN, "t:").await;
    tg.send_text(ANN, "prize");
    let m = tg.wait_text(ANN, "There is no column \"prize\" in houses.csv", ASK).await;
    assert!(m.text.contains("price"), "the columns are listed: {}", m.text);
    press(tg, ANN, "t:", Some("price")).await;
    let f = panel(tg, ANN, "f:").await;
    assert!(f.text.contains("sqft, bedrooms, age_years, distance_km"), "{}", f.text);
    press(tg, ANN, "f:", None).await;
    let m = panel(tg, ANN, "m:").await;
    assert!(m.text.contains("regression"), "{}", m.text);
    press(tg, ANN, "m:", Some("linear")).await;
    press(tg, ANN, "w:", Some("Cloud")).await;

    // The GPU: the seed's pick for a small dataset, with memory and live price per hour.
    let g = panel(tg, ANN, "g:").await;
    assert!(g.text.contains("Recommended GPU: RTX A5000 (24 GB VRAM"), "{}", g.text);
    assert!(g.text.contains("billed per second"), "{}", g.text);
    assert!(
        g.buttons.len() > 1
            && g.buttons.iter().all(|(_, l)| l.contains(" GB · $") && l.ends_with("/h")),
        "{:?}",
        g.buttons
    );
    assert!(g.buttons[0].1.starts_with("⭐ RTX A5000"), "{:?}", g.buttons);
    press(tg, ANN, "g:", Some("⭐")).await;

    // The estimate, then a confirmation.
    let c = panel(tg, ANN, "c:").await;
    assert!(
        c.text.contains("Est. time: 3 min") && c.text.contains("Est. cost: $0.0"),
        "{}",
        c.text
    );
    // Priced as the server prices this job (its estimate): a network volume means Secure Cloud,
    // dearer than the Community offer the GPU list shows.
    assert!(c.text.contains("(24 GB, Secure Cloud at $0.29/h)"), "{}", c.text);
    let before = tg.bot_messages(ANN).len();
    press(tg, ANN, "c:", Some("Train")).await;
    let done = tg.wait_text(ANN, "✅ Model linear-", RUN).await;
    assert!(done.text.contains("r2 = 0.9") || done.text.contains("r2 = 0.8"), "{}", done.text);
    assert!(
        done.text.contains("RTX A5000 GPU pod") && done.text.contains("Cost: $0.0"),
        "{}",
        done.text
    );
    assert!(done.edits >= 3, "one message kept updated ({} edits)", done.edits);
    assert_eq!(tg.bot_messages(ANN).len(), before + 1, "one message for the whole run");
    let model_id = done.text.split_whitespace().nth(2).expect("model id").to_owned();

    // A CSV already on the volume trains too (`/train FILE`); a missing one is named.
    tg.send_text(ANN, "/train houses.csv");
    let t = panel(tg, ANN, "t:").await;
    assert!(t.text.starts_with("houses.csv: 1000 rows"), "{}", t.text);
    tg.send_text(ANN, "/cancel");
    tg.wait_text(ANN, "Cancelled; nothing was started.", ASK).await;
    tg.send_text(ANN, "/train nope.csv");
    tg.wait_text(ANN, "nope.csv on your volume bot-data", ASK).await;

    // Predict in the cloud: the first rows in the message, the whole CSV as a document.
    tg.send_text(ANN, "/predict");
    tg.wait_text(ANN, "Send me the CSV file to predict", ASK).await;
    tg.send_document(ANN, "houses_new.csv", "text/csv", HOUSES_NEW);
    press(tg, ANN, "p:", Some(&model_id)).await;
    let p = tg.wait_text(ANN, "20 predictions of houses_new.csv", RUN).await;
    assert!(p.text.contains("sqft,bedrooms,age_years,distance_km,prediction"), "{}", p.text);
    assert!(p.text.contains("serverless, billed per second"), "{}", p.text);
    let doc = tg
        .wait_for(ANN, "the predictions document", ASK, |ms| {
            ms.iter().rev().find_map(|m| m.document.clone())
        })
        .await;
    assert_eq!(doc.0, "houses_new_predictions.csv");
    let csv = String::from_utf8(doc.1).expect("utf-8");
    assert_eq!(csv.lines().count(), 21, "{csv}");
    assert!(csv.starts_with("sqft,bedrooms,age_years,distance_km,prediction"), "{csv}");

    // A CSV without the model's columns.
    tg.send_text(ANN, "/predict");
    tg.wait_text(ANN, "Send me the CSV file to predict", ASK).await;
    tg.send_document(ANN, "other.csv", "text/csv", b"a,b\n1,2\n3,4\n");
    press(tg, ANN, "p:", Some(&model_id)).await;
    tg.wait_text(ANN, "other.csv lacks the column(s) sqft, bedrooms, age_years, distance_km", ASK)
        .await;

    // A cancelled confirmation starts nothing.
    train_until_where(tg, ANN, "linear").await;
    press(tg, ANN, "w:", Some("Cloud")).await;
    press(tg, ANN, "g:", Some("⭐")).await;
    let stale = press(tg, ANN, "c:", Some("Cancel")).await;
    tg.wait_text(ANN, "Cancelled: no pod was started", ASK).await;
    // Its button pressed again later is a closed question.
    tg.press(ANN, stale.id, "c:yes");

    // /jobs and /cost: one job, the one that trained.
    tg.send_text(ANN, "/jobs");
    let j = tg.wait_text(ANN, "Your recent GPU pod jobs", ASK).await;
    assert_eq!(j.text.matches("bot-train-linear · succeeded").count(), 1, "{}", j.text);
    tg.send_text(ANN, "/cost");
    let c = tg.wait_text(ANN, "You have spent $0.0", ASK).await;
    assert!(c.text.contains("Spend cap: $5.00"), "{}", c.text);
    tg.send_text(ANN, "/stop job_nope");
    tg.wait_text(ANN, "You have no job job_nope", ASK).await;

    // Telegram failing: a 429 with retry_after is waited out and retried; the answer arrives
    // once. (A 500 is retried too: `podwarden-bot`'s telegram tests, since teloxide itself
    // pauses 10 s on any 5xx.)
    tg.fail_next("sendMessage", 2, Failure::RetryAfter(1));
    tg.send_text(ANN, "/help");
    // The welcome held the help too: wait for a second one.
    tg.wait_for(ANN, "the /help answer", ASK, |ms| {
        (ms.iter().filter(|m| m.text.contains("/stop JOB — stop a job now")).count() == 2)
            .then_some(())
    })
    .await;
    let sends: Vec<bool> =
        tg.calls().iter().filter(|c| c.method == "sendMessage").map(|c| c.ok).collect();
    assert!(sends.windows(3).any(|w| w == [false, false, true]), "{sends:?}");

    // The stale press was answered as closed, and no second job exists.
    assert!(
        tg.calls().iter().any(|c| c.method == "answerCallbackQuery"
            && c.params["text"].as_str().is_some_and(|t| t.contains("closed"))),
        "the stale press was told the question is closed"
    );
    tg.send_text(ANN, "/jobs");
    tg.wait_for(ANN, "a second /jobs answer", ASK, |ms| {
        (ms.iter().filter(|m| m.text.contains("Your recent GPU pod jobs")).count() == 2)
            .then_some(())
    })
    .await;
    let j = tg
        .bot_messages(ANN)
        .into_iter()
        .rev()
        .find(|m| m.text.contains("Your recent GPU pod jobs"))
        .expect("jobs");
    assert_eq!(j.text.matches("bot-train-").count(), 1, "{}", j.text);

    // Neither the bot's Telegram token nor a person's podwarden token is ever logged.
    let log = std::fs::read_to_string(s.home.path().join("bot.log")).expect("bot.log");
    assert!(log.contains("retrying"), "the retries were logged: {log}");
    // A log file is plain text: no terminal colour codes.
    assert!(!log.contains('\u{1b}'), "colour codes in bot.log: {log:?}");
    assert!(!log.contains(TOKEN) && !log.contains(&TOKEN[7..]), "{log}");
    let tokens = log.match_indices("pw_").filter(|(i, _)| {
        log[i + 3..].chars().take(64).filter(char::is_ascii_hexdigit).count() == 64
    });
    assert_eq!(tokens.count(), 0, "{log}");
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_train_and_predict_cost_nothing_and_other_people_see_none_of_it() {
    let (s, codes) = setup(&[], &[&[], &[]]).await;
    let tg = &s.tg;
    sign_up(tg, ANN, &codes[0]).await;
    train_until_where(tg, ANN, "random forest regressor").await;
    press(tg, ANN, "w:", Some("Local")).await;
    let done = tg.wait_text(ANN, "✅ Model random-forest-regressor-", RUN).await;
    assert!(
        done.text.contains("trained locally") && done.text.contains("Cost: $0 (local)"),
        "{}",
        done.text
    );
    let model_id = done.text.split_whitespace().nth(2).expect("model id").to_owned();

    tg.send_text(ANN, "/predict");
    tg.wait_text(ANN, "Send me the CSV file to predict", ASK).await;
    tg.send_document(ANN, "houses_new.csv", "text/csv", HOUSES_NEW);
    press(tg, ANN, "p:", Some(&model_id)).await;
    let p = tg.wait_text(ANN, "20 predictions of houses_new.csv", RUN).await;
    assert!(p.text.contains("Cost: $0 (local)"), "{}", p.text);
    tg.wait_for(ANN, "the predictions document", ASK, |ms| {
        ms.iter().rev().find_map(|m| m.document.clone())
    })
    .await;

    // Bob has his own user: none of Ann's models or jobs.
    sign_up(tg, BOB, &codes[1]).await;
    tg.send_text(BOB, "/predict");
    tg.wait_text(BOB, "You have no models yet", ASK).await;
    tg.send_text(BOB, "/jobs");
    tg.wait_text(BOB, "You have no GPU pod jobs yet", ASK).await;
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_reaches_its_budget_is_stopped_and_the_person_is_told() {
    // Pods take 30 s to provision (billing from the start, as on RunPod), and the cap leaves
    // about 33 s of the GPU, of which the server keeps the last 15 s in hand (its budget
    // lookahead): the budget is reached before the pod can train, and what is left after is
    // too little to start another run.
    let home = tempfile::tempdir().expect("dir");
    let cfg = home.path().join("emulator.toml");
    std::fs::write(&cfg, "[pods]\nprovisioning_secs = 30.0\nstarting_secs = 1.0\n")
        .expect("config");
    let cfg = cfg.display().to_string();
    let env =
        [("PODWARDEN_DEFAULT_SPEND_CAP_USD", "0.002"), ("PODWARDEN_EMULATOR_CONFIG", cfg.as_str())];
    // Bob's invite names its own cap: enough to start, and he stops his run himself.
    let (mut s, codes) = setup(&env, &[&[], &["--spend-cap-usd", "1"]]).await;
    let tg = s.tg.clone();
    let tg = &tg;
    sign_up(tg, ANN, &codes[0]).await;
    train_until_where(tg, ANN, "linear").await;
    press(tg, ANN, "w:", Some("Cloud")).await;
    press(tg, ANN, "g:", Some("⭐")).await;
    let c = panel(tg, ANN, "c:").await;
    assert!(c.text.contains("Only $0.0020 is left of your spend cap"), "{}", c.text);
    press(tg, ANN, "c:", Some("Train")).await;
    let end = tg.wait_text(ANN, "❌ Training ended", RUN).await;
    assert!(end.text.contains("its budget of $0.0020 was reached"), "{}", end.text);
    assert!(end.text.contains("terminated the pod"), "{}", end.text);

    // The cap is used up now: the next cloud run is refused before anything starts.
    train_until_where(tg, ANN, "linear").await;
    press(tg, ANN, "w:", Some("Cloud")).await;
    press(tg, ANN, "g:", Some("⭐")).await;
    tg.wait_text(ANN, "Your spend cap is used up", ASK).await;

    // Bob's run outlives a crash of the bot: the restarted bot follows it again. He stops it
    // while its pod provisions: the pod goes, and the run's own message says so.
    sign_up(tg, BOB, &codes[1]).await;
    train_until_where(tg, BOB, "linear").await;
    press(tg, BOB, "w:", Some("Cloud")).await;
    press(tg, BOB, "g:", Some("⭐")).await;
    press(tg, BOB, "c:", Some("Train")).await;
    let run = tg.wait_text(BOB, "/stop job_", RUN).await;
    let job = run
        .text
        .split("/stop ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .expect("job id")
        .to_owned();
    s.restart_bot();
    // The old bot is gone: any further edit is the new one's.
    let edits = tg.message(run.id).expect("the run's message").edits;
    // The restarted bot has picked the run up when it edits its message again.
    tg.wait_for(BOB, "the run followed again", RUN, |_| {
        tg.message(run.id).filter(|m| m.edits > edits).map(|_| ())
    })
    .await;
    tg.send_text(BOB, &format!("/stop {job}"));
    let stopped = tg.wait_text(BOB, &format!("Stopping {job}"), ASK).await;
    assert!(stopped.text.contains("billing stops"), "{}", stopped.text);
    let end = tg.wait_text(BOB, "❌ Training ended", RUN).await;
    assert_eq!(end.id, run.id, "the run's own message concludes it");
    assert!(end.text.contains("stopped"), "{}", end.text);
    drop(home);
    drop(s);
}

#[test]
fn a_bad_default_spend_cap_or_a_missing_bot_token_is_refused_with_a_hint() {
    let home = tempfile::tempdir().expect("home");
    let out = podwarden(home.path(), &[("PODWARDEN_DEFAULT_SPEND_CAP_USD", "five")])
        .args(["serve", "--port", "0"])
        .output()
        .expect("serve");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("PODWARDEN_DEFAULT_SPEND_CAP_USD=\"five\" is not an amount in USD (e.g. 5)"),
        "{err}"
    );
    assert!(err.contains("hint: fix or unset PODWARDEN_DEFAULT_SPEND_CAP_USD"), "{err}");
    let out = podwarden(home.path(), &[])
        .env_remove("TELEGRAM_BOT_TOKEN")
        .arg("bot")
        .output()
        .expect("bot");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("TELEGRAM_BOT_TOKEN is not set") && err.contains("@BotFather"), "{err}");
    assert!(!home.path().join("server.json").exists(), "nothing was started");
}
