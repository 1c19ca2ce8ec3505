//! The `run --follow` display on stderr: the job's stage (choosing GPU → provisioning → booting
//! → running → tearing down) as a spinner line with the elapsed time and the spend so far, and
//! the job's events printed above it. Without a terminal on stderr (a pipe, CI) nothing is
//! drawn and each stage change is one plain line instead.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use podwarden_api::types::{EventView, JobDetail};
use std::time::Duration;

/// The five stages a pod job goes through, in order.
pub const STAGES: [&str; 5] =
    ["choosing GPU", "provisioning", "booting", "running", "tearing down"];

/// The stage (index into [`STAGES`]) a job event moves the job to, if any. Stages follow the
/// events rather than polled states, so a stage shorter than a poll is still shown.
pub fn stage_of(e: &EventView) -> Option<usize> {
    let m = e.message.as_str();
    match e.kind.as_str() {
        "state" if m.starts_with("pending") || m.starts_with("recovering") => Some(0),
        "state" if m.starts_with("provisioning") => Some(1),
        "attempt"
            if m.starts_with("pod ") && m.contains(" created") || m.starts_with("adopted pod") =>
        {
            Some(2)
        }
        "state" if m.starts_with("running") => Some(3),
        "state" if m.starts_with("tearing down") => Some(4),
        _ => None,
    }
}

/// The live display of one job.
#[derive(Debug)]
pub struct Stages {
    bar: ProgressBar,
    shown: Option<usize>,
    simulated: bool,
}

impl Stages {
    pub fn new(simulated: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {wide_msg} {elapsed_precise}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        if !bar.is_hidden() {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Self { bar, shown: None, simulated }
    }

    /// A line above the spinner (or plain, without a terminal).
    pub fn line(&self, text: &str) {
        if self.bar.is_hidden() {
            note!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    /// A handle for another task (the log streamer).
    pub fn handle(&self) -> ProgressBar {
        self.bar.clone()
    }

    /// Prints an event, and the stage it starts.
    pub fn event(&mut self, e: &EventView) {
        self.line(&format!("  · {}", e.message));
        if let Some(stage) = stage_of(e) {
            if self.shown != Some(stage) {
                self.shown = Some(stage);
                let label = format!("[{}/{}] {}", stage + 1, STAGES.len(), STAGES[stage]);
                self.line(&label);
                self.bar.set_prefix(label);
            }
        }
    }

    /// Shows the job's GPU and spend so far.
    pub fn update(&self, d: &JobDetail) {
        let gpu = d
            .attempts
            .last()
            .map(|a| format!("{} × {} · ", a.gpu_count, a.gpu_type))
            .unwrap_or_default();
        let budget = d.job.budget_usd.map(|b| format!(" of ${b:.2}")).unwrap_or_default();
        let sim = if self.simulated { " (simulated)" } else { "" };
        self.bar.set_message(format!("{gpu}${:.4}{budget}{sim}", d.job.spent_usd));
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_events_map_to_their_stages() {
        let cases = [
            ("state", "pending: waiting for a GPU", Some("choosing GPU")),
            ("state", "recovering: no capacity for any of 3 offers", Some("choosing GPU")),
            ("state", "provisioning: choosing a GPU", Some("provisioning")),
            (
                "attempt",
                "pod abc created: 1 × NVIDIA RTX A4000 (Secure) at $0.25/h",
                Some("booting"),
            ),
            ("attempt", "adopted pod abc found by its name", Some("booting")),
            ("attempt", "no capacity for NVIDIA H100 (Secure); trying the next offer", None),
            ("state", "running: the pod is running", Some("running")),
            (
                "state",
                "tearing down (succeeded): the command exited with code 0",
                Some("tearing down"),
            ),
            ("state", "succeeded: every resource is confirmed gone", None),
            ("budget", "80 % of the budget spent", None),
        ];
        for (kind, message, want) in cases {
            let e = EventView { id: 1, at: 0, kind: kind.into(), message: message.into() };
            assert_eq!(stage_of(&e).map(|i| STAGES[i]), want, "{kind}: {message}");
        }
    }
}
