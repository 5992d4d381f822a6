//! `decide()` without processes or sleeps: the clock is a value.

use std::time::Duration;

use super::*;
use crate::config::{RestartConfig, RestartPolicy, StopConfig};

fn rules() -> Rules {
    Rules::new(&RestartConfig::default(), &StopConfig::default())
}

struct Sim {
    s: State,
    now: Now,
}

impl Sim {
    fn new(rules: Rules) -> Sim {
        let mut sim = Sim {
            s: State::new(rules, 7),
            now: Now::real(),
        };
        assert_eq!(
            sim.ev(Event::Boot {
                persisted_pause: None
            }),
            [Action::Spawn]
        );
        sim
    }
    fn ev(&mut self, e: Event) -> Vec<Action> {
        let (s, a) = decide(&self.s, e, self.now);
        self.s = s;
        a
    }
    fn wait(&mut self, d: Duration) -> Vec<Action> {
        self.now = self.now.after(d);
        self.ev(Event::Tick)
    }
    fn spawned(&mut self, pid: i32) {
        assert!(self.ev(Event::Spawned { pid }).is_empty());
        assert!(matches!(self.s.phase, Phase::Running { .. }));
    }
    /// Crash after `uptime`; returns the backoff delay chosen.
    fn crash(&mut self, pid: i32, uptime: Duration) -> Option<Duration> {
        self.now = self.now.after(uptime);
        let a = self.ev(Event::Exited {
            pid,
            exit: Exit::Code(1),
        });
        assert_eq!(a[0], Action::KillStragglers);
        match self.s.phase {
            Phase::Backoff { delay, .. } => Some(delay),
            _ => None,
        }
    }
    fn is_paused(&self) -> bool {
        self.s.phase == Phase::Paused && self.s.pause.is_some()
    }
}

fn has_spawn(a: &[Action]) -> bool {
    a.contains(&Action::Spawn)
}

#[test]
fn backoff_doubles_with_bounded_jitter_then_restarts_on_time() {
    let mut r = rules();
    r.restart.max_restarts = 100;
    let mut sim = Sim::new(r);
    let expected = [
        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0,
    ];
    for (pid, base) in (100..).zip(expected) {
        sim.spawned(pid);
        let d = sim
            .crash(pid, Duration::from_secs(1))
            .unwrap()
            .as_secs_f64();
        assert!(
            (base * 0.9..=base * 1.1).contains(&d),
            "delay {d} for base {base}"
        );
        // Not a moment before the delay...
        assert!(!has_spawn(&sim.wait(Duration::from_secs_f64(d * 0.99))));
        // ...and right after it.
        assert!(has_spawn(&sim.wait(Duration::from_secs_f64(d * 0.02))));
    }
    assert_eq!(sim.s.restarts, expected.len() as u64);
}

#[test]
fn healthy_uptime_resets_the_backoff() {
    let mut sim = Sim::new(rules());
    sim.spawned(1);
    sim.crash(1, Duration::from_secs(1)).unwrap();
    sim.wait(Duration::from_secs(2));
    sim.spawned(2);
    let d = sim.crash(2, Duration::from_secs(1)).unwrap();
    assert!(
        d >= Duration::from_secs_f64(1.8),
        "second failure doubles: {d:?}"
    );
    sim.wait(Duration::from_secs(3));
    sim.spawned(3);
    // Ran past reset_after (10m): back to `initial`.
    let d = sim.crash(3, Duration::from_secs(601)).unwrap();
    assert!(d <= Duration::from_secs_f64(1.1), "reset to initial: {d:?}");
}

