//! The bot's words, in the seed's terms (GPU pod, billed per second), and small formatters.

pub(crate) const HELP: &str = "\
I train and run statistical models on your CSV files.

Train: send a CSV file (or /train FILE for one on your volume). I ask for the column to predict, \
the features and the model, then where to train:
☁️ Cloud — a RunPod GPU pod, billed per second, stopped at its budget;
💻 Local — on the bot's server, free.
For the cloud I recommend a GPU and show the estimated time and cost before anything starts.

Predict: /predict, then send a CSV with the model's feature columns. I answer with the first rows \
and the whole CSV with a prediction column.

/jobs — your recent GPU pod jobs
/cost — what you have spent, and what is left of your cap
/stop JOB — stop a job now (its pod is terminated; billing stops)
/models — your models
/cancel — forget the question I asked
/help — this";

pub(crate) const NEED_INVITE: &str = "\
Hello! This bot runs models on GPUs that cost money, so it needs an invite code from its operator.\n\
Send /start CODE with the code you were given.";

pub(crate) const NOT_UNDERSTOOD: &str =
    "I did not understand that. Send a CSV file to train or predict, or /help.";

/// Dollars, with enough digits for per-second amounts.
pub(crate) fn usd(v: f64) -> String {
    if v == 0.0 {
        "$0".into()
    } else if v.abs() < 0.01 {
        format!("${v:.4}")
    } else {
        format!("${v:.2}")
    }
}

/// `2 min`, `1 h 5 min`, `45 s`.
pub(crate) fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s.div_ceil(60)),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// A GPU's short name: `NVIDIA RTX A5000` → `RTX A5000`, `1× NVIDIA A40` → `1× A40`.
pub(crate) fn gpu_name(t: &str) -> String {
    t.replace("NVIDIA ", "")
}

/// An error in a sentence for the person (the API's message and hint, not a chain of causes).
pub(crate) fn short(e: &anyhow::Error) -> String {
    match e.downcast_ref::<podwarden_api::Error>() {
        Some(podwarden_api::Error::Api { message, hint, .. }) => match hint {
            Some(h) => format!("{message} ({h})"),
            None => message.clone(),
        },
        _ => format!("{e:#}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_durations_read_naturally() {
        assert_eq!(usd(0.0), "$0");
        assert_eq!(usd(0.000_75), "$0.0008");
        assert_eq!(usd(1.234), "$1.23");
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(121), "3 min");
        assert_eq!(duration(3900), "1 h 5 min");
        assert_eq!(gpu_name("NVIDIA A40"), "A40");
    }
}
