//! Properties of `decide()` over random event sequences and clock steps (proptest).
//!
//! A small model of the world drives the brain the way the runner does: a `Spawn` action is
//! carried out later (a `SpawnNow` that only spawns while the phase is still `Starting`),
//! children exit on their own or when signalled, time advances and the wall clock jumps. After
//! every step the invariants that a person relies on are checked:
//! - never two children: a new child is only adopted when no other one is alive and unkilled;
//! - never a spawn while paused, stopping, stopped or exiting;
//! - the backoff exponent only grows, except after a healthy uptime or a resume, and every
//!   delay lies within [initial·(1−jitter), max·(1+jitter)];
//! - every pause has a reason and a persisted record (`SavePause`, or one loaded at boot);
//! - every stop ends in an exit: once the child is killed, time alone leaves `Stopping`;
//! - a shutdown always wins: no spawn after it, and it ends in exactly one `Exit`.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::*;
use crate::config::{RestartConfig, RestartPolicy, StopConfig};

#[derive(Clone, Debug)]
enum Op {
    /// The runner gets to a wanted spawn (after any VRAM wait); it may fail.
    SpawnNow {
        ok: bool,
    },
    /// The live child exits on its own.
    ChildExits {
        how: u8,
    },
    /// A signalled child finally exits (its group got TERM or KILL).
    SignalledChildExits,
    /// Monotonic time passes, then the deadline tick.
    Advance {
        ms: u32,
    },
    /// The wall clock steps (NTP, a restored VM); monotonic time does not.
    WallStep {
        secs: i32,
    },
    Ready,
    Pause,
    Resume,
    Restart,
    Stop,
    Start,
    Usr2,
    Trouble {
        reaction: u8,
    },
    Shutdown,
    Reload {
        policy: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<bool>().prop_map(|ok| Op::SpawnNow { ok }),
        3 => any::<u8>().prop_map(|how| Op::ChildExits { how }),
        3 => Just(Op::SignalledChildExits),
        4 => (0u32..700_000).prop_map(|ms| Op::Advance { ms }),
        1 => (-86_400i32..86_400).prop_map(|secs| Op::WallStep { secs }),
        2 => Just(Op::Ready),
        1 => Just(Op::Pause),
        1 => Just(Op::Resume),
        1 => Just(Op::Restart),
        1 => Just(Op::Stop),
        1 => Just(Op::Start),
        1 => Just(Op::Usr2),
        2 => any::<u8>().prop_map(|reaction| Op::Trouble { reaction }),
        1 => Just(Op::Shutdown),
        1 => any::<u8>().prop_map(|policy| Op::Reload { policy }),
    ]
}

fn rules_for(policy: u8) -> Rules {
    let restart = RestartConfig {
        policy: match policy % 3 {
            0 => RestartPolicy::Always,
            1 => RestartPolicy::OnFailure,
            _ => RestartPolicy::Never,
        },
        ..RestartConfig::default()
    };
    Rules::new(&restart, &StopConfig::default())
}

/// The world around the brain: which children exist, and what the brain has said so far.
struct World {
    s: State,
    now: Now,
    next_pid: i32,
    /// Children alive in the world that nobody has SIGKILLed.
    alive: BTreeSet<i32>,
    /// Children that got a SIGKILL (or a stop signal) and will exit when the model says so.
    signalled: BTreeSet<i32>,
    /// A pause the brain has persisted and not cleared (reason).
    persisted: Option<String>,
    shutdown_seen: bool,
    exits: u32,
}

impl World {
    fn boot(policy: u8, persisted: Option<String>) -> World {
        let mut w = World {
            s: State::new(rules_for(policy), 11),
            now: Now::real(),
            next_pid: 100,
            alive: BTreeSet::new(),
            signalled: BTreeSet::new(),
            persisted: None,
            shutdown_seen: false,
            exits: 0,
        };
        let persisted_pause = persisted.map(|reason| {
            w.persisted = Some(reason.clone());
            PauseRecord {
                reason,
                since: SystemTime::UNIX_EPOCH,
                last_exit: None,
                last_lines: Vec::new(),
            }
        });
        w.feed(Event::Boot { persisted_pause });
        w
    }

