//! A local fake of Telegram's Bot API, as strict as the real one where a bot can trip: the
//! token in the path, `getUpdates` long polling with offsets, `sendMessage` and
//! `editMessageText` (4,096 characters at most, "message is not modified" when an edit
//! changes nothing), inline keyboards (callback data of 1–64 bytes), `sendDocument`
//! (multipart), `getFile` and file downloads under `/file/bot<token>/`,
//! `answerCallbackQuery`; an unknown method is a 404 as on Telegram. Tests play the users
//! (`send_text`, `send_document`, `press`), read what the bot did (`wait_for`, `message`),
//! and make Telegram fail (`fail_next`: a 429 with `retry_after`, or a 500).
//!
//! Sources: <https://core.telegram.org/bots/api> (methods, limits, error shapes).

use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The bot's own user id.
pub const BOT_ID: i64 = 777_000;

/// One Bot API call the bot made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// The parameters (multipart text fields as strings, JSON-decoded where they are JSON).
    pub params: Value,
    /// A sent document's bytes and file name.
    pub document: Option<(String, Vec<u8>)>,
    /// What the fake answered: `true` for success.
    pub ok: bool,
}

/// A message in a chat, as it stands now (after edits).
#[derive(Debug, Clone)]
pub struct Msg {
    pub id: i64,
    pub chat: i64,
    pub from_bot: bool,
    pub text: String,
    /// Callback data of the inline keyboard's buttons, row by row, with their labels.
    pub buttons: Buttons,
    /// How many times the bot edited it.
    pub edits: usize,
    pub document: Option<(String, Vec<u8>)>,
}

/// How a call fails.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// 429 Too Many Requests with `parameters.retry_after` seconds.
    RetryAfter(u32),
    /// 500 Internal Server Error.
    Internal,
}

#[derive(Default)]
struct World {
    next_update: i64,
    updates: VecDeque<Value>,
    calls: Vec<Call>,
    messages: BTreeMap<i64, Msg>,
    next_message: i64,
    files: BTreeMap<String, (String, Vec<u8>)>,
    faults: BTreeMap<String, VecDeque<Failure>>,
}

impl World {
    /// Stores a new message; its id.
    fn add_message(
        &mut self,
        chat: i64,
        from_bot: bool,
        text: String,
        buttons: Buttons,
        document: Option<(String, Vec<u8>)>,
    ) -> i64 {
        let id = self.next_message;
        self.next_message += 1;
        self.messages.insert(id, Msg { id, chat, from_bot, text, buttons, edits: 0, document });
        id
    }
}

/// A private chat with `id`, as Telegram describes it in a message.
fn private_chat(id: i64) -> Value {
    json!({"id": id, "type": "private", "first_name": format!("user{id}")})
}

struct Shared {
    token: String,
    world: Mutex<World>,
    /// Woken when an update is queued (for long polls) and when the bot calls (for tests).
    updated: Notify,
    called: Notify,
}

/// A running fake.
#[derive(Clone)]
pub struct FakeTelegram {
    /// What the bot's API URL is set to (`Bot::set_api_url`).
    pub url: String,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeTelegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTelegram").field("url", &self.url).finish_non_exhaustive()
    }
}

