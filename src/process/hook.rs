//! Alert hooks (exec channels) run as auxiliary commands: spawned by the spawner, reaped by
//! the one reaper, their group killed at the timeout.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::aux::AuxRunner;
use crate::alerts::{HookResult, HookRunner};
use crate::supervisor::Exit;

impl HookRunner for AuxRunner {
    fn run_hook(
        &self,
        argv: Vec<String>,
        env: Vec<(String, String)>,
        stdin: Vec<u8>,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = HookResult> + Send>> {
        let me = self.clone();
        Box::pin(async move {
            let (exit, output) = me.run_with_input(argv, env, stdin, timeout).await?;
            Ok((exit == Exit::Code(0), exit.to_string(), output))
        })
    }
}
