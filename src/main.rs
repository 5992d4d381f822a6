use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use clawvisor::cli::{Cli, Cmd, LogFormat};
use clawvisor::config::{Config, ConfigError, ConfigErrors, DEFAULT_CONFIG_PATH};
use clawvisor::control::{ControlContext, ControlServer};
use clawvisor::runtime::Runner;
use clawvisor::supervisor::persist::{self, PersistedState};

/// The commented example config, printed by `clawvisor init`.
const EXAMPLE_CONFIG: &str = include_str!("../examples/clawvisor.toml");
/// The demo's config; `@FAKE_GATEWAY@` and `@DIR@` are filled in at run time.
const DEMO_CONFIG: &str = include_str!("../examples/demo.toml");

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_tracing(cli.log_format, &cli.log_level) {
        eprintln!(
            "clawvisor: --log-level {:?}: {e} (try \"info\", \"debug\" or \"clawvisor=debug\")",
            cli.log_level
        );
        return ExitCode::from(2);
    }
    let json = matches!(cli.log_format, LogFormat::Json);
    let code = match cli.command {
        Cmd::Run { config } => match load_config(config.as_deref()) {
            Ok((cfg, warnings)) => {
                for w in warnings {
                    report(&w, json, false);
                }
                run(cfg)
            }
            Err(errors) => {
                for e in &errors.0 {
                    report(e, json, true);
                }
                let n = errors.0.len();
                if json {
                    tracing::error!(problems = n, "the config has {n} problem(s); not starting");
                } else {
                    eprintln!("clawvisor: the config has {n} problem(s); not starting");
                }
                78
            }
        },
        Cmd::Check { config } => check(config.as_deref(), json),
        Cmd::Ctl(args) => clawvisor::control::run_ctl(args),
        Cmd::Init => {
            print!("{EXAMPLE_CONFIG}");
            0
        }
        Cmd::Demo { dir } => match demo_config(&dir) {
            Ok(cfg) => run(cfg),
            Err(msg) => {
                eprintln!("{msg}");
                1
            }
        },
        Cmd::Completions { shell } => {
            match clawvisor::cli_docs::write_completions(shell, &mut std::io::stdout().lock()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("clawvisor completions: {e}");
                    1
                }
            }
        }
        Cmd::Man { dir } => man(dir.as_deref()),
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn init_tracing(format: LogFormat, level: &str) -> Result<(), String> {
    clawvisor::self_log::init(format, level)
}

/// One config problem on stderr: a plain line, or with `--log-format json` a JSON event
/// with the key and place as fields.
fn report(e: &ConfigError, json: bool, error: bool) {
    if !json {
        let prefix = if error { "" } else { "warning: " };
        eprintln!("{prefix}{e}");
        return;
    }
    let key = e.key.as_deref().unwrap_or("");
    let (line, column) = e.line_col.unwrap_or((0, 0));
    if error {
        tracing::error!(config = %e.origin, key, line, column, "{e}");
    } else {
        tracing::warn!(config = %e.origin, key, line, column, "{e}");
    }
}

/// The config to run with: the given file, else the default file if present, else defaults;
/// checked against this machine by the preflight that `check` also runs.
fn load_config(path: Option<&Path>) -> Result<(Config, Vec<ConfigError>), ConfigErrors> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None if Path::new(DEFAULT_CONFIG_PATH).exists() => PathBuf::from(DEFAULT_CONFIG_PATH),
        None => {
            tracing::info!(
                "no config file ({DEFAULT_CONFIG_PATH} does not exist): using built-in defaults"
            );
            let cfg = Config::default();
            return preflight(cfg, Vec::new());
        }
    };
    let (cfg, warnings) = Config::load_with_warnings(&path)?;
    preflight(cfg, warnings)
}

fn man(dir: Option<&Path>) -> i32 {
    let written = match dir {
        None => clawvisor::cli_docs::write_main_page(&mut std::io::stdout().lock()),
        Some(dir) => std::fs::create_dir_all(dir)
            .and_then(|()| clawvisor::cli_docs::write_all_pages(dir))
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
    };
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("clawvisor man: {e}");
            1
        }
    }
}

fn preflight(
    cfg: Config,
    warnings: Vec<ConfigError>,
) -> Result<(Config, Vec<ConfigError>), ConfigErrors> {
    let socket = clawvisor::control::socket_path(&cfg.control);
    let problems = clawvisor::preflight::problems(&cfg, Some(&socket));
    if problems.is_empty() {
        let mut warnings = warnings;
        let more = clawvisor::preflight::warnings(&cfg);
        if !more.is_empty() {
            warnings.extend(clawvisor::config::locate(cfg.source.as_deref(), more).0);
        }
        Ok((cfg, warnings))
    } else {
        Err(clawvisor::config::locate(cfg.source.as_deref(), problems))
    }
}

