//! Helpers shared by the worker's integration tests.

use tokio::sync::mpsc;

/// Installs this test process's log subscriber at `level`; returns its lines as they are written.
pub fn capture_log(level: tracing::Level) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let w = Lines(tx);
    tracing_subscriber::fmt()
        .with_writer(move || w.clone())
        .with_max_level(level)
        .with_ansi(false)
        .init();
    rx
}

/// Waits for the next log line containing `needle` and returns it.
pub async fn next_line_with(log: &mut mpsc::UnboundedReceiver<String>, needle: &str) -> String {
    loop {
        let line = log.recv().await.expect("log line");
        if line.contains(needle) {
            return line;
        }
    }
}

#[derive(Clone)]
struct Lines(mpsc::UnboundedSender<String>);

impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.send(String::from_utf8_lossy(b).into_owned());
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
