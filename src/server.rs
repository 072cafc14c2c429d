//! The server: opens the store, rebuilds the figures, starts the tick and
//! serves HTTP and websockets until told to stop.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, mpsc as std_mpsc};

use anyhow::Context;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::access::Access;
use crate::aggregate::saved::Starting;
use crate::aggregate::tick::{self, TickEngine};
use crate::config::Config;
use crate::http::access as access_http;
use crate::http::{AppState, app};
use crate::metrics::Metrics;
use crate::publish::Hubs;
use crate::region::Region;
use crate::store::access::AuditRow;
use crate::store::{Replay, Store};
use crate::{ingest, settings, time, wall};

/// The first staff account from `WEIBING_ADMIN_PASSWORD`, when there is none.
async fn first_admin(config: &Config, access: &Access, store: &Store) -> anyhow::Result<bool> {
    let Some(password) = config.admin_password.clone().filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    if access.has_users() {
        return Ok(false);
    }
    let user =
        tokio::task::spawn_blocking(move || access_http::new_user("admin", &password, "env"))
            .await?
            .map_err(|e| anyhow::anyhow!("WEIBING_ADMIN_PASSWORD: {e}"))?;
    store.add_user(user.clone()).await?;
    access.add_user(&user);
    store
        .audit(AuditRow {
            at: user.created_at,
            actor: "env".into(),
            action: "user_created".into(),
            target: Some(user.name.clone()),
            address: None,
            detail: Some("first staff account, from WEIBING_ADMIN_PASSWORD".into()),
        })
        .await?;
    tracing::info!("staff account admin created from WEIBING_ADMIN_PASSWORD");
    Ok(true)
}

/// Every tick, ends the credentials that expired: their sockets close at once.
async fn expire_credentials(
    access: Arc<Access>,
    store: Store,
    every: std::time::Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let now = time::now_beijing_micros();
        for id in access.expire(now) {
            access_http::audit(
                &store,
                "server",
                "credential_expired",
                Some(&id),
                None,
                None,
            )
            .await;
        }
    }
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub epoch: u64,
    /// What the handlers reach (for the CLI's demo set-up).
    pub state: AppState,
    /// Whether this start created the staff account `admin`.
    pub created_admin: bool,
    shutdown: watch::Sender<bool>,
    hubs: Arc<Hubs>,
    serve: JoinHandle<std::io::Result<()>>,
    tick: JoinHandle<()>,
    writer: std::thread::JoinHandle<()>,
}

