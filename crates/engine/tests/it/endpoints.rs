//! Endpoint deploys against the emulator: idempotent, updated in place on drift, refused
//! deploys and removals leave nothing behind, a crash mid-deploy is finished by the reconciler,
//! orphans of this install are deleted and foreign endpoints are never touched.

use podwarden_core::Account;
use podwarden_test_utils::engine as common;

use podwarden_core::endpoint::EndpointSpec;
use podwarden_core::state::EndpointState;
use podwarden_engine::reconcilers::endpoints::Action as EpAction;
use podwarden_engine::sagas::endpoint_deploy::Change;
use podwarden_engine::{Engine, EngineError, RunPodProvider};
use podwarden_store::EndpointRow;
use runpod::types::endpoints::CreateEndpointRequest;
use runpod::types::templates::CreateTemplateRequest;
use runpod_emulator::RunningEmulator;
use runpod_emulator::faults::{FaultConfig, HttpFault};

async fn setup() -> (RunningEmulator, Engine<RunPodProvider>) {
    common::setup(|_| {}).await
}

fn spec(extra: &str) -> EndpointSpec {
    EndpointSpec::from_toml(
        "ep.toml",
        &format!("name = \"predict\"\nimage = \"img:1\"\ncommand = \"run-worker\"\n{extra}"),
    )
    .expect("spec")
}

/// (endpoints, templates) at the provider, by name.
fn provider(emu: &RunningEmulator) -> (Vec<String>, Vec<String>) {
    let w = emu.shared.world.lock();
    let mut e: Vec<String> = w.endpoints.values().map(|e| e.name.clone()).collect();
    let mut t: Vec<String> = w.templates.values().map(|t| t.template.name.clone()).collect();
    e.sort();
    t.sort();
    (e, t)
}

#[tokio::test]
async fn deploying_twice_changes_nothing_and_a_changed_spec_updates_in_place() {
    let (emu, e) = setup().await;
    let first = e.deploy(spec(""), "alice").await.expect("deploy");
    assert_eq!(first.change, Change::Created);
    assert_eq!(first.row.state, EndpointState::Ready);
    let name = first.row.resource_name.clone();
    assert!(name.starts_with(&format!("pw-{}-ep-", e.install())), "{name}");
    assert_eq!(provider(&emu), (vec![name.clone()], vec![format!("{name}-tpl")]));
    let endpoint_id = first.row.endpoint_id.clone().expect("endpoint id");
    let version = emu.shared.world.lock().endpoints[&endpoint_id].version;

    let again = e.deploy(spec(""), "alice").await.expect("redeploy");
    assert_eq!(again.change, Change::Unchanged);
    assert_eq!(again.row.generation, first.row.generation, "not even the row was written");
    assert_eq!(
        emu.shared.world.lock().endpoints[&endpoint_id].version,
        version,
        "the provider saw no write"
    );

    let changed = e
        .deploy(
            spec("execution_timeout = \"30m\"\n[workers]\nmax = 3\nidle_timeout = \"60s\"\n"),
            "alice",
        )
        .await
        .expect("update");
    assert_eq!(changed.change, Change::Updated);
    assert_eq!(
        changed.row.endpoint_id.as_deref(),
        Some(endpoint_id.as_str()),
        "updated in place, same endpoint"
    );
    {
        let w = emu.shared.world.lock();
        let ep = &w.endpoints[&endpoint_id];
        assert_eq!((ep.workers_max, ep.idle_timeout, ep.timeout_ms), (3, 60, 1_800_000));
    }
    let image = e
        .deploy(EndpointSpec { image: "img:2".into(), ..changed_spec() }, "alice")
        .await
        .expect("new image");
    assert_eq!(image.change, Change::Updated);
    let tpl = image.row.template_id.clone().expect("template id");
    assert_eq!(emu.shared.world.lock().templates[&tpl].template.image, "img:2");
    assert_eq!(provider(&emu).0.len(), 1, "still one endpoint");
    // RunPod resolves templates once: the endpoint itself must run what was deployed.
    let mut env = std::collections::BTreeMap::new();
    env.insert("MODEL".to_owned(), "v2".to_owned());
    let next = EndpointSpec {
        image: "img:3".into(),
        command: Some("run-worker --v2".into()),
        env: env.clone(),
        ..changed_spec()
    };
    assert_eq!(e.deploy(next, "alice").await.expect("new everything").change, Change::Updated);
    {
        let w = emu.shared.world.lock();
        let ep = &w.endpoints[&endpoint_id];
        assert_eq!(
            (ep.image.as_deref(), ep.args.as_deref()),
            (Some("img:3"), Some("run-worker --v2"))
        );
        assert_eq!(ep.env, env, "the endpoint RunPod runs has the new env");
    }

    // Another user's endpoint of the same name is theirs alone.
    let bob = e.deploy(spec(""), "bob").await.expect("bob");
    assert_ne!(bob.row.resource_name, name);
    assert_eq!(e.endpoints("alice").await.expect("ls").len(), 1);
}

