//! `flapjack bench`: the server's load tool. It speaks raw OSCAR over real TCP (flapjack-wire,
//! no mocks) to a spawned `flapjack serve` (or an in-process server) and measures:
//!
//! * `im`: delivered IMs per second and p50 / p99 delivery latency, with pairs of signed-on
//!   bot accounts exchanging IMs both ways, a fixed number in flight per pair;
//! * `relay`: the same load through a trivial TCP relay, the physical-limit reference;
//! * `logins`: full BUCP logins + BOS sign-ons per second (with per-login latency);
//! * `openauth`: OpenAuth (clientLogin + startOSCARSession) + BOS sign-ons per second, at the
//!   server's default argon2id costs;
//! * `idle`: server memory (VmRSS) per idle signed-on session at several session counts.
//!
//! Every run is bounded in count and time, talks to loopback only, and stops by itself. The
//! load accounts are bot accounts (relaxed rate classes, still enforced); rate limits stay on.
//! Clients spread over 127.100.x.y source addresses to stay under the server's per-address
//! connection limit. Each figure is the median of `--runs` runs.

mod load;
mod proto;
mod relay;
mod stats;
mod target;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use self::load::{LoadConfig, LoadResult};
use self::stats::{Percentiles, load_average, median};
use self::target::{PASSWORD, ServerKind, Target, openauth_name, user_name};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// IM throughput and delivery latency through the server.
    Im,
    /// The same load through a trivial TCP relay (the reference).
    Relay,
    /// BUCP logins + BOS sign-ons per second.
    Logins,
    /// OpenAuth logins + BOS sign-ons per second.
    Openauth,
    /// Server memory per idle session.
    Idle,
    /// All of the above, in that order.
    All,
    /// Run the relay itself (what `relay` spawns).
    #[value(hide = true)]
    RelayServe,
}

/// Options of `flapjack bench`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    flapjack bench im                      # 50 pairs, 32 IMs in flight each, 3 runs of 10 s\n  \
    flapjack bench relay                   # the same load through a trivial TCP relay\n  \
    flapjack bench logins --users 5000     # BUCP + BOS sign-ons per second\n  \
    flapjack bench openauth                # OpenAuth + BOS sign-ons per second\n  \
    flapjack bench idle                    # RSS per idle session at 1k/5k/10k/19k sessions\n\n\
    The tool and a spawned server each need about as many file descriptors as sessions: raise\n\
    `ulimit -n` (20,000 allows the idle run up to 19,000 sessions).")]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Run the server as a child process (`flapjack serve`) or inside this process.
    #[arg(long, value_enum, default_value_t = ServerKind::Spawn)]
    pub server: ServerKind,
    /// Data directory with the load accounts (created and reused; default: a fresh directory
    /// under /dev/shm, removed at the end).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Runs per figure (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// IM pairs (each pair exchanges IMs both ways).
    #[arg(long, default_value_t = 50)]
    pub pairs: usize,
    /// IMs in flight per pair (half each way).
    #[arg(long, default_value_t = 32)]
    pub in_flight: usize,
    /// Measured seconds per IM run.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Warm-up seconds before each IM run's measurement.
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
    /// Users signing on per login run.
    #[arg(long, default_value_t = 5000)]
    pub users: usize,
    /// Logins in progress at once.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// OpenAuth logins per run.
    #[arg(long, default_value_t = 200)]
    pub openauth_logins: usize,
    /// OpenAuth logins in progress at once.
    #[arg(long, default_value_t = 16)]
    pub openauth_concurrency: usize,
    /// Idle session counts at which the server's memory is read.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000,19000")]
    pub sessions: Vec<usize>,
    /// Seconds to let the server settle before each memory reading.
    #[arg(long, default_value_t = 3.0)]
    pub settle_secs: f64,
    /// Print the results as one JSON object on standard output.
    #[arg(long)]
    pub json: bool,
    /// (relay-serve) Where the relay listens.
    #[arg(long, hide = true)]
    pub listen: Option<SocketAddr>,
}