impl FakeTelegram {
    /// Serves the fake for a bot with `token` on an ephemeral port.
    pub async fn start(token: &str) -> Self {
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            world: Mutex::new(World { next_update: 1, next_message: 1, ..Default::default() }),
            updated: Notify::new(),
            called: Notify::new(),
        });
        let app = Router::new()
            .route("/{bot}/{method}", post(api).get(api_get))
            .route("/file/{bot}/{*path}", get(file))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, shared }
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.shared.world.lock().expect("fake telegram state")
    }

    fn push_update(&self, kind: &str, body: Value) {
        let mut w = self.world();
        let id = w.next_update;
        w.next_update += 1;
        w.updates.push_back(json!({"update_id": id, kind: body}));
        drop(w);
        self.shared.updated.notify_waiters();
    }

    fn user(user: i64) -> Value {
        json!({"id": user, "is_bot": false, "first_name": format!("user{user}"), "language_code": "en"})
    }

    fn user_message(&self, user: i64, extra: Value) -> i64 {
        let text = extra["text"].as_str().unwrap_or_default().to_owned();
        let id = self.world().add_message(user, false, text, Vec::new(), None);
        let mut m = json!({
            "message_id": id,
            "date": 1_700_000_000,
            "chat": private_chat(user),
            "from": Self::user(user),
        });
        for (k, v) in extra.as_object().expect("object") {
            m[k] = v.clone();
        }
        self.push_update("message", m);
        id
    }

    /// `user` sends `text` in their private chat with the bot; the message's id.
    pub fn send_text(&self, user: i64, text: &str) -> i64 {
        let mut extra = json!({ "text": text });
        if let Some(cmd) = text.split_whitespace().next().filter(|w| w.starts_with('/')) {
            extra["entities"] =
                json!([{"type": "bot_command", "offset": 0, "length": cmd.encode_utf16().count()}]);
        }
        self.user_message(user, extra)
    }

    /// `user` sends a file as a document.
    pub fn send_document(&self, user: i64, file_name: &str, mime: &str, bytes: &[u8]) -> i64 {
        let file_id = format!("file-{}-{}", user, self.world().files.len() + 1);
        let size = bytes.len();
        self.world()
            .files
            .insert(file_id.clone(), (format!("documents/{file_name}"), bytes.to_vec()));
        self.user_message(
            user,
            json!({"document": {
                "file_id": file_id, "file_unique_id": format!("u{file_id}"),
                "file_name": file_name, "mime_type": mime, "file_size": size,
            }}),
        )
    }

    /// `user` presses the button with `data` under the bot's message `message_id`.
    pub fn press(&self, user: i64, message_id: i64, data: &str) {
        let text = self.message(message_id).map(|m| m.text).unwrap_or_default();
        let id = format!("cb-{}", self.world().next_update);
        self.push_update(
            "callback_query",
            json!({
                "id": id,
                "from": Self::user(user),
                "chat_instance": format!("ci-{user}"),
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": 1_700_000_000,
                    "chat": private_chat(user),
                    "from": {"id": BOT_ID, "is_bot": true, "first_name": "podwarden", "username": "podwarden_bot"},
                    "text": text,
                },
            }),
        );
    }

    /// The next `n` calls of `method` fail as `how`.
    pub fn fail_next(&self, method: &str, n: usize, how: Failure) {
        self.world().faults.entry(method.to_owned()).or_default().extend((0..n).map(|_| how));
    }

    /// The person deletes a message (later edits of it fail as on Telegram).
    pub fn delete(&self, id: i64) {
        self.world().messages.remove(&id);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.world().calls.clone()
    }

    /// A message as it stands.
    pub fn message(&self, id: i64) -> Option<Msg> {
        self.world().messages.get(&id).cloned()
    }

    /// The bot's messages in `chat`, oldest first.
    pub fn bot_messages(&self, chat: i64) -> Vec<Msg> {
        self.world().messages.values().filter(|m| m.chat == chat && m.from_bot).cloned().collect()
    }

    /// Waits (up to `within`) until `found` picks something out of the bot's messages in
    /// `chat`; panics naming `what` and listing the chat otherwise. Woken by the bot's calls,
    /// never by sleeping.
    pub async fn wait_for<T>(
        &self,
        chat: i64,
        what: &str,
        within: Duration,
        mut found: impl FnMut(&[Msg]) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let called = self.shared.called.notified();
            tokio::pin!(called);
            called.as_mut().enable();
            if let Some(t) = found(&self.bot_messages(chat)) {
                return t;
            }
            if tokio::time::timeout_at(deadline, called).await.is_err() {
                let chat: Vec<String> = self
                    .bot_messages(chat)
                    .iter()
                    .map(|m| format!("#{} {:?} {:?}", m.id, m.text, m.buttons))
                    .collect();
                panic!("no {what} within {within:?}; the bot's messages:\n{}", chat.join("\n"));
            }
        }
    }

    /// Waits for a bot message (new or edited) whose text contains `needle`; it.
    pub async fn wait_text(&self, chat: i64, needle: &str, within: Duration) -> Msg {
        self.wait_for(chat, &format!("message containing {needle:?}"), within, |ms| {
            ms.iter().rev().find(|m| m.text.contains(needle)).cloned()
        })
        .await
    }
}

fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

fn error(status: StatusCode, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    (status, Json(body)).into_response()
}

async fn api_get(
    State(s): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
) -> Response {
    call(s, bot, method, Value::Object(Default::default()), None).await
}

