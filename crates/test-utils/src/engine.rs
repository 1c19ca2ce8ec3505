//! An emulator on a manual clock and an engine on it (in-memory store, the emulator's clock).

use podwarden_engine::{Clock, Engine, RunPodProvider};
use podwarden_store::Store;
use runpod_emulator::{EmulatorConfig, Options, RunningEmulator, start};

/// An emulator whose time moves only on `advance`, configured by `cfg`.
pub async fn emulator(cfg: impl FnOnce(&mut EmulatorConfig)) -> RunningEmulator {
    let mut c = EmulatorConfig {
        manual_clock_start: Some(crate::emulator::START.into()),
        ..EmulatorConfig::default()
    };
    cfg(&mut c);
    start(c, Options::default()).await.expect("emulator")
}

/// An engine on `store` talking to `emu` through `client`, on the emulator's clock.
pub async fn engine_on(
    emu: &RunningEmulator,
    store: Store,
    client: runpod::Client,
) -> Engine<RunPodProvider> {
    let clock = emu.shared.clock.clone();
    let options = podwarden_engine::EngineOptions::new(
        Clock::from_fn(move || clock.now().timestamp_millis()),
        b"test-secret".to_vec(),
    );
    Engine::new(store, RunPodProvider::new(client), options).await.expect("engine")
}

/// Both, with a fresh in-memory store.
pub async fn setup(
    cfg: impl FnOnce(&mut EmulatorConfig),
) -> (RunningEmulator, Engine<RunPodProvider>) {
    let emu = emulator(cfg).await;
    let engine =
        engine_on(&emu, podwarden_store::testing::open().await.expect("store"), emu.client()).await;
    (emu, engine)
}

/// What the emulator billed for every pod it ever ran, in USD (RunPod's side of a cost check).
pub fn pods_billed(emu: &RunningEmulator) -> f64 {
    let w = emu.shared.world.lock();
    w.pods.keys().map(|id| w.ledger.total_for(runpod_emulator::world::ledger::Kind::Pod, id)).sum()
}
