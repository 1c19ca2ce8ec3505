//! Who is who: each Telegram user the bot knows, their podwarden user and API token (from
//! redeeming an invite), and the models they trained. Kept in one JSON file that only the bot's
//! own user may read (0600), rewritten whole through a temporary file and a rename, so a crash
//! leaves the old file or the new one, never half of one.
//!
//! The token is the person's own podwarden token: the bot acts for each person with exactly
//! their rights and spend cap, never with an admin's.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where a model lives and runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Place {
    /// On the person's network volume; predicted on the predict endpoint.
    Cloud,
    /// In the bot's local store; predicted on this machine.
    Local,
}

impl Place {
    /// Its mark on a model's button.
    pub(crate) fn icon(self) -> &'static str {
        match self {
            Self::Cloud => "☁️",
            Self::Local => "💻",
        }
    }

    /// Its word in a model list.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Cloud => "cloud",
            Self::Local => "local",
        }
    }
}

/// A trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModelRecord {
    pub id: String,
    pub kind: String,
    pub target: String,
    pub features: Vec<String>,
    pub metric: String,
    pub score: f64,
    pub place: Place,
    pub dataset: String,
}

impl ModelRecord {
    /// The record of a model the tabular trainer saved (`meta`) from `dataset`.
    pub(crate) fn of(
        meta: &podwarden_tabular::train::Metadata,
        place: Place,
        dataset: &str,
    ) -> Self {
        Self {
            id: meta.model_id.clone(),
            kind: meta.model_type.name().into(),
            target: meta.target.clone(),
            features: meta.features.clone(),
            metric: meta.metric.clone(),
            score: meta.score,
            place,
            dataset: dataset.into(),
        }
    }
}

/// A person.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Account {
    pub telegram_id: i64,
    /// podwarden's user id (`usr_…`): the prefix of their files on volumes.
    pub user_id: String,
    pub name: String,
    pub token: String,
    #[serde(default)]
    pub models: Vec<ModelRecord>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("user_id", &self.user_id).field("name", &self.name).finish()
    }
}

/// A cloud training run being followed: enough to follow it again after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CloudRun {
    pub job_id: String,
    pub chat: i64,
    /// The message that follows it.
    pub message: i32,
    pub telegram_id: i64,
    pub model_id: String,
    pub dataset: String,
    /// The message's first lines.
    pub head: String,
    pub budget_usd: f64,
}

#[derive(Default, Serialize, Deserialize)]
struct File {
    /// By Telegram user id.
    users: BTreeMap<i64, Account>,
    /// Cloud runs not yet concluded, by job id.
    #[serde(default)]
    runs: BTreeMap<String, CloudRun>,
}

/// The accounts file.
pub(crate) struct Accounts {
    path: PathBuf,
    file: Mutex<File>,
}

impl Accounts {
    /// Opens (or starts) the file at `path`.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        let file = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not the bot's accounts file; move it away to start afresh",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::default(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Self { path: path.to_owned(), file: Mutex::new(file) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, File> {
        self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The person with Telegram id `tg`.
    pub(crate) fn get(&self, tg: i64) -> Option<Account> {
        self.lock().users.get(&tg).cloned()
    }

    /// Records a new person.
    pub(crate) fn insert(&self, tg: i64, a: Account) -> anyhow::Result<()> {
        let mut f = self.lock();
        f.users.insert(tg, a);
        self.save(&f)
    }

    /// Adds a model to a person's list.
    pub(crate) fn add_model(&self, tg: i64, m: ModelRecord) -> anyhow::Result<()> {
        let mut f = self.lock();
        if let Some(a) = f.users.get_mut(&tg) {
            a.models.retain(|x| x.id != m.id);
            a.models.push(m);
        }
        self.save(&f)
    }

    /// Records a run being followed.
    pub(crate) fn add_run(&self, r: CloudRun) -> anyhow::Result<()> {
        let mut f = self.lock();
        f.runs.insert(r.job_id.clone(), r);
        self.save(&f)
    }

    /// Forgets a concluded run.
    pub(crate) fn remove_run(&self, job_id: &str) -> anyhow::Result<()> {
        let mut f = self.lock();
        f.runs.remove(job_id);
        self.save(&f)
    }

    /// The runs not yet concluded.
    pub(crate) fn runs(&self) -> Vec<CloudRun> {
        self.lock().runs.values().cloned().collect()
    }

    fn save(&self, f: &File) -> anyhow::Result<()> {
        use std::io::Write;
        let tmp = self.path.with_extension("json.tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut out = opts.open(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        out.write_all(&serde_json::to_vec_pretty(f)?)?;
        out.sync_all()?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("cannot replace {}", self.path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_survive_a_reopen_in_a_file_only_the_owner_reads() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("accounts.json");
        let a = Accounts::open(&path).expect("open");
        assert!(a.get(7).is_none());
        let acc = Account {
            telegram_id: 7,
            user_id: "usr_1".into(),
            name: "tg-7".into(),
            token: "pw_secret".into(),
            models: vec![],
        };
        a.insert(7, acc.clone()).expect("insert");
        let m = ModelRecord {
            id: "m1".into(),
            kind: "linear".into(),
            target: "y".into(),
            features: vec!["x".into()],
            metric: "r2".into(),
            score: 0.5,
            place: Place::Local,
            dataset: "d.csv".into(),
        };
        a.add_model(7, m.clone()).expect("model");
        let run = CloudRun {
            job_id: "job_1".into(),
            chat: 7,
            message: 3,
            telegram_id: 7,
            model_id: "m2".into(),
            dataset: "d.csv".into(),
            head: "⏳".into(),
            budget_usd: 0.05,
        };
        a.add_run(run.clone()).expect("run");
        let b = Accounts::open(&path).expect("reopen");
        assert_eq!(b.get(7).expect("kept").models, vec![m]);
        assert_eq!(b.runs(), vec![run], "a run in flight is followed again after a restart");
        b.remove_run("job_1").expect("concluded");
        assert!(Accounts::open(&path).expect("reopen").runs().is_empty());
        assert!(!format!("{:?}", b.get(7)).contains("pw_secret"), "the token never prints");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"not json").expect("write");
        let e = Accounts::open(&path).err().expect("refused");
        assert!(format!("{e:#}").contains("move it away"), "{e:#}");
    }
}