async fn api(
    State(s): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ctype = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if ctype.starts_with("multipart/form-data") {
        let req = axum::http::Request::builder()
            .header(axum::http::header::CONTENT_TYPE, ctype)
            .body(axum::body::Body::from(body))
            .expect("request");
        let Ok(mut form) =
            <Multipart as axum::extract::FromRequest<()>>::from_request(req, &()).await
        else {
            return error(StatusCode::BAD_REQUEST, "Bad Request: invalid multipart body", None);
        };
        let mut params = serde_json::Map::new();
        let mut document = None;
        while let Ok(Some(field)) = form.next_field().await {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let Ok(bytes) = field.bytes().await else {
                return error(StatusCode::BAD_REQUEST, "Bad Request: unreadable part", None);
            };
            match file_name {
                Some(f) => document = Some((f, bytes.to_vec())),
                None => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    params.insert(name, v);
                }
            }
        }
        return call(s, bot, method, Value::Object(params), document).await;
    }
    let params = if body.is_empty() {
        Value::Object(Default::default())
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return error(StatusCode::BAD_REQUEST, "Bad Request: invalid JSON", None),
        }
    };
    call(s, bot, method, params, None).await
}

async fn file(State(s): State<Arc<Shared>>, Path((bot, path)): Path<(String, String)>) -> Response {
    if bot != format!("bot{}", s.token) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    let w = s.world.lock().expect("state");
    match w.files.values().find(|(p, _)| *p == path) {
        Some((_, bytes)) => bytes.clone().into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found", None),
    }
}

/// The methods the fake answers, by their documented names.
const METHODS: &[&str] = &[
    "getUpdates",
    "getMe",
    "getWebhookInfo",
    "deleteWebhook",
    "setMyCommands",
    "answerCallbackQuery",
    "sendMessage",
    "sendDocument",
    "editMessageText",
    "editMessageReplyMarkup",
    "getFile",
];

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "podwarden", "username": "podwarden_bot"})
}

/// Checks a text and keyboard as Telegram does; the buttons.
/// Button callback data with labels.
type Buttons = Vec<(String, String)>;

fn check_message(params: &Value) -> Result<(String, Buttons), &'static str> {
    let text = params["text"].as_str().or(params["caption"].as_str()).unwrap_or_default();
    if text.chars().count() > 4096 {
        return Err("Bad Request: message is too long");
    }
    let mut buttons = Vec::new();
    if let Some(rows) = params["reply_markup"]["inline_keyboard"].as_array() {
        for b in rows.iter().flat_map(|r| r.as_array().cloned().unwrap_or_default()) {
            let data = b["callback_data"].as_str().unwrap_or_default();
            if data.is_empty() || data.len() > 64 {
                return Err("Bad Request: BUTTON_DATA_INVALID");
            }
            buttons.push((data.to_owned(), b["text"].as_str().unwrap_or_default().to_owned()));
        }
    }
    Ok((text.to_owned(), buttons))
}

async fn call(
    s: Arc<Shared>,
    bot: String,
    method: String,
    params: Value,
    document: Option<(String, Vec<u8>)>,
) -> Response {
    if bot != format!("bot{}", s.token) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    // Telegram's method names are case-insensitive; calls are recorded by their documented name.
    let method = METHODS
        .iter()
        .find(|m| m.eq_ignore_ascii_case(&method))
        .map_or(method, |m| (*m).to_owned());
    if method == "getUpdates" {
        return get_updates(&s, &params).await;
    }
    let answer = {
        let mut w = s.world.lock().expect("state");
        let fault = w.faults.get_mut(&method).and_then(VecDeque::pop_front);
        let answer = match fault {
            Some(Failure::RetryAfter(secs)) => Err(error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too Many Requests: retry after {secs}"),
                Some(json!({"retry_after": secs})),
            )),
            Some(Failure::Internal) => {
                Err(error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", None))
            }
            None => answer(&mut w, &method, &params, document.clone()),
        };
        w.calls.push(Call { method, params, document, ok: answer.is_ok() });
        answer
    };
    s.called.notify_waiters();
    answer.unwrap_or_else(|e| e)
}

