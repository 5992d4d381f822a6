use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use clawvisor::cli::{Cli, Cmd, LogFormat};
use clawvisor::config::{Config, DEFAULT_CONFIG_PATH};
use clawvisor::control::{ControlContext, ControlServer};
use clawvisor::supervisor::Runner;

/// The commented example config, printed by `clawvisor init`.
const EXAMPLE_CONFIG: &str = include_str!("../examples/clawvisor.toml");
/// The demo's config; `@FAKE_GATEWAY@` and `@DIR@` are filled in at run time.
const DEMO_CONFIG: &str = include_str!("../examples/demo.toml");

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format, &cli.log_level);
    let code = match cli.command {
        Cmd::Run { config } => match load_config(config.as_deref()) {
            Ok(cfg) => run(cfg),
            Err(msg) => {
                eprintln!("{msg}");
                78
            }
        },
        Cmd::Check { config } => check(config.as_deref()),
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
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn init_tracing(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// The config to run with: the given file, else the default file if present, else defaults.
fn load_config(path: Option<&Path>) -> Result<Config, String> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None if Path::new(DEFAULT_CONFIG_PATH).exists() => PathBuf::from(DEFAULT_CONFIG_PATH),
        None => {
            tracing::info!(
                "no config file ({DEFAULT_CONFIG_PATH} does not exist): using built-in defaults"
            );
            return Ok(Config::default());
        }
    };
    let (cfg, warnings) = Config::load_with_warnings(&path)
        .map_err(|e| format!("{e}\nclawvisor: the config has errors; not starting"))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(cfg)
}

fn check(path: Option<&Path>) -> i32 {
    let path = path.map_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH), Path::to_path_buf);
    match Config::load_with_warnings(&path) {
        Ok((_, warnings)) => {
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            println!("{}: ok ({} warning(s))", path.display(), warnings.len());
            0
        }
        Err(errors) => {
            eprintln!("{errors}");
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
            eprintln!("clawvisor: cannot start the async runtime: {e}");
            return 1;
        }
    };
    // Claim the control socket before anything is spawned: a second clawvisor stops here.
    let control = match ControlServer::bind(&cfg.control) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return 1;
        }
    };
    // Likewise the metrics port: a taken port is an error before the gateway starts.
    let metrics = match clawvisor::metrics::MetricsServer::bind(&cfg) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!("{e}");
            return 1;
        }
    };
    rt.block_on(async move {
        let (runner, parts) = match Runner::start(cfg) {
            Ok(r) => r,
            Err(msg) => {
                tracing::error!("{msg}");
                return 1;
            }
        };
        let control = control.serve(ControlContext {
            inbox: parts.inbox.clone(),
            logs: parts.logs.clone(),
            notices: parts.notices.clone(),
        });
        let metrics = metrics.map(|m| m.serve(parts.inbox.clone(), &parts.notices));
        let code = runner.run().await;
        if let Some(m) = metrics {
            m.abort();
        }
        // Aborting the server's task removes the socket file.
        control.abort();
        let _ = control.await;
        code
    })
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
