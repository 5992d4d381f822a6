//! Relative paths in a config file mean "next to this file", not "wherever clawvisor was
//! started" (under systemd that is `/`): `[logs] dir = "logs"` beside `/etc/clawvisor/x.toml`
//! is `/etc/clawvisor/logs`.

use std::path::{Path, PathBuf};

use super::Config;

fn anchor(p: &mut PathBuf, base: &Path) {
    if p.is_relative() && !p.as_os_str().is_empty() {
        *p = base.join(&*p);
    }
}

impl Config {
    /// Makes every relative path absolute against `base` (the config file's directory):
    /// `[state] dir`, `[logs] dir`, `[control] socket`, `[gateway] cwd`,
    /// `[probes.completion] token_file`, `[quality] tests`.
    pub(super) fn resolve_relative(&mut self, base: &Path) {
        anchor(&mut self.state.dir, base);
        anchor(&mut self.logs.dir, base);
        for p in [
            self.control.socket.as_mut(),
            self.gateway.cwd.as_mut(),
            self.quality.tests.as_mut(),
            self.probes
                .completion
                .as_mut()
                .and_then(|c| c.token_file.as_mut()),
        ]
        .into_iter()
        .flatten()
        {
            anchor(p, base);
        }
    }
}
