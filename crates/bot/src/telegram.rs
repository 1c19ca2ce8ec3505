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

    /// Sets the command menu Telegram shows people.
    pub(crate) async fn commands(&self) -> Result<(), RequestError> {
        use teloxide::types::BotCommand;
        let menu = [
            ("train", "train a model on a CSV (or /train FILE on your volume)"),
            ("predict", "predict a CSV with one of your models"),
            ("jobs", "your recent GPU pod jobs"),
            ("cost", "what you have spent, and what is left of your cap"),
            ("stop", "stop a job now: /stop JOB"),
            ("models", "your models"),
            ("cancel", "forget the question I asked"),
            ("help", "how this bot works"),
        ];
        let menu: Vec<BotCommand> = menu.iter().map(|(c, d)| BotCommand::new(*c, *d)).collect();
        send(self.bot.set_my_commands(menu)).await.map(|_| ())
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

    /// Shows a run's progress in its message; a failure only loses this update (the run goes
    /// on, and the next update or the conclusion tries again).
    pub(crate) async fn progress(&self, chat: ChatId, id: MessageId, text: &str) {
        if let Err(e) = self.edit(chat, id, text, None).await {
            tracing::warn!(error = %e, "cannot update a run's message");
        }
    }

    /// A run's last word, in its message — or, when that message cannot be edited (deleted,
    /// too old), in a new one: the outcome always reaches the person.
    pub(crate) async fn conclude(
        &self,
        chat: ChatId,
        id: MessageId,
        text: &str,
    ) -> Result<(), RequestError> {
        match self.edit(chat, id, text, None).await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot edit a run's message; sending the outcome anew");
                self.say(chat, text, None).await.map(|_| ())
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use podwarden_test_utils::telegram::{Failure, FakeTelegram};

    const CHAT: i64 = 42;

    async fn tg() -> (FakeTelegram, Tg) {
        let fake = FakeTelegram::start("1:T").await;
        let bot = Bot::new("1:T").set_api_url(fake.url.parse().expect("url"));
        (fake, Tg::new(bot))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waits_out_a_429_and_a_500_then_delivers_once() {
        let (fake, tg) = tg().await;
        fake.fail_next("sendMessage", 1, Failure::RetryAfter(1));
        fake.fail_next("sendMessage", 1, Failure::Internal);
        let id = tg.say(ChatId(CHAT), "hello", None).await.expect("delivered");
        let sends: Vec<bool> =
            fake.calls().iter().filter(|c| c.method == "sendMessage").map(|c| c.ok).collect();
        assert_eq!(sends, vec![false, false, true]);
        assert_eq!(fake.bot_messages(CHAT).len(), 1, "one message, not three");
        assert_eq!(fake.message(i64::from(id.0)).expect("sent").text, "hello");
    }

    #[tokio::test]
    async fn a_bad_request_is_not_retried_and_an_unchanged_edit_is_no_error() {
        let (fake, tg) = tg().await;
        let id = tg.say(ChatId(CHAT), "same", None).await.expect("sent");
        tg.edit(ChatId(CHAT), id, "same", None).await.expect("not modified is fine");
        let e = tg.say(ChatId(CHAT), "   ", None).await.expect_err("empty text");
        assert!(e.to_string().contains("empty"), "{e}");
        assert_eq!(
            fake.calls().iter().filter(|c| c.method == "sendMessage").count(),
            2,
            "tried once"
        );
        let long = "x".repeat(5000);
        let id = tg.say(ChatId(CHAT), &long, None).await.expect("cut to fit");
        assert_eq!(fake.message(i64::from(id.0)).expect("sent").text.chars().count(), 4096);
    }

    #[tokio::test]
    async fn an_outcome_whose_message_is_gone_arrives_as_a_new_one() {
        let (fake, tg) = tg().await;
        let id = tg.say(ChatId(CHAT), "⏳ training", None).await.expect("sent");
        tg.progress(ChatId(CHAT), id, "⏳ training 50%").await;
        fake.delete(i64::from(id.0));
        tg.progress(ChatId(CHAT), id, "⏳ training 90%").await;
        tg.conclude(ChatId(CHAT), id, "✅ done").await.expect("concluded");
        let texts: Vec<String> = fake.bot_messages(CHAT).into_iter().map(|m| m.text).collect();
        assert_eq!(texts, vec!["✅ done".to_owned()]);
    }
}