fn changed_spec() -> EndpointSpec {
    spec("execution_timeout = \"30m\"\n[workers]\nmax = 3\nidle_timeout = \"60s\"\n")
}

#[tokio::test]
async fn rm_deletes_endpoint_and_template_and_a_second_rm_says_not_found() {
    let (emu, e) = setup().await;
    e.deploy(spec(""), "alice").await.expect("deploy");
    let row = e.remove("alice", "predict").await.expect("rm");
    assert_eq!(row.state, EndpointState::Deleted);
    assert_eq!(provider(&emu), (vec![], vec![]));
    assert!(matches!(e.remove("alice", "predict").await, Err(EngineError::NoSuchEndpoint(_))));
    assert!(e.endpoints("alice").await.expect("ls").is_empty());
    // The name is free again.
    assert_eq!(e.deploy(spec(""), "alice").await.expect("redeploy").change, Change::Created);
}

#[tokio::test]
async fn a_removal_the_provider_fails_stays_pending_until_a_tick_finishes_it() {
    let (emu, e) = setup().await;
    e.deploy(spec(""), "alice").await.expect("deploy");
    emu.set_faults(FaultConfig {
        http: vec![HttpFault {
            route: "DELETE /v2/serverless/{id}".into(),
            status: Some(500),
            probability: 1.0,
            times: Some(1),
            retry_after: None,
            latency_ms: 0,
            lose_response: false,
        }],
        ..FaultConfig::default()
    });
    let row = e.remove("alice", "predict").await.expect("rm is accepted");
    assert_eq!(row.state, EndpointState::Deleting);
    assert_eq!(provider(&emu).0.len(), 1, "still there: the delete failed");
    let report = e.tick().await.expect("tick");
    assert!(
        report.endpoints.actions.iter().any(|a| matches!(a, EpAction::Delete { .. })),
        "{report:?}"
    );
    assert_eq!(provider(&emu), (vec![], vec![]));
    assert!(e.endpoints("alice").await.expect("ls").is_empty());
}

#[tokio::test]
async fn a_deploy_the_provider_refuses_leaves_nothing_behind_and_says_why() {
    let (emu, e) = setup().await;
    let err =
        e.deploy(spec("[gpu]\npools = [\"NOPE_99\"]\n"), "alice").await.expect_err("unknown pool");
    assert!(err.to_string().contains("NOPE_99"), "{err}");
    assert_eq!(provider(&emu), (vec![], vec![]), "the template made before the refusal is deleted");
    assert!(e.endpoints("alice").await.expect("ls").is_empty());
    assert_eq!(e.deploy(spec(""), "alice").await.expect("then a good one").change, Change::Created);
}

#[tokio::test]
async fn a_crash_after_the_template_create_is_finished_by_the_reconciler_without_duplicates() {
    let (emu, e) = setup().await;
    // What a crash right after the template's create leaves: the intent row and the template.
    let id = podwarden_core::EndpointRecordId::new();
    let s = spec("");
    let resource = podwarden_core::ids::endpoint_name(e.install(), id);
    let now = e.now_ms();
    e.store()
        .endpoint_insert(&EndpointRow {
            id,
            name: s.name.clone(),
            owner: "alice".into(),
            spec: serde_json::to_string(&s).expect("json"),
            spec_hash: podwarden_engine::sagas::endpoint_deploy::spec_hash(&s),
            state: EndpointState::Intent,
            generation: 0,
            resource_name: resource.clone(),
            template_id: None,
            endpoint_id: None,
            reason: None,
            created_at: now,
            updated_at: now,
            account: Account::Hosted,
        })
        .await
        .expect("intent");
    let mut tpl = CreateTemplateRequest {
        name: format!("{resource}-tpl"),
        image: "img:1".into(),
        ..Default::default()
    };
    tpl.serverless = Some(true);
    emu.client().create_template(&tpl).await.expect("template");

    let report = e.tick().await.expect("tick");
    assert!(report.errors().is_empty(), "{report:?}");
    assert_eq!(
        provider(&emu),
        (vec![resource.clone()], vec![format!("{resource}-tpl")]),
        "adopted, not duplicated"
    );
    let row = e.endpoint("alice", "predict").await.expect("row");
    assert_eq!(row.state, EndpointState::Ready);
    e.tick().await.expect("second tick");
    assert_eq!(provider(&emu).0.len(), 1, "a second tick changes nothing");
    assert_eq!(e.deploy(s, "alice").await.expect("redeploy").change, Change::Unchanged);
}

