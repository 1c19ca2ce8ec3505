//! The sagas' steps as data: for each saga, its steps in order, the crash points around each,
//! and what heals a crash there (the undo, or the reconciler that finishes the step). This one
//! list is the truth: `CrashPoint::ALL` and each saga's points are checked against it, the
//! crash tests inject a crash at every point it names, and the table in
//! `docs/state-machines.md` → Sagas is generated from it (`UPDATE_DOCS=1 cargo test -p
//! podwarden-engine --lib steps` rewrites it; the test fails while they differ).

use crate::crash::CrashPoint;

/// A saga: a multi-step creation (or removal) on a provider.
#[derive(Debug)]
pub struct Saga {
    /// Its name, as the docs say it.
    pub name: &'static str,
    /// Where it is written.
    pub code: &'static str,
    pub steps: &'static [Step],
    /// What holds across a crash between any two steps.
    pub invariant: &'static str,
}

/// One step of a saga.
#[derive(Debug)]
pub struct Step {
    /// What the step does.
    pub forward: &'static str,
    /// The crash points at this step (before or after its action).
    pub points: &'static [CrashPoint],
    /// The undo, or what heals a crash at this step.
    pub heals: &'static str,
}

impl Saga {
    /// Its crash points, in step order.
    pub fn points(&self) -> Vec<CrashPoint> {
        self.steps.iter().flat_map(|s| s.points.iter().copied()).collect()
    }

    /// Its table of steps, in Markdown.
    pub fn table(&self) -> String {
        let mut t = format!(
            "### {} (`{}`)\n\n| step | forward action | crash points | undo, or what heals a crash here |\n|---|---|---|---|\n",
            self.name, self.code
        );
        for (i, s) in self.steps.iter().enumerate() {
            let points: Vec<String> = s.points.iter().map(|p| format!("`{p}`")).collect();
            t.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                i + 1,
                s.forward,
                if points.is_empty() { "—".to_owned() } else { points.join(", ") },
                s.heals
            ));
        }
        t.push_str(&format!("\nInvariant: {}\n", self.invariant));
        t
    }
}

/// One attempt of a job, from "choose a GPU" to a pod with its id recorded.
pub const POD_LAUNCH: Saga = Saga {
    name: "Pod launch",
    code: "sagas/pod_launch.rs",
    steps: &[
        Step {
            forward: "job `pending → provisioning`, attempts counted; a job that waited (`queued`, holding only its estimate of its owner's spend cap) takes its budget back in one transaction with the cap's check, or is queued again",
            points: &[CrashPoint::BeforeIntent],
            heals: "pods reconciler: no live attempt and no pod → the job is interrupted and retried (holding its whole budget: the safe side)",
        },
        Step {
            forward: "attempt row `intent` with the pod's name, committed",
            points: &[CrashPoint::AfterIntent],
            heals: "pods reconciler: adopts a pod found by that name, else abandons the intent after `intent_grace_ms`",
        },
        Step {
            forward: "`create_pod` (the in-flight set keeps the reconciler off this attempt meanwhile)",
            points: &[CrashPoint::AfterCreate],
            heals: "no capacity, or refused for this placement (400/403) → step 2 for the next offer; every offer refused → give up; spend limit → wait (interrupted); a lost answer → adopted by name; 402/422/401 → give up",
        },
        Step {
            forward: "attempt `intent → created` with the pod's id",
            points: &[CrashPoint::AfterRecord],
            heals: "pods reconciler: adopts by name (nothing to heal after this step)",
        },
    ],
    invariant: "the intent is committed before the create call (so every pod this install creates has a row naming it), and a pod's name is derived from the attempt id (so a retry or a reconciler finds it, and never creates a second one for the same attempt).",
};

/// A job's pods going away.
pub const POD_TEARDOWN: Saga = Saga {
    name: "Pod teardown",
    code: "reconcilers/pods.rs",
    steps: &[
        Step {
            forward: "attempt `→ terminating` (commit)",
            points: &[CrashPoint::BeforeTerminate],
            heals: "pods reconciler: a `terminating` attempt is terminated again every pass until the provider confirms",
        },
        Step {
            forward: "`terminate_pod`, accepted",
            points: &[CrashPoint::AfterTerminate],
            heals: "pods reconciler: the pod is gone from the provider's list → the attempt `terminated`, the job settles",
        },
        Step {
            forward: "attempt `terminated`, bill settled, job final", points: &[], heals: "—"
        },
    ],
    invariant: "a job is final only after the provider confirms each of its pods gone; a pod with the install's prefix and no live attempt is terminated.",
};

/// A serverless endpoint and its template, created or updated in place to match a spec.
pub const ENDPOINT_DEPLOY: Saga = Saga {
    name: "Endpoint deploy",
    code: "sagas/endpoint_deploy.rs",
    steps: &[
        Step {
            forward: "row `intent` with the deterministic names (`pw-<install>-ep-<id>`, template `…-tpl`), committed",
            points: &[CrashPoint::BeforeTemplateCreate],
            heals: "endpoints reconciler: converges an `intent` row nobody holds (steps 2–4 again)",
        },
        Step {
            forward: "template found by name, else created; updated to the spec; its id recorded",
            points: &[CrashPoint::AfterTemplate],
            heals: "reconciler: found by name, not made twice; refused for good → the row is removed",
        },
        Step {
            forward: "endpoint found by name, else created; updated",
            points: &[CrashPoint::AfterEndpointCreate],
            heals: "reconciler: found by name; an orphan name is deleted",
        },
        Step { forward: "row `ready`", points: &[], heals: "—" },
    ],
    invariant: "nothing is created at the provider before the row naming it is committed; an update the provider refuses restores the previous spec; a create it refuses for good leaves nothing behind. Removal: row `deleting` (commit), endpoint deleted, then the template, then row `deleted`; the reconciler retries `deleting` rows until the provider confirms.",
};

/// Every saga, in the order the docs list them.
pub const ALL: [&Saga; 3] = [&POD_LAUNCH, &POD_TEARDOWN, &ENDPOINT_DEPLOY];

/// The docs' section, generated.
pub fn markdown() -> String {
    let tables: Vec<String> = ALL.iter().map(|s| s.table()).collect();
    tables.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- sagas: generated from crates/engine/src/sagas/steps.rs -->\n";
    const END: &str = "<!-- sagas: end -->";

    #[test]
    fn every_crash_point_is_a_step_of_one_saga_in_order() {
        let listed: Vec<CrashPoint> = ALL.iter().flat_map(|s| s.points()).collect();
        assert_eq!(listed, CrashPoint::ALL, "CrashPoint::ALL is the sagas' points in order");
    }

    #[test]
    fn the_docs_table_is_generated_from_the_steps() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/state-machines.md");
        let doc = std::fs::read_to_string(&path).expect("docs/state-machines.md");
        let (a, b) = (doc.find(BEGIN).expect("begin marker"), doc.find(END).expect("end marker"));
        let want = format!("{BEGIN}\n{}\n", markdown());
        let have = &doc[a..b];
        if have != want && std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, format!("{}{want}{}", &doc[..a], &doc[b..])).expect("write");
            return;
        }
        assert_eq!(
            have, want,
            "docs/state-machines.md → Sagas is stale: UPDATE_DOCS=1 cargo test -p podwarden-engine --lib steps"
        );
    }
}
