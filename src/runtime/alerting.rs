//! The brain's alerts in the alert router's terms: what kind, how severe, about what, and
//! the context a person needs (the pause reason, last exit, last lines, resume command).

use crate::alerts::{Alert, Details, Severity};

use crate::supervisor::AlertAbout;
use crate::supervisor::State;

/// The subject of everything the gateway's lifecycle raises.
pub const GATEWAY: &str = "gateway";

/// An `Action::Alert` as an [`Alert`], with context from the state after `decide()`.
/// `resume_cmd` is the exact command that clears a pause on this machine.
pub fn alert_for(about: &AlertAbout, summary: String, s: &State, resume_cmd: &str) -> Alert {
    let (kind, severity, subject) = classify(about);
    let mut details = Details {
        last_exit: s.last_exit.as_ref().map(|e| e.exit.to_string()),
        gateway_pid: s.phase.pid().or(s.last_exit.as_ref().map(|e| e.pid)),
        restarts_in_window: Some(s.crashes.len() as u64),
        reason: Some(summary.clone()),
        ..Details::default()
    };
    if *about == AlertAbout::Pause
        && let Some(p) = &s.pause
    {
        details.reason = Some(p.reason.clone());
        details.last_lines = p.last_lines.clone();
        details.resume_command = Some(resume_cmd.to_string());
        if let Some(e) = &p.last_exit {
            details.last_exit = Some(e.exit.to_string());
            details.gateway_pid = Some(e.pid);
        }
    }
    Alert::new(kind, severity, subject, summary).with_details(details)
}

/// The recovery of what `about` alerted about.
pub fn resolved_for(about: &AlertAbout, summary: String) -> Alert {
    let (kind, _, subject) = classify(about);
    Alert::resolved(kind, subject, summary)
}

/// (kind, severity, subject) of what an alert is about.
fn classify(about: &AlertAbout) -> (String, Severity, String) {
    match about {
        AlertAbout::Pause => ("pause".into(), Severity::Critical, GATEWAY.into()),
        AlertAbout::Crash => ("crash".into(), Severity::Warning, GATEWAY.into()),
        AlertAbout::Restart => ("restart".into(), Severity::Warning, GATEWAY.into()),
        AlertAbout::Exit => ("exit".into(), Severity::Critical, GATEWAY.into()),
        AlertAbout::Stop => ("stop".into(), Severity::Warning, GATEWAY.into()),
        AlertAbout::Trouble { source } => (kind_of(source), Severity::Warning, source.clone()),
    }
}

/// The alert kind of a watcher's or probe's source: "probes.liveness" is a "probe",
/// "logs.pattern:oom" a "pattern", "memory" a "memory".
pub fn kind_of(source: &str) -> String {
    if source.starts_with("probes.") {
        return "probe".into();
    }
    if source.starts_with("logs.pattern") {
        return "pattern".into();
    }
    source
        .split(['.', ':'])
        .next()
        .unwrap_or(source)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_map_to_kinds() {
        assert_eq!(kind_of("probes.liveness"), "probe");
        assert_eq!(kind_of("probes.exec.db"), "probe");
        assert_eq!(kind_of("logs.pattern:oom"), "pattern");
        assert_eq!(kind_of("logs"), "logs");
        assert_eq!(kind_of("memory"), "memory");
        assert_eq!(kind_of("quality"), "quality");
    }
}