#[test]
fn crash_loop_pauses_after_max_restarts_within_window() {
    let mut sim = Sim::new(rules());
    for pid in 1..=5 {
        sim.spawned(pid);
        let d = sim
            .crash(pid, Duration::from_secs(2))
            .expect("restarts while under the limit");
        assert!(has_spawn(&sim.wait(d)));
    }
    sim.spawned(6);
    assert_eq!(sim.crash(6, Duration::from_secs(2)), None);
    assert!(sim.is_paused());
    let reason = &sim.s.pause.as_ref().unwrap().reason;
    assert!(reason.contains("crash loop: 6 failures"), "{reason}");
    assert_eq!(
        sim.s
            .pause
            .as_ref()
            .unwrap()
            .last_exit
            .as_ref()
            .unwrap()
            .exit,
        Exit::Code(1)
    );
    // Paused means paused: time passing starts nothing.
    assert!(sim.wait(Duration::from_secs(3600)).is_empty());
}

#[test]
fn crashes_spread_wider_than_the_window_are_not_a_loop() {
    let mut r = rules();
    r.restart.backoff.reset_after = crate::config::Dur::secs(3600);
    let mut sim = Sim::new(r);
    for pid in 1..=12 {
        sim.spawned(pid);
        let d = sim
            .crash(pid, Duration::from_secs(200))
            .expect("spread crashes keep restarting");
        sim.wait(d);
    }
}

#[test]
fn exit_78_pauses_at_once() {
    let mut sim = Sim::new(rules());
    sim.spawned(1);
    let a = sim.ev(Event::Exited {
        pid: 1,
        exit: Exit::Code(78),
    });
    assert!(sim.is_paused());
    assert!(
        a.iter()
            .any(|a| matches!(a, Action::SavePause(p) if p.reason.contains("EX_CONFIG")))
    );
    assert!(!has_spawn(&a));
}

#[test]
fn shutdown_during_backoff_exits_at_once() {
    let mut sim = Sim::new(rules());
    sim.spawned(1);
    sim.crash(1, Duration::from_secs(1)).unwrap();
    let a = sim.ev(Event::Shutdown {
        why: "SIGTERM".into(),
    });
    assert_eq!(a, [Action::Exit { code: 0 }]);
    assert!(
        sim.wait(Duration::from_secs(10)).is_empty(),
        "no restart after shutdown"
    );
}

#[test]
fn shutdown_stops_the_child_then_kills_after_timeout_and_exits_with_its_status() {
    let mut sim = Sim::new(rules());
    sim.spawned(42);
    let a = sim.ev(Event::Shutdown {
        why: "SIGTERM".into(),
    });
    assert_eq!(
        a,
        [Action::Signal {
            pid: 42,
            signal: libc::SIGTERM
        }]
    );
    assert!(sim.wait(Duration::from_secs(29)).is_empty());
    assert_eq!(
        sim.wait(Duration::from_secs(2))[1],
        Action::KillTree { pid: 42 }
    );
    let a = sim.ev(Event::Exited {
        pid: 42,
        exit: Exit::Signal(libc::SIGKILL),
    });
    assert_eq!(a, [Action::KillStragglers, Action::Exit { code: 137 }]);
}

#[test]
fn graceful_shutdown_passes_the_childs_code() {
    let mut sim = Sim::new(rules());
    sim.spawned(42);
    sim.ev(Event::Shutdown {
        why: "SIGINT".into(),
    });
    let a = sim.ev(Event::Exited {
        pid: 42,
        exit: Exit::Code(0),
    });
    assert_eq!(a.last(), Some(&Action::Exit { code: 0 }));
}

#[test]
fn second_shutdown_kills_without_waiting() {
    let mut sim = Sim::new(rules());
    sim.spawned(5);
    sim.ev(Event::Shutdown {
        why: "SIGINT".into(),
    });
    assert_eq!(
        sim.ev(Event::Shutdown {
            why: "SIGINT".into()
        }),
        [Action::KillTree { pid: 5 }]
    );
}

#[test]
fn reload_during_backoff_keeps_the_timer_and_applies_new_rules_next() {
    let mut sim = Sim::new(rules());
    sim.spawned(1);
    let d = sim.crash(1, Duration::from_secs(1)).unwrap();
    let mut r = rules();
    r.restart.backoff.initial = crate::config::Dur::secs(10);
    r.restart.backoff.jitter = 0.0;
    assert!(sim.ev(Event::Reload(Box::new(r))).is_empty());
    assert!(
        matches!(sim.s.phase, Phase::Backoff { .. }),
        "still waiting"
    );
    assert!(has_spawn(&sim.wait(d)));
    sim.spawned(2);
    // Second failure with the new rules: 10s * 2.
    assert_eq!(
        sim.crash(2, Duration::from_secs(1)),
        Some(Duration::from_secs(20))
    );
}