/// The answer to a call, or the error Telegram would give (already a response).
#[allow(clippy::result_large_err)]
fn answer(
    w: &mut World,
    method: &str,
    params: &Value,
    document: Option<(String, Vec<u8>)>,
) -> Result<Response, Response> {
    let bad = |d: &str| error(StatusCode::BAD_REQUEST, d, None);
    match method {
        "getMe" => Ok(ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "podwarden", "username": "podwarden_bot",
            "can_join_groups": false, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "has_main_web_app": false,
        }))),
        "getWebhookInfo" => {
            Ok(ok(json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0})))
        }
        "deleteWebhook" => Ok(ok(json!(true))),
        "setMyCommands" => {
            // Telegram: 1–32 lowercase letters, digits and underscores; descriptions 1–256.
            let ok_cmd = |c: &Value| {
                let name = c["command"].as_str().unwrap_or_default();
                let desc = c["description"].as_str().unwrap_or_default();
                (1..=32).contains(&name.len())
                    && name
                        .chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
                    && (1..=256).contains(&desc.chars().count())
            };
            match params["commands"].as_array() {
                Some(cs) if cs.len() <= 100 && cs.iter().all(ok_cmd) => Ok(ok(json!(true))),
                _ => Err(bad("Bad Request: BOT_COMMAND_INVALID")),
            }
        }
        "answerCallbackQuery" => {
            if params["callback_query_id"].as_str().is_none_or(str::is_empty) {
                return Err(bad("Bad Request: query is too old or query ID is invalid"));
            }
            Ok(ok(json!(true)))
        }
        "sendMessage" | "sendDocument" => {
            let chat =
                params["chat_id"].as_i64().ok_or_else(|| bad("Bad Request: chat not found"))?;
            let (text, buttons) = check_message(params).map_err(bad)?;
            if method == "sendMessage" && text.trim().is_empty() {
                return Err(bad("Bad Request: message text is empty"));
            }
            if method == "sendDocument" && document.is_none() {
                return Err(bad("Bad Request: there is no document in the request"));
            }
            let id = w.add_message(chat, true, text.clone(), buttons, document.clone());
            let mut m = json!({
                "message_id": id, "date": 1_700_000_000,
                "chat": private_chat(chat),
                "from": bot_user(),
            });
            match &document {
                Some((name, bytes)) => {
                    m["document"] = json!({"file_id": format!("sent-{id}"), "file_unique_id": format!("usent-{id}"), "file_name": name, "file_size": bytes.len()});
                    if !text.is_empty() {
                        m["caption"] = json!(text);
                    }
                }
                None => m["text"] = json!(text),
            }
            Ok(ok(m))
        }
        "editMessageText" | "editMessageReplyMarkup" => {
            let chat =
                params["chat_id"].as_i64().ok_or_else(|| bad("Bad Request: chat not found"))?;
            let id = params["message_id"]
                .as_i64()
                .ok_or_else(|| bad("Bad Request: message identifier is not specified"))?;
            let (mut text, buttons) = check_message(params).map_err(bad)?;
            let Some(m) = w.messages.get_mut(&id).filter(|m| m.chat == chat && m.from_bot) else {
                return Err(bad("Bad Request: message to edit not found"));
            };
            if method == "editMessageReplyMarkup" {
                text = m.text.clone();
            } else if text.trim().is_empty() {
                return Err(bad("Bad Request: message text is empty"));
            }
            if m.text == text && m.buttons == buttons {
                return Err(bad(
                    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
                ));
            }
            m.text = text.clone();
            m.buttons = buttons;
            m.edits += 1;
            Ok(ok(json!({
                "message_id": id, "date": 1_700_000_000, "edit_date": 1_700_000_001,
                "chat": private_chat(chat),
                "from": bot_user(), "text": text,
            })))
        }
        "getFile" => {
            let id = params["file_id"].as_str().unwrap_or_default();
            match w.files.get(id) {
                Some((path, bytes)) => Ok(ok(json!({
                    "file_id": id, "file_unique_id": format!("u{id}"),
                    "file_size": bytes.len(), "file_path": path,
                }))),
                None => Err(bad("Bad Request: invalid file_id")),
            }
        }
        _ => Err(error(StatusCode::NOT_FOUND, "Not Found: method not found", None)),
    }
}

async fn get_updates(s: &Shared, params: &Value) -> Response {
    let offset = params["offset"].as_i64().unwrap_or(0);
    // Telegram holds a long poll up to `timeout` seconds; capped so a finished test ends.
    let wait = Duration::from_secs(params["timeout"].as_u64().unwrap_or(0).min(5));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let updated = s.updated.notified();
        tokio::pin!(updated);
        updated.as_mut().enable();
        {
            let mut w = s.world.lock().expect("state");
            // Confirmed updates (below the offset) are forgotten, as on Telegram.
            while w.updates.front().is_some_and(|u| u["update_id"].as_i64() < Some(offset)) {
                w.updates.pop_front();
            }
            if !w.updates.is_empty() || wait.is_zero() {
                let limit = params["limit"].as_u64().unwrap_or(100) as usize;
                let batch: Vec<Value> = w.updates.iter().take(limit).cloned().collect();
                return ok(Value::Array(batch));
            }
        }
        if tokio::time::timeout_at(deadline, updated).await.is_err() {
            return ok(json!([]));
        }
    }
}
