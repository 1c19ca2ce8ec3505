//! The pod state machine: stop, terminate, start, container restarts, billing accrual, the boot tick, the container process and its exit.

use super::*;

impl World {
    /// Stop: EXITED, GPUs released, the volume kept and billed at the stopped rate.
    pub fn pod_stop(&mut self, id: &str, now: DateTime<Utc>) -> ApiResult<()> {
        self.accrue_pod(id, now);
        let grace = self.cfg.pods.stop_grace_ms;
        let pod = self.pods.get_mut(id).ok_or_else(ApiError::not_found)?;
        pod.status = PodStatus::Exited;
        pod.phase_until = None;
        pod.logs.push(now, "system", "pod stopped");
        let kill = pod.container.running.then(|| Effect::Kill {
            owner: Owner::Pod(id.to_owned()),
            generation: pod.container.generation,
            grace_ms: grace,
        });
        pod.container.running = false;
        pod.container.up = false;
        pod.published.clear();
        let release = pod.holds_gpus.then(|| (pod.gpu.clone(), pod.data_center.clone(), pod.cloud));
        pod.holds_gpus = false;
        if let Some(k) = kill {
            self.effect(k);
        }
        if let Some((Some((g, c)), dc, cloud)) = release {
            self.catalog.release(&g, c, &dc, cloud);
        }
        Ok(())
    }

    /// Terminate: the process tree is killed, GPUs released, the pod disappears from the API.
    pub fn pod_terminate(&mut self, id: &str, now: DateTime<Utc>) -> ApiResult<()> {
        self.accrue_pod(id, now);
        let pod = self
            .pods
            .get_mut(id)
            .filter(|p| p.status != PodStatus::Terminated)
            .ok_or_else(ApiError::not_found)?;
        pod.status = PodStatus::Terminated;
        pod.phase_until = None;
        pod.terminated_at = Some(now);
        pod.logs.push(now, "system", "pod terminated");
        pod.logs.close();
        let kill = pod.container.running.then(|| Effect::Kill {
            owner: Owner::Pod(id.to_owned()),
            generation: pod.container.generation,
            grace_ms: 0,
        });
        pod.container.running = false;
        let release = pod.holds_gpus.then(|| (pod.gpu.clone(), pod.data_center.clone(), pod.cloud));
        pod.holds_gpus = false;
        let key = pod.key.clone();
        // Its global-network address is free again, and its name gone from the others'.
        let network = pod.private_ip.take().map(|_| pod.account.clone());
        self.pod_keys.remove(&key);
        if let Some(acct) = network {
            self.hosts_changed(&acct);
        }
        if let Some(k) = kill {
            self.effect(k);
        }
        let dir = self.state_dir.join("pods").join(id);
        self.effect(Effect::RemoveDir(dir));
        if let Some((Some((g, c)), dc, cloud)) = release {
            self.catalog.release(&g, c, &dc, cloud);
        }
        Ok(())
    }

    pub(super) fn pod_start(&mut self, id: &str, now: DateTime<Utc>) -> ApiResult<()> {
        self.accrue_pod(id, now);
        let (gpu, dc, cloud) = {
            let p = self.pod_live(id)?;
            (p.gpu.clone(), p.data_center.clone(), p.cloud)
        };
        if let Some((g, c)) = &gpu {
            // A stopped pod resumes on its own host, so only that data center counts.
            if !self.catalog.allocate_exact(g, *c, &dc, cloud) {
                return Err(ApiError::bad_request(NOT_ENOUGH_FREE_GPUS_DETAIL));
            }
        }
        let starting = self.cfg.pods.starting_secs;
        let pod = self.pods.get_mut(id).ok_or_else(ApiError::not_found)?;
        pod.holds_gpus = gpu.is_some();
        pod.status = PodStatus::Starting;
        pod.phase_until = Some(after(now, starting));
        pod.preempted = false;
        pod.logs.push(now, "system", "pod starting");
        self.tick_pod(id, now);
        Ok(())
    }

