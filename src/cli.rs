//! Command-line interface.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

/// What `--version` prints: the crate version and the git commit it was built from (set by
/// build.rs from `git`, or from $CLAWVISOR_GIT_COMMIT where there is no checkout, as in a
/// container build; "unknown" otherwise).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("CLAWVISOR_GIT_COMMIT"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "clawvisor",
    version = VERSION,
    about = "Supervises openclaw gateway: restarts, logs, health, pause-for-a-human"
)]
pub struct Cli {
    /// Format of clawvisor's own diagnostics on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true, env = "CLAWVISOR_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Level filter for clawvisor's own diagnostics (e.g. "info", "debug", "clawvisor=debug").
    #[arg(long, default_value = "info", global = true, env = "CLAWVISOR_LOG")]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the gateway under supervision (foreground; for systemd, containers, or by hand).
    Run {
        /// Config file. Default: $CLAWVISOR_CONFIG, else /etc/clawvisor/clawvisor.toml if it
        /// exists, else built-in defaults.
        #[arg(long, short, env = "CLAWVISOR_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check a config file and report every problem at once.
    Check {
        #[arg(long, short, env = "CLAWVISOR_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Talk to a running clawvisor through its control socket (status, pause, resume, ...).
    Ctl(crate::control::CtlArgs),
    /// Print a commented config for openclaw to start from.
    Init,
    /// Run the demo: clawvisor supervising the bundled fake gateway, which crashes now and
    /// then, so restarts with backoff are visible. Ctrl-C ends it.
    Demo {
        /// Where the demo keeps its logs, state and socket.
        #[arg(long, default_value = "clawvisor-demo")]
        dir: PathBuf,
    },
    /// Print a shell completion script (bash: source it, or install it as
    /// /usr/share/bash-completion/completions/clawvisor).
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the manual page clawvisor(1) as roff (`clawvisor man | man -l -`).
    Man {
        /// Write clawvisor.1 and a page per subcommand (clawvisor-ctl-status.1, ...) into
        /// this directory instead.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}