    /// Feeds one event and checks every invariant on what comes out.
    fn feed(&mut self, event: Event) {
        let before = self.s.clone();
        let label = format!("{event:?}");
        if let Event::Shutdown { .. } = event {
            self.shutdown_seen = true;
        }
        let adopting = matches!(event, Event::Spawned { .. }) && before.phase == Phase::Starting;
        if adopting {
            assert!(
                self.alive.is_empty(),
                "a second child adopted while {:?} is alive and unkilled (after {label})",
                self.alive
            );
        }
        let (next, actions) = decide(&before, event.clone(), self.now);
        self.s = next;
        for a in &actions {
            match a {
                Action::Spawn => {
                    assert_eq!(
                        self.s.phase,
                        Phase::Starting,
                        "Spawn while not starting (after {label})"
                    );
                    assert!(!self.shutdown_seen, "Spawn after a shutdown ({label})");
                }
                Action::Signal { pid, .. } if self.alive.contains(pid) => {
                    self.signalled.insert(*pid);
                }
                Action::KillTree { pid } => {
                    self.alive.remove(pid);
                    self.signalled.insert(*pid);
                }
                Action::SavePause(r) => {
                    assert!(!r.reason.trim().is_empty(), "a pause without a reason");
                    self.persisted = Some(r.reason.clone());
                }
                Action::ClearPause => self.persisted = None,
                Action::Exit { .. } => self.exits += 1,
                _ => {}
            }
        }
        if let Event::Spawned { pid } = event
            && !actions.contains(&Action::KillTree { pid })
        {
            self.alive.insert(pid);
        }
        self.check_pause(&label);
        self.check_backoff(&before, &event, &label);
        assert!(self.exits <= 1, "more than one Exit");
        if let Some(pid) = self.s.phase.pid() {
            assert!(
                self.alive.contains(&pid) || self.signalled.contains(&pid),
                "the phase names pid {pid}, which the world never started ({label})"
            );
        }
    }

    fn check_pause(&self, label: &str) {
        if self.s.phase == Phase::Paused {
            let p = self.s.pause.as_ref().expect("paused without a record");
            assert!(!p.reason.trim().is_empty(), "paused without a reason");
            assert_eq!(
                self.persisted.as_deref(),
                Some(p.reason.as_str()),
                "paused with a record that was never persisted (after {label})"
            );
        }
    }

    fn check_backoff(&self, before: &State, event: &Event, label: &str) {
        let b = &self.s.rules.restart.backoff;
        if self.s.failures < before.failures {
            let healthy = match event {
                Event::Exited { .. } => before.started.is_some_and(|t| {
                    self.now.mono.saturating_duration_since(t) >= b.reset_after.get()
                }),
                Event::Command(Command::Resume) => true,
                _ => false,
            };
            assert!(
                healthy,
                "backoff reset from {} to {} without a healthy uptime or a resume ({label})",
                before.failures, self.s.failures
            );
        }
        if let Phase::Backoff { delay, .. } = self.s.phase
            && !matches!(before.phase, Phase::Backoff { .. })
        {
            let lo = b.initial.get().as_secs_f64() * (1.0 - b.jitter) - 1e-6;
            let hi = b.max.get().as_secs_f64() * (1.0 + b.jitter) + 1e-6;
            let d = delay.as_secs_f64();
            assert!(lo <= d && d <= hi, "backoff {d}s outside [{lo}, {hi}]");
            let base = backoff::base_delay(b, self.s.failures).as_secs_f64();
            let prev = backoff::base_delay(b, self.s.failures.saturating_sub(1)).as_secs_f64();
            assert!(base >= prev, "the base delay shrank as failures grew");
        }
    }

    fn live_pid(&self) -> Option<i32> {
        self.alive.iter().next().copied()
    }

