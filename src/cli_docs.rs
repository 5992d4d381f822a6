//! Shell completions and manual pages, generated from the same clap definition as the CLI,
//! so they cannot drift from what `clawvisor` accepts.

use std::io::{self, Write};
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Writes the completion script for `shell` (bash, zsh, fish, ...).
pub fn write_completions(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    // clap_complete panics when its writer fails (a closed pipe): render into memory first.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "clawvisor", &mut script);
    out.write_all(&script)?;
    out.flush()
}

/// Writes clawvisor(1): the synopsis, options and subcommands from clap, then the sections
/// clap does not know (exit status, signals, files).
pub fn write_main_page(out: &mut dyn Write) -> io::Result<()> {
    let man = clap_mangen::Man::new(Cli::command());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    out.write_all(EXTRA_SECTIONS.as_bytes())?;
    man.render_version_section(out)
}

/// Writes clawvisor.1 and one page per subcommand (clawvisor-run.1, clawvisor-ctl-status.1,
/// ...) into `dir`, which must exist.
pub fn write_all_pages(dir: &Path) -> io::Result<()> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        clap_mangen::generate_to(sub.clone(), dir)?;
    }
    let mut file = io::BufWriter::new(std::fs::File::create(dir.join("clawvisor.1"))?);
    write_main_page(&mut file)?;
    file.flush()
}

/// roff for what clap cannot describe. Kept short: the README has the details.
const EXTRA_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
\fBclawvisor run\fR
The gateway's exit status when clawvisor stops because of it, 128+N when signal N ended it,
0 when nothing was running, 78 for a config with errors, 1 when clawvisor cannot start.
.TP
\fBclawvisor check\fR
0 when the config is clean (warnings allowed), 1 otherwise; every problem is printed as
\fIkey\fR at \fIfile:line:column\fR: \fIproblem\fR.
.TP
\fBclawvisor ctl\fR
0 done, 1 refused or failed, 2 usage error, 3 clawvisor not reachable.
.SH SIGNALS
.TP
\fBTERM\fR, \fBINT\fR, \fBQUIT\fR
Stop the gateway gracefully (stop.signal, then SIGKILL to its whole tree after stop.timeout)
and exit with its status. A second one kills at once.
.TP
\fBHUP\fR
Reload the config; a config with errors is refused and the old one kept.
.TP
\fBUSR2\fR
Passed to the gateway (gateway.forward_signals): openclaw's restart request, restarted at
once without a backoff penalty.
.SH FILES
.TP
\fI/etc/clawvisor/clawvisor.toml\fR
The config (\fBclawvisor init\fR prints a commented one).
.TP
\fI/etc/clawvisor/\fRNAME\fI.toml\fR
The config of the template unit instance \fBclawvisor@\fRNAME\fB.service\fR.
.TP
\fI/var/lib/clawvisor/state.json\fR
The pause record: reason, time, last exit, last lines of output.
.TP
\fI/var/log/clawvisor/\fR
The gateway's rotated, compressed logs.
.TP
\fI/run/clawvisor/clawvisor.sock\fR
The control socket used by \fBclawvisor ctl\fR.
.SH "SEE ALSO"
\fBsystemctl\fR(1), \fBjournalctl\fR(1), \fBsystemd.service\fR(5),
\fI/usr/share/doc/clawvisor/README.md.gz\fR
"#;