#[test]
fn clean_exit_after_a_restart_request_restarts_at_once_without_penalty() {
    let mut sim = Sim::new(rules());
    sim.spawned(9);
    assert_eq!(
        sim.ev(Event::Forward {
            signal: libc::SIGUSR2
        }),
        [Action::Signal {
            pid: 9,
            signal: libc::SIGUSR2
        }]
    );
    let a = sim.ev(Event::Exited {
        pid: 9,
        exit: Exit::Code(0),
    });
    assert!(has_spawn(&a));
    assert_eq!(sim.s.failures, 0);
    assert!(sim.s.crashes.is_empty());
    // A later unrequested clean exit is a normal failure again.
    sim.spawned(10);
    assert!(sim.crash(10, Duration::from_secs(1)).is_some());
}

#[test]
fn failed_exit_after_a_restart_request_still_backs_off() {
    let mut sim = Sim::new(rules());
    sim.spawned(9);
    sim.ev(Event::Forward {
        signal: libc::SIGUSR2,
    });
    assert!(sim.crash(9, Duration::from_secs(1)).is_some());
}

#[test]
fn policies_on_failure_and_never() {
    let mut r = rules();
    r.restart.policy = RestartPolicy::OnFailure;
    let mut sim = Sim::new(r);
    sim.spawned(1);
    assert!(
        sim.crash(1, Duration::from_secs(1)).is_some(),
        "failure restarts"
    );
    sim.wait(Duration::from_secs(2));
    sim.spawned(2);
    let a = sim.ev(Event::Exited {
        pid: 2,
        exit: Exit::Code(0),
    });
    assert_eq!(a.last(), Some(&Action::Exit { code: 0 }));

    let mut r = rules();
    r.restart.policy = RestartPolicy::Never;
    let mut sim = Sim::new(r);
    sim.spawned(1);
    let a = sim.ev(Event::Exited {
        pid: 1,
        exit: Exit::Signal(libc::SIGSEGV),
    });
    assert_eq!(
        a.last(),
        Some(&Action::Exit {
            code: 128 + libc::SIGSEGV
        })
    );
}

#[test]
fn spawn_failures_count_towards_the_crash_loop() {
    let mut sim = Sim::new(rules());
    for _ in 0..5 {
        sim.ev(Event::SpawnFailed {
            error: "No such file".into(),
        });
        let Phase::Backoff { delay, .. } = sim.s.phase else {
            panic!("{:?}", sim.s.phase)
        };
        sim.wait(delay);
    }
    sim.ev(Event::SpawnFailed {
        error: "No such file".into(),
    });
    assert!(sim.is_paused());
    assert!(
        sim.s
            .pause
            .as_ref()
            .unwrap()
            .reason
            .contains("No such file")
    );
}

#[test]
fn persisted_pause_keeps_the_child_down_until_resume() {
    let mut sim = Sim {
        s: State::new(rules(), 1),
        now: Now::real(),
    };
    let pause = PauseRecord {
        reason: "crash loop".into(),
        since: sim.now.wall,
        last_exit: None,
        last_lines: vec![],
    };
    let a = sim.ev(Event::Boot {
        persisted_pause: Some(pause),
    });
    assert!(!has_spawn(&a));
    assert!(sim.is_paused());
    assert!(sim.wait(Duration::from_secs(999)).is_empty());
    let a = sim.ev(Event::Command(Command::Resume));
    assert!(a.contains(&Action::ClearPause) && has_spawn(&a));
    assert!(matches!(a.last(), Some(Action::Reply(Ok(_)))));
}