    pub(super) fn pod_restart_container(&mut self, id: &str, now: DateTime<Utc>, why: &str) {
        let starting = self.cfg.pods.starting_secs;
        let Some(pod) = self.pods.get_mut(id) else { return };
        pod.logs.push(now, "system", why.to_owned());
        let kill = pod.container.running.then(|| Effect::Kill {
            owner: Owner::Pod(id.to_owned()),
            generation: pod.container.generation,
            grace_ms: 0,
        });
        pod.container.running = false;
        pod.container.up = false;
        pod.container.exited_at = None;
        pod.status = PodStatus::Starting;
        pod.phase_until = Some(after(now, starting));
        if let Some(k) = kill {
            self.effect(k);
        }
        self.tick_pod(id, now);
    }

    /// Bills the pod up to `to` at its current rate.
    pub(super) fn accrue_pod(&mut self, id: &str, to: DateTime<Utc>) {
        let Some(p) = self.pods.get_mut(id) else { return };
        let from = p.billed_until;
        if to <= from {
            return;
        }
        p.billed_until = to;
        let rate = p.current_rate();
        let gpu_share =
            if rate > 0.0 && p.status.is_billing_compute() { p.compute_per_hr / rate } else { 0.0 };
        self.charge(Kind::Pod, id, from, to, rate, Split { gpu_share });
    }

    pub(crate) fn log_pod(&self, id: &str, now: DateTime<Utc>, source: &'static str, line: &str) {
        if let Some(p) = self.pods.get(id) {
            p.logs.push(now, source, line.to_owned());
        }
    }