fn check(path: Option<&Path>, json: bool) -> i32 {
    let path = path.map_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH), Path::to_path_buf);
    match Config::load_with_warnings(&path).and_then(|(cfg, w)| preflight(cfg, w)) {
        Ok((_, warnings)) => {
            for w in &warnings {
                report(w, json, false);
            }
            println!("{}: ok ({} warning(s))", path.display(), warnings.len());
            0
        }
        Err(errors) => {
            for e in &errors.0 {
                report(e, json, true);
            }
            eprintln!("{}: {} problem(s)", path.display(), errors.0.len());
            1
        }
    }
}

fn run(cfg: Config) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("clawvisor")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!(
                "clawvisor: cannot start the async runtime: {}",
                clawvisor::process::limits::explain(&e)
            );
            return 1;
        }
    };
    // Claim the control socket before anything is spawned: a second clawvisor stops here.
    let control = match ControlServer::bind(&cfg.control) {
        Ok(c) => c,
        Err(e) => {
            // Out of descriptors already (a tiny `ulimit -n`): say which limit.
            let errno = std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .and_then(std::io::Error::raw_os_error);
            tracing::error!("{e}{}", clawvisor::process::limits::hint(errno, None));
            return 1;
        }
    };
    let cfg_jobs = cfg.clone();
    // Likewise the metrics port: a taken port is an error before the gateway starts.
    let metrics = match clawvisor::metrics::MetricsServer::bind(&cfg) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!("{e}");
            return 1;
        }
    };
    let code = rt.block_on(async move {
        let (runner, parts) = match Runner::start(cfg) {
            Ok(r) => r,
            Err(msg) => {
                // What fails here (the log dir, the gateway's user) comes from the config.
                tracing::error!("{msg}");
                return 78;
            }
        };
        let deps = clawvisor::jobs::Deps {
            aux: parts.aux.clone(),
            inbox: parts.inbox.clone(),
            gateway: parts.gateway.clone(),
            readings: parts.readings.clone(),
        };
        let (jobs, jobs_task) = match clawvisor::jobs::start(&cfg_jobs, deps) {
            Ok(Some((h, t))) => (Some(h), Some(t)),
            Ok(None) => (None, None),
            Err(msg) => {
                tracing::error!("{msg}");
                return 1;
            }
        };
        let control = control.serve(ControlContext {
            inbox: parts.inbox.clone(),
            logs: parts.logs.clone(),
            notices: parts.notices.clone(),
            jobs,
        });
        let metrics = metrics.map(|m| m.serve(parts.inbox.clone(), &parts.notices));
        let code = runner.run().await;
        // Running jobs were told to stop when the shutdown began; wait for their records.
        if let Some(t) = jobs_task {
            t.finished(
                cfg_jobs
                    .jobs
                    .iter()
                    .map(|j| j.stop_grace.get())
                    .max()
                    .unwrap_or_default()
                    + std::time::Duration::from_secs(10),
            )
            .await;
        }
        if let Some(m) = metrics {
            m.abort();
        }
        // Aborting the server's task removes the socket file.
        control.abort();
        let _ = control.await;
        code
    });
    // Bounded: a blocking task stuck in a driver call must not keep clawvisor from exiting
    // (dropping the runtime would wait for it for ever).
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

fn demo_config(dir: &Path) -> Result<Config, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own binary: {e}"))?;
    let fake = exe.with_file_name("fake-gateway");
    if !fake.exists() {
        return Err(format!(
            "the demo needs the fake gateway at {} (build it with `cargo build --release`)",
            fake.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    // A demo left paused by an earlier run would start paused with nothing on screen to say
    // why: the demo is for watching restarts, so it says so and starts fresh.
    let state_dir = dir.join("state");
    if let Ok(PersistedState { pause: Some(p), .. }) = persist::load(&state_dir) {
        eprintln!(
            "clawvisor demo: the last demo run ended paused ({}); starting fresh",
            p.reason
        );
        std::fs::remove_file(persist::path_in(&state_dir))
            .map_err(|e| format!("{}: {e}", persist::path_in(&state_dir).display()))?;
    }
    let text = DEMO_CONFIG
        .replace("@FAKE_GATEWAY@", &fake.display().to_string())
        .replace("@DIR@", &dir.display().to_string());
    eprintln!(
        "clawvisor demo: supervising {} (it crashes now and then); logs in {}/logs, Ctrl-C to stop",
        fake.display(),
        dir.display()
    );
    Config::parse(&text, "built-in demo config").map_err(|e| e.to_string())
}