#[test]
fn pause_stops_gracefully_and_resume_clears_the_crash_count() {
    let mut sim = Sim::new(rules());
    sim.spawned(1);
    sim.crash(1, Duration::from_secs(1));
    sim.wait(Duration::from_secs(2));
    sim.spawned(2);
    let a = sim.ev(Event::Command(Command::Pause {
        reason: Some("look at the GPU".into()),
    }));
    assert!(a.contains(&Action::Signal {
        pid: 2,
        signal: libc::SIGTERM
    }));
    let a = sim.ev(Event::Exited {
        pid: 2,
        exit: Exit::Code(0),
    });
    assert!(!has_spawn(&a));
    assert!(sim.is_paused());
    assert!(matches!(
        sim.ev(Event::Command(Command::Start)).last(),
        Some(Action::Reply(Err(_)))
    ));
    sim.ev(Event::Command(Command::Resume));
    assert_eq!((sim.s.failures, sim.s.crashes.len()), (0, 0));
}

#[test]
fn stop_holds_until_start_and_restart_is_immediate() {
    let mut sim = Sim::new(rules());
    sim.spawned(1);
    sim.ev(Event::Command(Command::Restart));
    let a = sim.ev(Event::Exited {
        pid: 1,
        exit: Exit::Code(0),
    });
    assert!(has_spawn(&a), "ctl restart starts again without backoff");
    sim.spawned(2);
    sim.ev(Event::Command(Command::Stop));
    let a = sim.ev(Event::Exited {
        pid: 2,
        exit: Exit::Code(0),
    });
    assert!(!has_spawn(&a));
    assert_eq!(sim.s.phase, Phase::Down);
    assert!(sim.wait(Duration::from_secs(999)).is_empty());
    assert!(has_spawn(&sim.ev(Event::Command(Command::Start))));
}

#[test]
fn stop_during_backoff_cancels_the_restart() {
    let mut sim = Sim::new(rules());
    sim.spawned(1);
    sim.crash(1, Duration::from_secs(1));
    sim.ev(Event::Command(Command::Stop));
    assert!(sim.wait(Duration::from_secs(60)).is_empty());
}

#[test]
fn trouble_restart_is_graceful_and_bounded_by_the_crash_loop() {
    let mut sim = Sim::new(rules());
    for pid in 1..=5 {
        sim.spawned(pid);
        let a = sim.ev(Event::Trouble {
            source: "memory".into(),
            reason: "RSS 13GiB above 12GiB".into(),
            reaction: Reaction::Restart,
        });
        assert!(a.contains(&Action::Signal {
            pid,
            signal: libc::SIGTERM
        }));
        assert!(has_spawn(&sim.ev(Event::Exited {
            pid,
            exit: Exit::Code(0)
        })));
    }
    sim.spawned(6);
    sim.ev(Event::Trouble {
        source: "memory".into(),
        reason: "RSS 13GiB above 12GiB".into(),
        reaction: Reaction::Restart,
    });
    sim.ev(Event::Exited {
        pid: 6,
        exit: Exit::Code(0),
    });
    assert!(sim.is_paused());
}

#[test]
fn stale_exit_events_are_ignored() {
    let mut sim = Sim::new(rules());
    sim.spawned(2);
    assert!(
        sim.ev(Event::Exited {
            pid: 1,
            exit: Exit::Code(1)
        })
        .is_empty()
    );
    assert!(matches!(sim.s.phase, Phase::Running { pid: 2, .. }));
}

#[test]
fn a_child_spawned_after_the_plan_changed_is_killed() {
    let mut sim = Sim::new(rules());
    sim.ev(Event::Command(Command::Pause { reason: None }));
    assert!(sim.is_paused());
    assert_eq!(
        sim.ev(Event::Spawned { pid: 3 }),
        [Action::KillTree { pid: 3 }]
    );
    assert!(sim.is_paused());
}

#[test]
fn ready_marks_only_the_current_child() {
    let mut sim = Sim::new(rules());
    sim.spawned(7);
    assert!(sim.ev(Event::Ready { pid: 6 }).is_empty());
    assert!(matches!(sim.s.phase, Phase::Running { ready: false, .. }));
    assert!(sim.ev(Event::Ready { pid: 7 }).is_empty());
    assert!(matches!(sim.s.phase, Phase::Running { ready: true, .. }));
}

