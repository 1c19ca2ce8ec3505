//! The bot's side of Telegram: send, edit, send a document, answer a button press, download a
//! file; each retried when Telegram says to wait (429, after its `retry_after`), fails on its
//! side (5xx) or cannot be reached, and not retried when the request itself is wrong. An edit
//! that changes nothing ("message is not modified") is not an error.

use std::time::Duration;
use teloxide::RequestError;
use teloxide::payloads::{EditMessageTextSetters, SendDocumentSetters, SendMessageSetters};
use teloxide::prelude::*;
use teloxide::requests::Request;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageId};

/// Tries per call before giving up.
const TRIES: u32 = 5;
/// Longest wait Telegram may ask for that the bot honours in place (longer: give up).
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// Buttons: rows of `(label, callback data)`.
pub(crate) type Keyboard = Vec<Vec<(String, String)>>;

fn markup(k: &Keyboard) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(k.iter().map(|row| {
        row.iter()
            .map(|(label, data)| InlineKeyboardButton::callback(label.clone(), data.clone()))
            .collect::<Vec<_>>()
    }))
}

/// Telegram, with retries.
#[derive(Clone)]
pub(crate) struct Tg {
    bot: Bot,
}

/// What to do after a failed try.
fn retry_after(e: &RequestError, attempt: u32) -> Option<Duration> {
    match e {
        RequestError::RetryAfter(s) => Some(s.duration()).filter(|d| *d <= LONGEST_WAIT),
        RequestError::Network(_) | RequestError::Io(_) => {
            Some(Duration::from_millis(250 << attempt.min(4)))
        }
        // Telegram's own failures (5xx) come back as errors it did not name.
        RequestError::Api(teloxide::ApiError::Unknown(d))
            if d.contains("Internal Server Error")
                || d.contains("Bad Gateway")
                || d.contains("Gateway") =>
        {
            Some(Duration::from_millis(250 << attempt.min(4)))
        }
        _ => None,
    }
}

async fn send<R>(
    req: R,
) -> Result<<R::Payload as teloxide::requests::Payload>::Output, RequestError>
where
    R: Request<Err = RequestError>,
{
    let mut attempt = 0;
    loop {
        match req.send_ref().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                attempt += 1;
                match retry_after(&e, attempt) {
                    Some(wait) if attempt < TRIES => {
                        tracing::warn!(error = %e, ?wait, "a Telegram call failed; retrying");
                        tokio::time::sleep(wait).await;
                    }
                    _ => return Err(e),
                }
            }
        }
    }
}

impl Tg {
    pub(crate) fn new(bot: Bot) -> Self {
        Self { bot }
    }

    /// Sends `text` (with `keys`, if any) to `chat`; the message's id.
    pub(crate) async fn say(
        &self,
        chat: ChatId,
        text: &str,
        keys: Option<&Keyboard>,
    ) -> Result<MessageId, RequestError> {
        let mut req = self.bot.send_message(chat, clip(text));
        if let Some(k) = keys {
            req = req.reply_markup(markup(k));
        }
        Ok(send(req).await?.id)
    }

    /// Replaces a message's text (and its buttons: none unless `keys`).
    pub(crate) async fn edit(
        &self,
        chat: ChatId,
        id: MessageId,
        text: &str,
        keys: Option<&Keyboard>,
    ) -> Result<(), RequestError> {
        let mut req = self.bot.edit_message_text(chat, id, clip(text));
        if let Some(k) = keys {
            req = req.reply_markup(markup(k));
        }
        match send(req).await {
            Ok(_) => Ok(()),
            Err(RequestError::Api(teloxide::ApiError::MessageNotModified)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes a message's buttons (a question that is no longer asked).
    pub(crate) async fn close(&self, chat: ChatId, id: MessageId) -> Result<(), RequestError> {
        match send(self.bot.edit_message_reply_markup(chat, id)).await {
            Ok(_) => Ok(()),
            Err(RequestError::Api(teloxide::ApiError::MessageNotModified)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sends a file.
    pub(crate) async fn document(
        &self,
        chat: ChatId,
        name: &str,
        bytes: Vec<u8>,
        caption: &str,
    ) -> Result<(), RequestError> {
        let req = self
            .bot
            .send_document(chat, InputFile::memory(bytes).file_name(name.to_owned()))
            .caption(clip(caption));
        send(req).await.map(|_| ())
    }

    /// Acknowledges a button press (so the button stops spinning), with a short notice.
    pub(crate) async fn ack(&self, q: &CallbackQuery, notice: Option<&str>) {
        let mut req = self.bot.answer_callback_query(q.id.clone());
        if let Some(n) = notice {
            req = teloxide::payloads::AnswerCallbackQuerySetters::text(req, n.to_owned());
        }
        if let Err(e) = send(req).await {
            tracing::warn!(error = %e, "cannot answer a button press");
        }
    }

    /// A file the person sent, up to `limit` bytes.
    pub(crate) async fn download(
        &self,
        file: &teloxide::types::FileMeta,
    ) -> anyhow::Result<Vec<u8>> {
        use teloxide::net::Download;
        let f = send(self.bot.get_file(file.id.clone())).await?;
        let mut out = Vec::with_capacity(f.size as usize);
        let mut tries = 0;
        loop {
            out.clear();
            match self.bot.download_file(&f.path, &mut out).await {
                Ok(()) => return Ok(out),
                Err(e) if tries < TRIES => {
                    tries += 1;
                    tracing::warn!(error = %e, "a download from Telegram failed; retrying");
                    tokio::time::sleep(Duration::from_millis(250 << tries)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Telegram takes at most 4,096 characters a message; longer text is cut with a mark.
fn clip(text: &str) -> String {
    const MAX: usize = 4096;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let mut t: String = text.chars().take(MAX - 2).collect();
    t.push_str(" …");
    t
}
