//! clawvisor's own log (stderr): colour only for a person at a terminal, and the journal's
//! own form under systemd, so files and `journalctl` store clean, filterable lines.

use std::fmt;
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::LogFormat;

/// How stderr is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A terminal, NO_COLOR unset: coloured text with timestamps.
    Colour,
    /// A file or a pipe: the same text without escape codes.
    Plain,
    /// stderr is the journal (JOURNAL_STREAM names it): sd-daemon priority prefixes (`<3>`
    /// error, `<4>` warning, `<6>` info, `<7>` debug) and no timestamp: the journal has one.
    Journal,
}

/// The style for this process's stderr, from what the environment says.
pub fn detect() -> Style {
    let stderr = std::io::stderr();
    let journal = std::env::var("JOURNAL_STREAM").ok();
    let ids = stderr
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .and_then(|fd| std::fs::File::from(fd).metadata().ok())
        .map(|m| (m.dev(), m.ino()));
    choose(
        stderr.is_terminal(),
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        journal.as_deref(),
        ids,
    )
}

/// Pure: `journal_stream` is JOURNAL_STREAM ("DEV:INODE"), `stderr_ids` stderr's (dev, inode).
/// A JOURNAL_STREAM inherited by a process whose stderr was redirected does not match.
pub fn choose(
    is_tty: bool,
    no_color: bool,
    journal_stream: Option<&str>,
    stderr_ids: Option<(u64, u64)>,
) -> Style {
    let on_journal = journal_stream
        .and_then(|j| j.split_once(':'))
        .and_then(|(d, i)| Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?)))
        .is_some_and(|ids| Some(ids) == stderr_ids);
    if on_journal {
        Style::Journal
    } else if is_tty && !no_color {
        Style::Colour
    } else {
        Style::Plain
    }
}

/// Installs the global subscriber for clawvisor's diagnostics.
pub fn init(format: LogFormat, level: &str) -> Result<(), String> {
    // A bare word is a target name to the filter syntax ("loud" = everything from a crate
    // named loud): here it is surely a misspelt level.
    for d in level.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if !d.contains(['=', '['])
            && d.parse::<tracing_subscriber::filter::LevelFilter>()
                .is_err()
        {
            return Err(format!(
                "{d:?} is not a level (off, error, warn, info, debug, trace) nor a TARGET=LEVEL directive"
            ));
        }
    }
    let filter = tracing_subscriber::EnvFilter::builder()
        .parse(level)
        .map_err(|e| e.to_string())?;
    let style = detect();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(style == Style::Colour);
    match (format, style) {
        (LogFormat::Json, _) => builder.json().flatten_event(true).init(),
        (LogFormat::Text, Style::Journal) => builder
            .event_format(JournalFormat(
                tracing_subscriber::fmt::format()
                    .without_time()
                    .with_level(false)
                    .with_target(false)
                    .with_ansi(false),
            ))
            .init(),
        (LogFormat::Text, _) => builder.init(),
    }
    Ok(())
}

/// The sd-daemon(3) priority of a level.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Prefixes each line with its priority, then writes it as `inner` would.
struct JournalFormat<F>(F);

impl<S, N, F> FormatEvent<S, N> for JournalFormat<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color_and_journal_only_when_it_is_stderr() {
        let ids = Some((64769, 1234));
        let cases = [
            (true, false, None, Style::Colour),
            (true, true, None, Style::Plain),
            (false, false, None, Style::Plain),
            (false, false, Some("64769:1234"), Style::Journal),
            (true, false, Some("64769:1234"), Style::Journal),
            // Inherited from a unit, but stderr now goes elsewhere.
            (false, false, Some("64769:999"), Style::Plain),
            (false, false, Some("garbage"), Style::Plain),
        ];
        for (tty, no_color, js, want) in cases {
            assert_eq!(
                choose(tty, no_color, js, ids),
                want,
                "{tty} {no_color} {js:?}"
            );
        }
        assert_eq!(priority(&Level::WARN), 4);
    }
}