#[tokio::test]
async fn orphans_of_this_install_are_deleted_and_foreign_endpoints_untouched() {
    let (emu, e) = setup().await;
    let c = emu.client();
    let mk = |name: String| {
        let c = c.clone();
        async move {
            let t = c
                .create_template(&CreateTemplateRequest {
                    name: format!("{name}-tpl"),
                    image: "img".into(),
                    serverless: Some(true),
                    ..Default::default()
                })
                .await
                .expect("template");
            c.create_endpoint(&CreateEndpointRequest::from_template(name, t.id))
                .await
                .expect("endpoint");
        }
    };
    let orphan =
        podwarden_core::ids::endpoint_name(e.install(), podwarden_core::EndpointRecordId::new());
    mk(orphan.clone()).await;
    mk("my-own-endpoint".into()).await;
    mk(podwarden_core::ids::endpoint_name("otherinstall", podwarden_core::EndpointRecordId::new()))
        .await;
    let report = e.tick().await.expect("tick");
    assert!(
        report
            .endpoints
            .actions
            .iter()
            .any(|a| matches!(a, EpAction::DeleteOrphan { name, .. } if *name == orphan)),
        "{report:?}"
    );
    let (eps, tpls) = provider(&emu);
    assert!(
        !eps.contains(&orphan) && !tpls.contains(&format!("{orphan}-tpl")),
        "orphan and its template deleted"
    );
    assert_eq!(eps.len(), 2, "foreign endpoints untouched: {eps:?}");
    assert_eq!(tpls.len(), 2);
}

#[tokio::test]
async fn an_endpoint_deleted_behind_our_back_is_recreated() {
    let (emu, e) = setup().await;
    let d = e.deploy(spec(""), "alice").await.expect("deploy");
    let id = d.row.endpoint_id.clone().expect("id");
    emu.client().delete_endpoint(&runpod::EndpointId::new(&id)).await.expect("delete by hand");
    e.tick().await.expect("tick: notice");
    e.tick().await.expect("tick: converge");
    let row = e.endpoint("alice", "predict").await.expect("row");
    assert_eq!(row.state, EndpointState::Ready);
    assert_ne!(row.endpoint_id.as_deref(), Some(id.as_str()));
    assert_eq!(provider(&emu).0, vec![row.resource_name.clone()]);
}

/// Drift is measured against the endpoint the provider runs, and repaired.
#[tokio::test]
async fn an_endpoint_changed_behind_our_back_is_put_back_at_the_next_sweep() {
    let (emu, e) = setup().await;
    let d = e.deploy(spec(""), "alice").await.expect("deploy");
    let id = d.row.endpoint_id.clone().expect("endpoint id");
    assert!(
        e.tick().await.expect("first sweep").endpoints.actions.is_empty(),
        "nothing drifted yet"
    );
    // Someone edits the endpoint in RunPod's console.
    let edit = runpod::types::endpoints::UpdateEndpointRequest {
        image: Some("someone/else:9".into()),
        ..Default::default()
    };
    emu.client().update_endpoint(&runpod::EndpointId::new(&id), &edit).await.expect("edit");
    assert!(
        e.tick().await.expect("tick").endpoints.actions.is_empty(),
        "an idle engine sweeps once a minute"
    );
    emu.advance(std::time::Duration::from_secs(61));
    let report = e.tick().await.expect("sweep");
    assert!(
        report.endpoints.actions.iter().any(|a| matches!(a, EpAction::Repair { .. })),
        "{report:?}"
    );
    e.tick().await.expect("converge");
    assert_eq!(
        emu.shared.world.lock().endpoints[&id].image.as_deref(),
        Some("img:1"),
        "repaired in place"
    );
    let row = e.endpoints("alice").await.expect("ls").into_iter().next().expect("row");
    assert_eq!(row.state, EndpointState::Ready);
}

/// RunPod lowers an idle endpoint's max workers to 2 after 3 days and to 0 after 7
/// (`serverless/endpoints/endpoint-configurations.mdx`): jobs would then queue until their TTL.
/// The next sweep puts the spec's max back.
#[tokio::test]
async fn an_endpoint_runpod_scaled_down_after_idle_days_is_repaired() {
    let (emu, e) = setup().await;
    let d = e.deploy(spec("[workers]\nmin = 0\nmax = 3\n"), "alice").await.expect("deploy");
    let id = d.row.endpoint_id.clone().expect("endpoint id");
    assert!(e.tick().await.expect("first sweep").endpoints.actions.is_empty());
    emu.advance(std::time::Duration::from_secs(8 * 24 * 3600));
    assert_eq!(emu.shared.world.lock().endpoints[&id].workers_max, 0, "RunPod's shrink");
    let report = e.tick().await.expect("sweep");
    assert!(
        report
            .endpoints
            .actions
            .iter()
            .any(|a| matches!(a, EpAction::Repair { drift, .. } if drift.contains("max workers"))),
        "{report:?}"
    );
    e.tick().await.expect("converge");
    assert_eq!(emu.shared.world.lock().endpoints[&id].workers_max, 3, "repaired");
    emu.advance(std::time::Duration::from_secs(61));
    assert!(
        e.tick().await.expect("sweep").endpoints.actions.is_empty(),
        "repaired once, not every minute"
    );
}