/// Opens the store, replays it, binds `config.listen` and starts serving.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    crate::access::check_secrets(config.admin_token.as_deref(), config.ingest_key.as_deref())?;
    let mut region = Region::load(&config.region)?;
    if let Some(start) = config.program_start {
        region = region.starting(start);
    }
    let region = Arc::new(region);
    let (accepted_tx, accepted_rx) = std_mpsc::channel();
    let path = config.database_path();
    let opening = {
        let region = region.clone();
        tokio::task::spawn_blocking(move || {
            let mut starting = Starting::load(&path, &region, time::now_beijing_micros());
            let opened = Store::open_loading_every(
                &path,
                &region,
                &mut starting,
                accepted_tx,
                config.load_every,
            )?;
            let saved = starting.resume().map(|r| r.events);
            anyhow::Ok((opened, starting.agg, saved))
        })
    };
    let (mut opened, agg, saved) = opening
        .await?
        .with_context(|| format!("opening the store at {}", config.database_path().display()))?;
    let wall = Arc::new(Mutex::new(wall::from_setting(&opened.settings)));
    let settings = Arc::new(std::sync::RwLock::new(settings::Settings::from_settings(
        &opened.settings,
    )));
    let access = Arc::new(Access::new(
        region.clone(),
        config.admin_token.clone(),
        config.ingest_key.clone(),
        std::mem::take(&mut opened.access),
    ));
    let created_admin = first_admin(&config, &access, &opened.store).await?;
    let metrics = Arc::new(Metrics::new(config.database_path()));
    metrics.start_replayed.set(opened.replayed as i64);
    metrics.start_resumed.set(opened.resumed as i64);
    metrics.saved_events.set(saved.unwrap_or(0) as i64);

    let keys = {
        let access = access.clone();
        Box::new(move |now| access.ingest_keys(now))
    };
    let closes = crate::aggregate::history::Shared::default();
    // The open items of 一帐三单, kept by the handlers from now on.
    let open_items: crate::aggregate::alerts::OpenItems = Default::default();
    *open_items.lock().expect("the open items' lock") = opened
        .store
        .ledger_items()
        .await?
        .into_iter()
        .filter(|i| i.done_at.is_none())
        .filter_map(|i| {
            Some(crate::aggregate::alerts::OpenItem {
                id: i.id,
                district: region.district_index(&i.district)?,
                deadline: i.deadline,
            })
        })
        .collect();
    let shared = tick::Shared {
        wall: wall.clone(),
        settings: settings.clone(),
        metrics: metrics.clone(),
        keys,
        closes: closes.clone(),
        open_items: open_items.clone(),
    };
    let start = tick::Start {
        covered: opened.covered,
        saved,
    };
    // The team names of the events stored (the figures hold every one).
    let mut teams = ingest::teams::Teams::new(
        config.max_teams_per_district,
        region.districts.len(),
        agg.teams.iter().map(|t| (t.district, t.name.to_string())),
    );
    // The registry: the region's file with staff's edits over it.
    let registry: crate::region::Registry =
        Arc::new(std::sync::RwLock::new(crate::region::with_edits(
            region.teams.clone(),
            opened.store.team_edits(region.clone()).await?,
        )));
    if config.refuse_unregistered_teams {
        let known = registry.read().expect("the registry's lock").clone();
        teams = teams.refusing_unregistered(&region, &known);
    }
    let teams = Arc::new(teams);
    let mut engine = TickEngine::new(region.clone(), agg, accepted_rx, start, shared)?;
    let (engine, first, now) = tokio::task::spawn_blocking(move || {
        let now = time::now_beijing_micros();
        let first = engine.tick(now);
        (engine, first, now)
    })
    .await?;
    let epoch = chrono::Utc::now().timestamp_millis() as u64;
    metrics.ticked(0.0, now);
    let hubs = Arc::new(Hubs::new(epoch, &first?, now, metrics.fan_out.clone()));

    let bounds = ingest::bounds::Bounds {
        max_body_bytes: config.max_body_bytes,
        max_decoded_bytes: config.max_decoded_bytes,
        rejected_per_request: config.max_rejected_per_request,
        rejected_per_key_day: config.max_rejected_per_key_day,
        rejected_bytes_per_key_day: config.max_rejected_bytes_per_key_day,
        teams_per_district: config.max_teams_per_district,
    };
    let now = time::now_beijing_micros();
    let kept_today = opened
        .store
        .rejected_kept_since(ingest::bounds::day_start(now))
        .await?;
    let rejected_allowance = Arc::new(ingest::bounds::Allowance::new(&bounds, now, kept_today));

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let region_arg = config.region.clone();
    let mut state = AppState {
        hubs: hubs.clone(),
        store: opened.store,
        region,
        access: access.clone(),
        settings,
        secure_cookies: config.secure_cookies,
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        sockets: crate::publish::limit::SocketLimit::new(crate::publish::limit::Bounds {
            per_address: config.max_sockets_per_address,
            per_credential: config.max_sockets_per_link,
            total: config.max_sockets,
            resyncs_per_minute: config.resyncs_per_minute,
        }),
        wall,
        wall_posts: Arc::default(),
        wake: wake.clone(),
        ingest_bounds: bounds,
        rejected_allowance,
        teams,
        registry,
        open_items,
        metrics: metrics.clone(),
        tick: config.tick,
        bus: None,
    };
    if let Some(nats) = &config.nats {
        let client = crate::publish::bus::client(&nats.url, "weibing-primary").await?;
        state.bus = Some(client.clone());
        let info = crate::publish::bus::PrimaryInfo {
            epoch,
            tick_ms: config.tick.as_millis() as u64,
            url: nats
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{addr}")),
            districts: state
                .region
                .districts
                .iter()
                .map(|d| d.code.clone())
                .collect(),
        };
        let (region, hubs, access) = (state.region.clone(), hubs.clone(), access.clone());
        let (counts, replicas) = (metrics.relay.clone(), nats.replicas);
        let mut shutdown = shutdown_rx.clone();
        tokio::spawn(async move {
            let Some(bus) =
                crate::publish::bus::Bus::when_up(client, Some(replicas), &mut shutdown).await
            else {
                return;
            };
            let relay = crate::publish::bus::Relay {
                bus,
                names: crate::publish::bus::Names::new(&region_arg),
                region,
                hubs,
                access,
                info,
                counts,
            };
            relay.run(shutdown).await;
        });
    }
    tokio::spawn(expire_credentials(
        access,
        state.store.clone(),
        config.tick,
        shutdown_rx.clone(),
    ));
    tokio::spawn(crate::aggregate::history::run(
        state.region.clone(),
        state.store.clone(),
        closes,
        state.settings.clone(),
        config.history_every,
        shutdown_rx.clone(),
    ));
    let tick = tokio::spawn(crate::live::run(
        engine,
        hubs.clone(),
        config.tick,
        wake,
        shutdown_rx.clone(),
        metrics,
        state.store.clone(),
        crate::live::SavePolicy {
            database: config.database_path(),
            every_events: config.save_every_events,
            min_interval: config.save_min_interval,
        },
    ));
    let mut stop = shutdown_rx;
    let kept = state.clone();
    let connections = kept.metrics.connections.clone();
    let _ = &mut stop;
    let serve = tokio::spawn(crate::serving::serve(
        listener,
        app(state),
        crate::serving::Limits {
            max_connections: config.max_connections,
            header_timeout: config.header_timeout,
        },
        connections,
        stop,
    ));
    tracing::info!(
        %addr,
        epoch,
        replayed = opened.replayed,
        resumed = opened.resumed,
        "serving"
    );
    Ok(Running {
        addr,
        epoch,
        state: kept,
        created_admin,
        shutdown,
        hubs,
        serve,
        tick,
        writer: opened.writer,
    })
}

impl Running {
    /// Stops accepting, closes websockets with 1001, finishes requests in
    /// flight, and checkpoints the store. Returns when the file is closed.
    pub async fn stop(self) -> anyhow::Result<()> {
        // Our store handle goes first: the writer ends when the last one does.
        drop(self.state);
        self.hubs.close();
        let _ = self.shutdown.send(true);
        self.serve.await??;
        self.tick.await?;
        // The writer ends (after a checkpoint) once every store handle is gone.
        let writer = self.writer;
        tokio::task::spawn_blocking(move || writer.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the store writer panicked"))?;
        Ok(())
    }

    /// Runs until ctrl-c or SIGTERM, then stops gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("stopping");
        self.stop().await
    }
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
