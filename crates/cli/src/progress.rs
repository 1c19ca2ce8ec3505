//! The `run --follow` display on stderr: the job's stage (choosing GPU → provisioning → booting
//! → running → tearing down) as a spinner line with the elapsed time and the spend so far, and
//! the job's events printed above it. Without a terminal on stderr (a pipe, CI) nothing is
//! drawn and each stage change is one plain line instead.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use podwarden_api::types::{AttemptState, EventKind, EventView, JobDetail, JobState};
use std::time::Duration;

/// The five stages a pod job goes through, in order.
pub const STAGES: [&str; 5] =
    ["choosing GPU", "provisioning", "booting", "running", "tearing down"];

/// The stage (index into [`STAGES`]) a job event moves the job to, if any, from the event's
/// typed state change (never its words). Stages follow the events rather than polled states,
/// so a stage shorter than a poll is still shown.
pub fn stage_of(e: &EventView) -> Option<usize> {
    match (e.kind, e.state, e.attempt) {
        (
            EventKind::State,
            Some(JobState::Pending | JobState::Recovering | JobState::Queued),
            _,
        ) => Some(0),
        (EventKind::State, Some(JobState::Provisioning), _) => Some(1),
        (EventKind::Attempt, _, Some(AttemptState::Created)) => Some(2),
        (EventKind::State, Some(JobState::Running), _) => Some(3),
        (EventKind::State, Some(JobState::TearingDown), _) => Some(4),
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
        use EventKind::{Attempt, Budget, State};
        let s = |s| (Some(s), None);
        let a = |a| (None, Some(a));
        let cases = [
            (State, s(JobState::Pending), Some("choosing GPU")),
            (State, s(JobState::Recovering), Some("choosing GPU")),
            (State, s(JobState::Queued), Some("choosing GPU")),
            (State, s(JobState::Provisioning), Some("provisioning")),
            (Attempt, a(AttemptState::Created), Some("booting")),
            (Attempt, (None, None), None),
            (Attempt, a(AttemptState::Terminated), None),
            (State, s(JobState::Running), Some("running")),
            (State, s(JobState::TearingDown), Some("tearing down")),
            (State, s(JobState::Succeeded), None),
            (State, (None, None), None),
            (Budget, s(JobState::Running), None),
        ];
        for (kind, (state, attempt), want) in cases {
            // The words are what an engine says; only the typed fields decide.
            let e = EventView {
                id: 1,
                at: 0,
                kind,
                message: "running: pod abc created".into(),
                state,
                ending: None,
                attempt,
                request: None,
                data: None,
            };
            assert_eq!(stage_of(&e).map(|i| STAGES[i]), want, "{kind} {state:?} {attempt:?}");
        }
    }
}