#[test]
fn alerts_say_what_they_are_about_and_a_cleared_trouble_resolves() {
    let mut sim = Sim::new(rules());
    sim.spawned(1);
    let a = sim.ev(Event::Exited {
        pid: 1,
        exit: Exit::Code(1),
    });
    assert!(
        a.iter().any(|x| matches!(
            x,
            Action::Alert {
                about: AlertAbout::Crash,
                ..
            }
        )),
        "{a:?}"
    );
    let a = sim.ev(Event::Command(Command::Pause { reason: None }));
    assert!(
        a.iter().any(|x| matches!(
            x,
            Action::Alert {
                about: AlertAbout::Pause,
                ..
            }
        )),
        "{a:?}"
    );
    let a = sim.ev(Event::Trouble {
        source: "memory".into(),
        reason: "high".into(),
        reaction: Reaction::Alert,
    });
    assert_eq!(
        a,
        [Action::Alert {
            about: AlertAbout::Trouble {
                source: "memory".into()
            },
            summary: "memory: high".into()
        }]
    );
    let a = sim.ev(Event::Cleared {
        source: "memory".into(),
        reason: "back under".into(),
    });
    assert_eq!(
        a,
        [Action::Resolved {
            about: AlertAbout::Trouble {
                source: "memory".into()
            },
            summary: "memory: back under".into()
        }]
    );
}

#[test]
fn restarts_are_counted_by_reason() {
    let mut r = rules();
    r.restart.max_restarts = 100;
    let mut sim = Sim::new(r);
    sim.spawned(1);
    let delay = sim.crash(1, Duration::from_secs(1)).unwrap();
    assert!(has_spawn(&sim.wait(delay)));
    sim.spawned(2);
    sim.ev(Event::Exited {
        pid: 2,
        exit: Exit::Signal(libc::SIGKILL),
    });
    let Phase::Backoff { delay, .. } = sim.s.phase else {
        panic!("{:?}", sim.s.phase)
    };
    assert!(has_spawn(&sim.wait(delay)));
    sim.spawned(3);
    sim.ev(Event::Trouble {
        source: "probes.liveness".into(),
        reason: "3 failures".into(),
        reaction: Reaction::Restart,
    });
    assert!(has_spawn(&sim.ev(Event::Exited {
        pid: 3,
        exit: Exit::Code(0)
    })));
    sim.spawned(4);
    sim.ev(Event::Command(Command::Restart));
    assert!(has_spawn(&sim.ev(Event::Exited {
        pid: 4,
        exit: Exit::Code(0)
    })));
    let by: Vec<(&str, u64)> = sim
        .s
        .restarts_by_reason
        .iter()
        .map(|(k, v)| (*k, *v))
        .collect();
    assert_eq!(
        by,
        [("crash", 1), ("operator", 1), ("probe", 1), ("signal", 1)]
    );
    assert_eq!(sim.s.restarts, 4);
}

#[test]
fn restart_while_starting_is_carried_out_once_started() {
    let mut sim = Sim::new(rules());
    assert_eq!(sim.s.phase, Phase::Starting);
    let a = sim.ev(Event::Command(Command::Restart));
    assert_eq!(
        a,
        [Action::Reply(Ok(
            "restarting once the gateway has started".into()
        ))]
    );
    let a = sim.ev(Event::Spawned { pid: 5 });
    assert!(
        matches!(a[..], [Action::Signal { pid: 5, .. }]),
        "stops the new child: {a:?}"
    );
    assert!(matches!(
        sim.s.phase,
        Phase::Stopping {
            then: AfterStop::Restart,
            ..
        }
    ));
    let a = sim.ev(Event::Exited {
        pid: 5,
        exit: Exit::Code(0),
    });
    assert!(has_spawn(&a), "{a:?}");
    // Once: the next start is not restarted again.
    sim.spawned(6);
}