/// Runs `flapjack bench`.
pub fn run(args: BenchArgs) -> Result<(), String> {
    if args.scenario == Scenario::RelayServe {
        let listen = args.listen.ok_or("relay-serve needs --listen")?;
        return relay::serve(listen, 3600);
    }
    if args.runs == 0 || args.pairs == 0 || args.in_flight < 2 || args.users == 0 || args.concurrency == 0 {
        return Err("--runs, --pairs, --users and --concurrency must be positive, --in-flight at least 2".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let (dir, remove) = match &args.data_dir {
        Some(d) => (d.clone(), false),
        None => {
            let base = if std::path::Path::new("/dev/shm").is_dir() {
                PathBuf::from("/dev/shm")
            } else {
                std::env::temp_dir()
            };
            (base.join(format!("flapjack-bench-{}", std::process::id())), true)
        }
    };
    let result = rt.block_on(run_scenarios(&args, &dir));
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    if args.json {
        println!("{report}");
    }
    Ok(())
}

fn say(args: &BenchArgs, line: impl AsRef<str>) {
    // Progress and tables go to stderr under --json, so that stdout is the JSON alone.
    if args.json {
        eprintln!("{}", line.as_ref());
    } else {
        println!("{}", line.as_ref());
    }
}

async fn run_scenarios(args: &BenchArgs, dir: &std::path::Path) -> Result<Value, String> {
    say(args, machine_line());
    let mut report = serde_json::Map::new();
    report.insert("machine".into(), machine_json());
    let all = args.scenario == Scenario::All;
    if all || args.scenario == Scenario::Im {
        report.insert("im".into(), bench_im(args, dir).await?);
    }
    if all || args.scenario == Scenario::Relay {
        report.insert("relay".into(), bench_relay(args).await?);
    }
    if all || args.scenario == Scenario::Logins {
        report.insert("logins".into(), bench_logins(args, dir).await?);
    }
    if all || args.scenario == Scenario::Openauth {
        report.insert("openauth".into(), bench_openauth(args, dir).await?);
    }
    if all || args.scenario == Scenario::Idle {
        report.insert("idle".into(), bench_idle(args, dir).await?);
    }
    Ok(Value::Object(report))
}

// -------------------------------------------------------------------------------------------
// IMs

fn load_config(args: &BenchArgs) -> LoadConfig {
    LoadConfig {
        in_flight: args.in_flight,
        warmup: Duration::from_secs_f64(args.warmup_secs.clamp(0.0, 60.0)),
        measure: Duration::from_secs_f64(args.secs.clamp(0.1, 300.0)),
    }
}

fn load_json(r: &LoadResult, load: Option<f64>) -> Value {
    json!({
        "delivered": r.delivered,
        "secs": r.secs,
        "per_sec": r.per_sec(),
        "p50_us": r.latency_us.p50,
        "p99_us": r.latency_us.p99,
        "max_us": r.latency_us.max,
        "sent": r.sent,
        "rate_changes": r.rate_changes,
        "errors": r.errors,
        "closed_early": r.closed_early,
        "received_total": r.received_total,
        "server_cpu_us_per_im": r.server_cpu_us,
        "tool_cpu_us_per_im": r.tool_cpu_us,
        "load_average": load,
    })
}

fn load_line(what: &str, run: usize, r: &LoadResult, load: Option<f64>) -> String {
    format!(
        "{what}: run {run}: delivered {} IMs in {:.1} s = {:.0} IMs/s; latency p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs; \
         sent {}, rate notices {}, errors {}, closed early {}; CPU per IM: server {} µs, tool {} µs; load average {}",
        r.delivered,
        r.secs,
        r.per_sec(),
        r.latency_us.p50,
        r.latency_us.p99,
        r.latency_us.max,
        r.sent,
        r.rate_changes,
        r.errors,
        r.closed_early,
        fmt_us(r.server_cpu_us),
        fmt_us(r.tool_cpu_us),
        fmt_load(load)
    )
}

fn fmt_us(v: Option<f64>) -> String {
    v.map_or_else(|| "?".into(), |v| format!("{v:.2}"))
}

fn fmt_load(load: Option<f64>) -> String {
    load.map_or_else(|| "?".into(), |l| format!("{l:.2}"))
}

fn summarize_loads(args: &BenchArgs, what: &str, results: &[(LoadResult, Option<f64>)]) -> Value {
    let rates: Vec<f64> = results.iter().map(|(r, _)| r.per_sec()).collect();
    let p50: Vec<f64> = results.iter().map(|(r, _)| r.latency_us.p50).collect();
    let p99: Vec<f64> = results.iter().map(|(r, _)| r.latency_us.p99).collect();
    let loads: Vec<f64> = results.iter().filter_map(|(_, l)| *l).collect();
    let server_cpu: Vec<f64> = results.iter().filter_map(|(r, _)| r.server_cpu_us).collect();
    let tool_cpu: Vec<f64> = results.iter().filter_map(|(r, _)| r.tool_cpu_us).collect();
    let m = json!({
        "per_sec": median(&rates),
        "p50_us": median(&p50),
        "p99_us": median(&p99),
        "server_cpu_us_per_im": median(&server_cpu),
        "tool_cpu_us_per_im": median(&tool_cpu),
        "load_average": median(&loads),
    });
    say(
        args,
        format!(
            "{what}: median of {} runs: {:.0} IMs/s, p50 {:.0} µs, p99 {:.0} µs, CPU per IM: server {:.2} µs, tool {:.2} µs \
             ({} pairs, {} in flight per pair)",
            results.len(),
            median(&rates),
            median(&p50),
            median(&p99),
            median(&server_cpu),
            median(&tool_cpu),
            args.pairs,
            args.in_flight
        ),
    );
    json!({
        "pairs": args.pairs,
        "in_flight": args.in_flight,
        "runs": results.iter().map(|(r, l)| load_json(r, *l)).collect::<Vec<_>>(),
        "median": m,
    })
}

async fn bench_im(args: &BenchArgs, dir: &std::path::Path) -> Result<Value, String> {
    let users = 2 * args.pairs;
    target::provision(dir, users, 0).await?;
    let server = Target::start(args.server, dir, false).await?;
    let result = im_runs(args, &server).await;
    server.stop().await;
    result
}

async fn im_runs(args: &BenchArgs, server: &Target) -> Result<Value, String> {
    let users = 2 * args.pairs;
    let mut results = Vec::new();
    for run in 1..=args.runs {
        let signed = sign_on_many(server.oscar, 0..users, args.concurrency.min(64)).await?;
        let mut conns: Vec<Option<proto::Conn>> = signed.conns.into_iter().map(Some).collect();
        let mut pairs = Vec::with_capacity(args.pairs);
        for i in 0..args.pairs {
            let a = endpoint(conns[2 * i].take().ok_or("missing session")?, user_name(2 * i + 1));
            let b = endpoint(conns[2 * i + 1].take().ok_or("missing session")?, user_name(2 * i));
            pairs.push((a, b));
        }
        let load_before = load_average();
        let r = load::run(pairs, load_config(args), server.pid()).await?;
        say(args, load_line("im", run, &r, load_before));
        results.push((r, load_before));
        // Let the server see the sessions go before the next run signs on again.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(summarize_loads(args, "im", &results))
}

fn endpoint(conn: proto::Conn, peer_name: String) -> load::Endpoint {
    let (rd, wr, leftover, seq, request_id) = conn.into_parts();
    load::Endpoint {
        rd,
        wr,
        leftover,
        seq,
        request_id,
        peer_name,
    }
}

async fn bench_relay(args: &BenchArgs) -> Result<Value, String> {
    let relay = relay::RelayProcess::spawn().await?;
    say(
        args,
        format!("relay: pid {}", relay.pid().map_or("?".into(), |p| p.to_string())),
    );
    let mut results = Vec::new();
    let mut failure = None;
    for run in 1..=args.runs {
        let pairs = match relay::connect_pairs(relay.addr, args.pairs).await {
            Ok(p) => p,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let load_before = load_average();
        match load::run(pairs, load_config(args), relay.pid().unwrap_or_else(std::process::id)).await {
            Ok(r) => {
                say(args, load_line("relay", run, &r, load_before));
                results.push((r, load_before));
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    relay.stop().await;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(summarize_loads(args, "relay", &results))
}

// -------------------------------------------------------------------------------------------
// Logins

/// Sessions signed on by [`sign_on_many`].
struct SignedOn {
    conns: Vec<proto::Conn>,
    latencies_us: Vec<u32>,
    elapsed: Duration,
}

/// Signs users `range` on (BUCP + BOS), `concurrency` at a time; the connections in user order.
async fn sign_on_many(
    server: SocketAddr,
    range: std::ops::Range<usize>,
    concurrency: usize,
) -> Result<SignedOn, String> {
    let first = range.start;
    let n = range.len();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.min(n).max(1) {
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= n {
                    return Ok::<_, String>(out);
                }
                let i = first + k;
                let t = Instant::now();
                let src = Some(proto::source_address(i));
                let conn = proto::sign_on(src, server, &user_name(i), PASSWORD)
                    .await
                    .map_err(|e| format!("{}: {e}", user_name(i)))?;
                out.push((k, conn, u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX)));
            }
        }));
    }
    let mut all = Vec::with_capacity(n);
    let mut error = None;
    for w in workers {
        match w.await.map_err(|e| e.to_string()) {
            Ok(Ok(v)) => all.extend(v),
            Ok(Err(e)) | Err(e) => error = error.or(Some(e)),
        }
    }
    let elapsed = started.elapsed();
    if let Some(e) = error {
        return Err(e);
    }
    all.sort_by_key(|(k, _, _)| *k);
    let latencies_us = all.iter().map(|(_, _, l)| *l).collect();
    Ok(SignedOn {
        conns: all.into_iter().map(|(_, c, _)| c).collect(),
        latencies_us,
        elapsed,
    })
}

fn login_json(n: usize, elapsed: Duration, lat: &mut [u32], load: Option<f64>) -> (f64, Percentiles, Value) {
    let per_sec = n as f64 / elapsed.as_secs_f64().max(1e-9);
    let p = Percentiles::of(lat);
    let v = json!({
        "logins": n,
        "secs": elapsed.as_secs_f64(),
        "per_sec": per_sec,
        "p50_ms": p.p50 / 1000.0,
        "p99_ms": p.p99 / 1000.0,
        "max_ms": p.max / 1000.0,
        "load_average": load,
    });
    (per_sec, p, v)
}

async fn bench_logins(args: &BenchArgs, dir: &std::path::Path) -> Result<Value, String> {
    check_fds(args.users + args.concurrency)?;
    target::provision(dir, args.users, 0).await?;
    let server = Target::start(args.server, dir, false).await?;
    let result = login_runs(args, &server).await;
    server.stop().await;
    result
}

async fn login_runs(args: &BenchArgs, server: &Target) -> Result<Value, String> {
    let mut runs = Vec::new();
    let (mut rates, mut p50s, mut p99s, mut loads) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut cpu_server, mut cpu_tool) = (Vec::new(), Vec::new());
    for run in 1..=args.runs {
        let load_before = load_average();
        let cpu = stats::CpuMeter::start(server.pid());
        let mut signed = sign_on_many(server.oscar, 0..args.users, args.concurrency).await?;
        let (server_cpu, tool_cpu) = cpu.stop();
        let (per_sec, p, mut v) = login_json(args.users, signed.elapsed, &mut signed.latencies_us, load_before);
        let per_login = |s: f64| s * 1e6 / args.users as f64;
        v["server_cpu_us_per_login"] = json!(server_cpu.map(per_login));
        v["tool_cpu_us_per_login"] = json!(tool_cpu.map(per_login));
        cpu_server.extend(server_cpu.map(per_login));
        cpu_tool.extend(tool_cpu.map(per_login));
        say(
            args,
            format!(
                "logins: run {run}: {} BUCP logins + BOS sign-ons in {:.2} s = {per_sec:.0}/s; per login p50 {:.1} ms, \
                 p99 {:.1} ms ({} at once); CPU per login: server {} µs, tool {} µs; load average {}",
                args.users,
                signed.elapsed.as_secs_f64(),
                p.p50 / 1000.0,
                p.p99 / 1000.0,
                args.concurrency,
                fmt_us(server_cpu.map(per_login)),
                fmt_us(tool_cpu.map(per_login)),
                fmt_load(load_before)
            ),
        );
        rates.push(per_sec);
        p50s.push(p.p50 / 1000.0);
        p99s.push(p.p99 / 1000.0);
        loads.extend(load_before);
        runs.push(v);
        sign_off_all(signed.conns).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    say(
        args,
        format!(
            "logins: median of {} runs: {:.0} logins/s (BUCP + full BOS sign-on), p50 {:.1} ms, p99 {:.1} ms, \
             CPU per login: server {:.0} µs, tool {:.0} µs",
            args.runs,
            median(&rates),
            median(&p50s),
            median(&p99s),
            median(&cpu_server),
            median(&cpu_tool)
        ),
    );
    Ok(json!({
        "users": args.users,
        "concurrency": args.concurrency,
        "runs": runs,
        "median": {
            "per_sec": median(&rates), "p50_ms": median(&p50s), "p99_ms": median(&p99s), "load_average": median(&loads),
            "server_cpu_us_per_login": median(&cpu_server), "tool_cpu_us_per_login": median(&cpu_tool),
        },
    }))
}

/// Says goodbye on every connection (an empty channel-4 frame) and closes them.
async fn sign_off_all(conns: Vec<proto::Conn>) {
    let mut tasks = Vec::new();
    let mut it = conns.into_iter().peekable();
    while it.peek().is_some() {
        let batch: Vec<proto::Conn> = it.by_ref().take(256).collect();
        tasks.push(tokio::spawn(async move {
            for c in batch {
                c.sign_off().await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn bench_openauth(args: &BenchArgs, dir: &std::path::Path) -> Result<Value, String> {
    let accounts = args.openauth_logins.clamp(1, 1000);
    target::provision(dir, 0, accounts).await?;
    let server = Target::start(args.server, dir, true).await?;
    let result = openauth_runs(args, &server, accounts).await;
    server.stop().await;
    result
}

async fn openauth_runs(args: &BenchArgs, server: &Target, accounts: usize) -> Result<Value, String> {
    let http = server.http.ok_or("the server has no HTTP listener")?;
    let n = args.openauth_logins;
    let defaults = flapjack_auth::password::Argon2Params::default();
    let mut runs = Vec::new();
    let (mut rates, mut p50s, mut p99s, mut loads) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut cpu_server = Vec::new();
    for run in 1..=args.runs {
        let load_before = load_average();
        let cpu = stats::CpuMeter::start(server.pid());
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..args.openauth_concurrency.clamp(1, n) {
            let next = next.clone();
            workers.push(tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= n {
                        return Ok::<_, String>(out);
                    }
                    let t = Instant::now();
                    let conn =
                        openauth_sign_on(http, &openauth_name(k % accounts), Some(proto::source_address(k))).await?;
                    out.push((conn, u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX)));
                }
            }));
        }
        let mut conns = Vec::new();
        let mut lat = Vec::new();
        let mut error = None;
        for w in workers {
            match w.await.map_err(|e| e.to_string()) {
                Ok(Ok(v)) => {
                    for (c, l) in v {
                        conns.push(c);
                        lat.push(l);
                    }
                }
                Ok(Err(e)) | Err(e) => error = error.or(Some(e)),
            }
        }
        let elapsed = started.elapsed();
        if let Some(e) = error {
            return Err(e);
        }
        let (server_cpu, _) = cpu.stop();
        let (per_sec, p, mut v) = login_json(n, elapsed, &mut lat, load_before);
        let server_ms = server_cpu.map(|s| s * 1e3 / n as f64);
        v["server_cpu_ms_per_login"] = json!(server_ms);
        cpu_server.extend(server_ms);
        say(
            args,
            format!(
                "openauth: run {run}: {n} OpenAuth logins + BOS sign-ons in {:.2} s = {per_sec:.1}/s; per login p50 {:.0} ms, \
                 p99 {:.0} ms ({} at once; argon2id m={} KiB, t={}, p={}); server CPU per login {} ms; load average {}",
                elapsed.as_secs_f64(),
                p.p50 / 1000.0,
                p.p99 / 1000.0,
                args.openauth_concurrency,
                defaults.memory_kib,
                defaults.iterations,
                defaults.parallelism,
                server_ms.map_or_else(|| "?".into(), |m| format!("{m:.1}")),
                fmt_load(load_before)
            ),
        );
        rates.push(per_sec);
        p50s.push(p.p50 / 1000.0);
        p99s.push(p.p99 / 1000.0);
        loads.extend(load_before);
        runs.push(v);
        drop(conns);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    say(
        args,
        format!(
            "openauth: median of {} runs: {:.1} logins/s, p50 {:.0} ms, p99 {:.0} ms, server CPU per login {:.1} ms",
            args.runs,
            median(&rates),
            median(&p50s),
            median(&p99s),
            median(&cpu_server)
        ),
    );
    Ok(json!({
        "logins": n,
        "concurrency": args.openauth_concurrency,
        "argon2": {"memory_kib": defaults.memory_kib, "iterations": defaults.iterations, "parallelism": defaults.parallelism},
        "runs": runs,
        "median": {
            "per_sec": median(&rates), "p50_ms": median(&p50s), "p99_ms": median(&p99s), "load_average": median(&loads),
            "server_cpu_ms_per_login": median(&cpu_server),
        },
    }))
}

/// clientLogin + startOSCARSession over plain HTTP, then the BOS sign-on.
async fn openauth_sign_on(http: SocketAddr, name: &str, src: Option<IpAddr>) -> Result<proto::Conn, String> {
    let mut cfg = flapjack_client::OpenAuthConfig::new(format!("http://{http}"));
    cfg.use_tls = false;
    cfg.timeout = proto::WAIT;
    let tls = flapjack_client::TlsOptions {
        webpki_roots: false,
        ..flapjack_client::TlsOptions::default()
    };
    let login = flapjack_client::openauth::login(&cfg, &tls, name, PASSWORD)
        .await
        .map_err(|e| format!("{name}: OpenAuth: {}", e.error))?;
    let t = login.target;
    let host: IpAddr = t.host.parse().map_err(|e| format!("BOS host {:?}: {e}", t.host))?;
    let ticket = proto::Ticket {
        bos: SocketAddr::new(host, t.port),
        cookie: t.cookie,
    };
    proto::bos_sign_on(src, &ticket).await
}

// -------------------------------------------------------------------------------------------
// Idle sessions

/// The descriptors this process may open.
fn check_fds(needed: usize) -> Result<(), String> {
    let limit = std::fs::read_to_string("/proc/self/limits").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse::<usize>().ok())
    });
    match limit {
        Some(l) if l < needed + 64 => Err(format!(
            "this needs about {} file descriptors but `ulimit -n` is {l}: raise it (the server needs as many)",
            needed + 64
        )),
        _ => Ok(()),
    }
}

async fn bench_idle(args: &BenchArgs, dir: &std::path::Path) -> Result<Value, String> {
    let mut points = args.sessions.clone();
    points.sort_unstable();
    points.dedup();
    let max = *points.last().ok_or("--sessions is empty")?;
    let concurrency = args.concurrency.min(64);
    check_fds(max + concurrency)?;
    if args.server != ServerKind::Spawn {
        say(
            args,
            "idle: note: with --server in-process the memory read is the load tool's and the server's together",
        );
    }
    target::provision(dir, max, 0).await?;
    let settle = Duration::from_secs_f64(args.settle_secs.clamp(0.0, 60.0));
    // rss[run][point], base[run]
    let mut table: Vec<Vec<(usize, u64)>> = Vec::new();
    let mut bases = Vec::new();
    let mut runs_json = Vec::new();
    for run in 1..=args.runs {
        let server = Target::start(args.server, dir, false).await?;
        let outcome = idle_run(args, &server, &points, concurrency, settle).await;
        server.stop().await;
        let (base, readings, load) = outcome?;
        let mut line = format!("idle: run {run}: base {:.1} MiB", base as f64 / 1024.0);
        let mut prev = (0usize, base);
        let mut pts = Vec::new();
        for &(n, rss) in &readings {
            let per = (rss.saturating_sub(base)) as f64 / n as f64;
            let marginal = rss.saturating_sub(prev.1) as f64 / (n - prev.0).max(1) as f64;
            line.push_str(&format!(
                "; {n} sessions: {:.1} MiB = {per:.2} KiB/session ({marginal:.2} KiB each since {})",
                rss as f64 / 1024.0,
                prev.0
            ));
            pts.push(
                json!({"sessions": n, "rss_kib": rss, "kib_per_session": per, "marginal_kib_per_session": marginal}),
            );
            prev = (n, rss);
        }
        line.push_str(&format!("; load average {}", fmt_load(load)));
        say(args, line);
        runs_json.push(json!({"base_rss_kib": base, "points": pts, "load_average": load}));
        bases.push(base as f64);
        table.push(readings);
    }
    let mut medians = Vec::new();
    let mut prev: (usize, f64) = (0, median(&bases));
    for (i, &n) in points.iter().enumerate() {
        let rss: Vec<f64> = table.iter().filter_map(|r| r.get(i)).map(|&(_, v)| v as f64).collect();
        let per: Vec<f64> = table
            .iter()
            .zip(&bases)
            .filter_map(|(r, b)| r.get(i).map(|&(_, v)| (v as f64 - b) / n as f64))
            .collect();
        let m_rss = median(&rss);
        let m_per = median(&per);
        let marginal = (m_rss - prev.1) / (n - prev.0).max(1) as f64;
        say(
            args,
            format!(
                "idle: median of {} runs: {n} sessions: RSS {:.1} MiB, {m_per:.2} KiB per session \
                 ({marginal:.2} KiB per session added since {})",
                table.len(),
                m_rss / 1024.0,
                prev.0
            ),
        );
        medians.push(
            json!({"sessions": n, "rss_kib": m_rss, "kib_per_session": m_per, "marginal_kib_per_session": marginal}),
        );
        prev = (n, m_rss);
    }
    Ok(json!({
        "base_rss_kib": median(&bases),
        "runs": runs_json,
        "median": medians,
    }))
}

type IdleReadings = (u64, Vec<(usize, u64)>, Option<f64>);

async fn idle_run(
    args: &BenchArgs,
    server: &Target,
    points: &[usize],
    concurrency: usize,
    settle: Duration,
) -> Result<IdleReadings, String> {
    tokio::time::sleep(settle).await;
    let base = server.rss_kib()?;
    let load = load_average();
    let mut held: Vec<proto::Conn> = Vec::new();
    let mut readings = Vec::new();
    for &n in points {
        let from = held.len();
        if n > from {
            let signed = sign_on_many(server.oscar, from..n, concurrency).await?;
            say(
                args,
                format!(
                    "idle: {} → {n} sessions signed on in {:.1} s",
                    from,
                    signed.elapsed.as_secs_f64()
                ),
            );
            held.extend(signed.conns);
        }
        tokio::time::sleep(settle).await;
        readings.push((n, server.rss_kib()?));
    }
    drop(held);
    Ok((base, readings, load))
}

// -------------------------------------------------------------------------------------------
// The machine

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn mem_total_gib() -> Option<f64> {
    let t = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: f64 = t
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0 / 1024.0)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

fn machine_line() -> String {
    format!(
        "machine: {} ({} cores), {:.1} GiB RAM; load average {}; the load tool and the server share these cores",
        cpu_model(),
        cores(),
        mem_total_gib().unwrap_or(0.0),
        fmt_load(load_average())
    )
}

fn machine_json() -> Value {
    json!({
        "cpu": cpu_model(),
        "cores": cores(),
        "mem_gib": mem_total_gib(),
        "load_average": load_average(),
    })
}
