//! Wake-ups across replicas on Postgres (LISTEN/NOTIFY): a new event (the `job_events`
//! trigger, migration 0012) wakes event streams on every replica; a poke for an account
//! (a submit, a cancel, an exit through any replica) reaches the replica that reconciles it;
//! a job or attempt another replica wrote (migration 0013's triggers) is named, so the live set
//! reloads that row only (`reload_rows`). On SQLite there is one server, and these do nothing.

use crate::{Result, Store};
use podwarden_core::{AttemptId, JobId};

/// The channel of new events (payload: the job id). Each channel is suffixed with the
/// schema (`_<schema>`): channels are per database, and installs may share one.
pub const EVENTS: &str = "podwarden_events";
/// The channel of pokes (payload: the account).
pub const POKES: &str = "podwarden_pokes";
/// The channel of written jobs and attempts (payload: `job|attempt ID WRITER`).
pub const ROWS: &str = "podwarden_rows";

/// A connection listening on [`EVENTS`] and [`POKES`]. It reconnects by itself when its
/// connection drops; notifications sent meanwhile are lost, so a reconnect is reported as a
/// wake-up of everything (`Notification::Reconnected`).
pub struct Listener {
    inner: sqlx::postgres::PgListener,
    /// The channels' schema suffix (`_<schema>`).
    suffix: String,
    /// This store's writer name: its own row changes are already in its live set.
    writer: String,
}

impl std::fmt::Debug for Listener {
    // Not the connection's: its options hold the database password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}

/// What a listener heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    Event {
        job: String,
    },
    Poke {
        account: String,
    },
    /// Another replica wrote this job.
    Job(JobId),
    /// Another replica wrote this attempt.
    Attempt(AttemptId),
    /// The connection was lost and is back: anything may have been missed.
    Reconnected,
}

impl Listener {
    /// The next notification.
    pub async fn recv(&mut self) -> Result<Notification> {
        loop {
            let n = match self.inner.try_recv().await? {
                None => return Ok(Notification::Reconnected),
                Some(n) => n,
            };
            let channel = n.channel().strip_suffix(self.suffix.as_str()).unwrap_or_default();
            return Ok(match channel {
                POKES => Notification::Poke { account: n.payload().to_owned() },
                ROWS => {
                    let mut words = n.payload().split(' ');
                    let (kind, id, writer) = (words.next(), words.next(), words.next());
                    if writer == Some(self.writer.as_str()) {
                        continue;
                    }
                    let Some(id) = id else { continue };
                    // A row this version cannot name (another version's): reload everything.
                    let row = match kind {
                        Some("attempt") => id.parse().map(Notification::Attempt),
                        _ => id.parse().map(Notification::Job),
                    };
                    row.unwrap_or(Notification::Reconnected)
                }
                _ => Notification::Event { job: n.payload().to_owned() },
            });
        }
    }
}

impl Store {
    /// A listener for this database's notifications; `None` on SQLite.
    pub async fn listen(&self) -> Result<Option<Listener>> {
        let (Some(url), Some(writer), Some(schema)) = (&self.url, &self.writer, &self.schema)
        else {
            return Ok(None);
        };
        let suffix = format!("_{schema}");
        let mut l = sqlx::postgres::PgListener::connect(&url.0).await?;
        let channels = [EVENTS, POKES, ROWS].map(|c| format!("{c}{suffix}"));
        l.listen_all(channels.iter().map(String::as_str)).await?;
        Ok(Some(Listener { inner: l, suffix, writer: writer.to_string() }))
    }

    /// Tells every replica that `account` has news (its holder runs a pass now).
    pub async fn notify_poke(&self, account: &podwarden_core::Account) -> Result<()> {
        if let Some(schema) = &self.schema {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(format!("{POKES}_{schema}"))
                .bind(account.to_string())
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }
}