    pub(crate) fn tick_pods(&mut self, now: DateTime<Utc>) {
        let ids: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, p)| p.status != PodStatus::Terminated)
            .map(|(k, _)| k.clone())
            .collect();
        for id in ids {
            self.tick_pod(&id, now);
        }
    }

    /// Advances one pod to `now`, transition by transition, billing each phase at its rate.
    pub(crate) fn tick_pod(&mut self, id: &str, now: DateTime<Utc>) {
        loop {
            let Some(p) = self.pods.get(id) else { return };
            let until = p.phase_until;
            match (p.status, until) {
                (PodStatus::Provisioning, Some(t)) if now >= t => {
                    let pull = self.pull_secs(&p.image);
                    let boot = p.boot_secs.unwrap_or(self.cfg.pods.starting_secs);
                    self.accrue_pod(id, t);
                    let starting = boot + pull.unwrap_or(0.0);
                    let Some(p) = self.pods.get_mut(id) else { return };
                    p.status = PodStatus::Starting;
                    p.phase_until = Some(after(t, starting));
                    p.logs.push(t, "system", format!("pulling image {}", p.image));
                }
                (PodStatus::Starting, Some(t)) if now >= t && !p.boot_hang => {
                    self.accrue_pod(id, t);
                    let Some(p) = self.pods.get_mut(id) else { return };
                    p.status = PodStatus::Running;
                    p.phase_until = None;
                    p.started_at = Some(t);
                    p.started_at_text = Some(rfc3339(t));
                    if p.never_boots {
                        break;
                    }
                    p.logs.push(t, "system", "container started");
                    self.spawn_container(id, t);
                }
                _ => break,
            }
        }
        let restart_delay = self.cfg.pods.restart_delay_secs;
        let Some(p) = self.pods.get(id) else { return };
        if p.status == PodStatus::Running {
            if let (Some(pre), Some(started)) = (p.preempt_after_secs, p.started_at) {
                let at = after(started, pre);
                if now >= at {
                    self.accrue_pod(id, at);
                    self.log_pod(
                        id,
                        at,
                        "system",
                        "pod preempted: interruptible capacity reclaimed (SIGTERM, then SIGKILL)",
                    );
                    // Its GPUs went to whoever reclaimed them: not back to the free stock.
                    if let Some(p) = self.pods.get_mut(id) {
                        p.holds_gpus = false;
                    }
                    let _ = self.pod_stop(id, at);
                    if let Some(p) = self.pods.get_mut(id) {
                        p.preempted = true;
                    }
                    self.accrue_pod(id, now);
                    return;
                }
            }
            if !p.container.running {
                if let Some(exited) = p.container.exited_at {
                    let at = after(exited, restart_delay);
                    if now >= at {
                        self.accrue_pod(id, at);
                        if let Some(p) = self.pods.get_mut(id) {
                            p.container.restarts += 1;
                        }
                        self.log_pod(id, at, "system", "restarting container");
                        self.spawn_container(id, at);
                    }
                }
            }
        }
        self.accrue_pod(id, now);
    }

    pub(super) fn spawn_container(&mut self, id: &str, now: DateTime<Utc>) {
        let generation = self.generation();
        let private_net = self.private_net_at_start(id, now);
        let Some(p) = self.pods.get(id) else { return };
        let resolved = self.resolve_container(&p.account, &p.image, p.registry.as_deref(), &p.args);
        let mut volumes = Vec::new();
        if let Some(v) = &p.mounts.persistent {
            volumes.push((self.pod_volume_dir(id), v.path.clone()));
        }
        for n in p.mounts.network.iter().flatten() {
            volumes.push((self.volume_dir(n.volume_id.as_str()), n.path.clone()));
        }
        let scratch = self.state_dir.join("pods").join(id).join("container");
        // RunPod's variables (docs: pods/references/environment-variables); nothing of the
        // emulator's own environment.
        let mut env: Vec<(String, String)> = vec![
            ("RUNPOD_POD_ID".into(), p.id.clone()),
            ("RUNPOD_API_KEY".into(), p.key.clone()),
            ("RUNPOD_POD_HOSTNAME".into(), format!("{}-emulator", p.id)),
            ("RUNPOD_GPU_COUNT".into(), p.gpu.as_ref().map_or(0, |g| g.1).to_string()),
            ("RUNPOD_CPU_COUNT".into(), p.cpu.as_ref().map_or(4, |c| c.1).to_string()),
            ("RUNPOD_DC_ID".into(), p.data_center.clone()),
            ("RUNPOD_PUBLIC_IP".into(), "127.0.0.1".into()),
        ];
        if let Some(nv) = p.mounts.network.as_ref().and_then(|n| n.first()) {
            env.push(("RUNPOD_VOLUME_ID".into(), nv.volume_id.0.clone()));
        }
        if p.start_jupyter && !p.env.contains_key("JUPYTER_PASSWORD") {
            env.push(("JUPYTER_PASSWORD".into(), random_id(16)));
        }
        env.extend(p.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        // Secrets are resolved at each boot: a rotated value applies from the next one.
        let resolved = resolved.and_then(|r| Ok((r, self.substitute_secrets(&p.account, env)?)));
        let ((image, argv), mut env) = match resolved {
            Ok(r) => r,
            Err(why) => {
                // Nothing starts; the restart loop retries (a pull, or a start with bad args).
                let Some(p) = self.pods.get_mut(id) else { return };
                p.logs.push(now, "system", why);
                p.container.running = false;
                p.container.exited_at = Some(now);
                return;
            }
        };
        let sshd = match (image.sshd, &self.cfg.sshd_program) {
            (true, Some(program)) => Some(program.clone()),
            (true, None) => {
                p.logs.push(now, "system", "emulator: this image ships sshd, but the emulator has no podwarden-emulator-sshd to stand for it (config `sshd_program`); the pod has no sshd".to_owned());
                None
            }
            (false, _) => None,
        };
        // Published TCP ports: a port of this machine stands for each public port, as RunPod
        // maps a host port to the container's (`RUNPOD_TCP_PORT_<n>`, runtime.ports).
        let community = p.cloud == Cloud::Community;
        let (published, listeners) = self.publish_ports(&p.ports, community, &p.logs, now);
        env.extend(
            published.iter().map(|(private, public)| {
                (format!("RUNPOD_TCP_PORT_{private}"), public.to_string())
            }),
        );
        let ports_dir = self.state_dir.join("pods").join(id).join("ports");
        let Some(p) = self.pods.get_mut(id) else { return };
        p.published = published.clone();
        p.container.generation = generation;
        p.container.running = true;
        p.container.up = true;
        p.container.exited_at = None;
        let container = crate::process::ContainerSpec {
            image,
            argv,
            env,
            volumes,
            hostname: p.id.clone(),
            scratch,
            sshd,
            published: (!published.is_empty())
                .then(|| (published.iter().map(|(private, _)| *private).collect(), ports_dir)),
            private_net,
        };
        let effect = Effect::Spawn(Box::new(SpawnSpec {
            owner: Owner::Pod(id.to_owned()),
            generation,
            container,
            logs: p.logs.clone(),
            published: listeners,
        }));
        self.effect(effect);
    }

    /// Listeners on this machine's loopback for a pod's `N/tcp` ports (HTTP ports go through
    /// RunPod's proxy, which the emulator does not have). Unsandboxed containers share the
    /// host's network, so nothing is mapped for them.
    fn publish_ports(
        &self,
        ports: &[String],
        community: bool,
        logs: &LogBuffer,
        now: DateTime<Utc>,
    ) -> (Vec<(u16, u16)>, Listeners) {
        let (mut map, mut listeners) = (Vec::new(), Vec::new());
        if self.cfg.unsandboxed {
            return (map, listeners);
        }
        if community && ports.iter().any(|p| p.ends_with("/tcp")) {
            // Stricter reading: a Community host may have no public IP, and REST v2 has no
            // field to ask for one (docs/emulator.md).
            logs.push(
                now,
                "system",
                "emulator: this Community Cloud host has no public IP: TCP ports are not mapped"
                    .to_owned(),
            );
            return (map, listeners);
        }
        for port in ports {
            let Some(private) = port.strip_suffix("/tcp").and_then(|p| p.parse::<u16>().ok())
            else {
                continue;
            };
            if map.iter().any(|(p, _)| *p == private) {
                continue;
            }
            match std::net::TcpListener::bind(("127.0.0.1", 0))
                .and_then(|l| Ok((l.local_addr()?.port(), l)))
            {
                Ok((public, l)) => {
                    map.push((private, public));
                    listeners.push((private, l));
                }
                Err(e) => logs.push(
                    now,
                    "system",
                    format!("emulator: cannot publish port {private}/tcp: {e}"),
                ),
            }
        }
        (map, listeners)
    }

    /// Directory of a pod's own volume (kept across restarts and stops, gone at terminate).
    pub(super) fn pod_volume_dir(&self, id: &str) -> std::path::PathBuf {
        self.state_dir.join("pods").join(id).join("volume")
    }

    /// A pod process ended (or failed to start).
    pub(crate) fn pod_process_exited(
        &mut self,
        id: &str,
        generation: u64,
        code: Option<i32>,
        now: DateTime<Utc>,
    ) {
        let restart = self.cfg.pods.restart_delay_secs;
        let Some(p) = self.pods.get_mut(id) else { return };
        if p.container.generation != generation || !p.container.running {
            return;
        }
        p.container.running = false;
        p.container.exited_at = Some(now);
        p.container.last_exit_code = code;
        // Its relays closed with it: no port is advertised that nothing serves.
        p.published.clear();
        let code = code.map_or_else(|| "a signal".to_owned(), |c| c.to_string());
        p.logs.push(
            now,
            "system",
            format!("container exited with code {code}; restarting in {restart}s"),
        );
    }
}

/// A container's published ports' listeners: (port in the container, its public side).
type Listeners = Vec<(u16, std::net::TcpListener)>;