    fn exit_of(how: u8) -> Exit {
        match how % 6 {
            0 => Exit::Code(0),
            1 => Exit::Code(1),
            2 => Exit::Code(78),
            3 => Exit::Signal(libc::SIGKILL),
            4 => Exit::Signal(libc::SIGSEGV),
            _ => Exit::Code(137),
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::SpawnNow { ok } => {
                // The runner spawns only while a start is still wanted.
                if self.s.phase == Phase::Starting {
                    if ok {
                        self.next_pid += 1;
                        let pid = self.next_pid;
                        self.feed(Event::Spawned { pid });
                    } else {
                        self.feed(Event::SpawnFailed {
                            error: "not found".into(),
                        });
                    }
                }
            }
            Op::ChildExits { how } => {
                if let Some(pid) = self.live_pid() {
                    self.alive.remove(&pid);
                    self.feed(Event::Exited {
                        pid,
                        exit: World::exit_of(how),
                    });
                }
            }
            Op::SignalledChildExits => {
                if let Some(&pid) = self.signalled.iter().next() {
                    self.signalled.remove(&pid);
                    self.alive.remove(&pid);
                    self.feed(Event::Exited {
                        pid,
                        exit: Exit::Signal(libc::SIGTERM),
                    });
                }
            }
            Op::Advance { ms } => {
                self.now = self.now.after(Duration::from_millis(ms as u64));
                self.feed(Event::Tick);
            }
            Op::WallStep { secs } => {
                let step = Duration::from_secs(secs.unsigned_abs() as u64);
                self.now.wall = if secs < 0 {
                    self.now.wall - step
                } else {
                    self.now.wall + step
                };
                self.feed(Event::Tick);
            }
            Op::Ready => {
                if let Some(pid) = self.s.phase.pid() {
                    self.feed(Event::Ready { pid });
                }
            }
            Op::Pause => self.feed(Event::Command(Command::Pause { reason: None })),
            Op::Resume => self.feed(Event::Command(Command::Resume)),
            Op::Restart => self.feed(Event::Command(Command::Restart)),
            Op::Stop => self.feed(Event::Command(Command::Stop)),
            Op::Start => self.feed(Event::Command(Command::Start)),
            Op::Usr2 => self.feed(Event::Forward {
                signal: libc::SIGUSR2,
            }),
            Op::Trouble { reaction } => {
                let reaction = match reaction % 3 {
                    0 => Reaction::Alert,
                    1 => Reaction::Restart,
                    _ => Reaction::Pause,
                };
                self.feed(Event::Trouble {
                    source: "memory".into(),
                    reason: "rss above restart_above".into(),
                    reaction,
                });
            }
            Op::Shutdown => self.feed(Event::Shutdown {
                why: "SIGTERM".into(),
            }),
            Op::Reload { policy } => self.feed(Event::Reload(Box::new(rules_for(policy)))),
        }
    }

    /// A shutdown, then the world does only what it must: signalled children exit
    /// eventually, time passes. clawvisor must reach exactly one `Exit`.
    fn drain_to_exit(&mut self) {
        self.feed(Event::Shutdown {
            why: "SIGTERM".into(),
        });
        for _ in 0..8 {
            if matches!(self.s.phase, Phase::Exiting { .. }) {
                break;
            }
            // A TERMed child may ignore it; time alone must end the stop.
            let stop = self.s.rules.stop_timeout + state::KILL_GRACE + Duration::from_secs(1);
            self.now = self.now.after(stop);
            self.feed(Event::Tick);
        }
        assert!(
            matches!(self.s.phase, Phase::Exiting { .. }),
            "still {:?} after a shutdown and the stop timeouts",
            self.s.phase
        );
        assert_eq!(self.exits, 1, "a shutdown must end in exactly one Exit");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn invariants_hold_over_random_histories(
        policy in 0u8..3,
        boot_paused in any::<bool>(),
        ops in proptest::collection::vec(op(), 0..120),
    ) {
        let persisted = boot_paused.then(|| "crash loop: 6 failures within 10m".to_string());
        let mut w = World::boot(policy, persisted);
        for op in ops {
            if matches!(w.s.phase, Phase::Exiting { .. }) {
                break;
            }
            w.apply(op);
        }
        if !matches!(w.s.phase, Phase::Exiting { .. }) {
            w.drain_to_exit();
        }
    }

    /// Every stop ends: a child that ignores its stop signal is killed at the timeout, and
    /// one that survives SIGKILL is given up after the grace, whatever the wall clock does.
    #[test]
    fn every_stop_ends_without_the_child_cooperating(
        reason in 0u8..3,
        wall_steps in proptest::collection::vec(-86_400i32..86_400, 0..4),
    ) {
        let mut w = World::boot(0, None);
        w.apply(Op::SpawnNow { ok: true });
        match reason {
            0 => w.apply(Op::Stop),
            1 => w.apply(Op::Restart),
            _ => w.apply(Op::Pause),
        }
        let stopping = matches!(w.s.phase, Phase::Stopping { .. });
        prop_assert!(stopping, "not stopping: {:?}", w.s.phase);
        for secs in wall_steps {
            w.apply(Op::WallStep { secs });
        }
        let stop = w.s.rules.stop_timeout + state::KILL_GRACE + Duration::from_secs(1);
        for _ in 0..3 {
            w.now = w.now.after(stop);
            w.feed(Event::Tick);
        }
        let stopped = !matches!(w.s.phase, Phase::Stopping { .. });
        prop_assert!(stopped, "stuck in {:?}", w.s.phase);
    }
}
