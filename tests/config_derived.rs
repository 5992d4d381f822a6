//! Defaults never make a user's own key an error: `clawvisor check` accepts a config whose
//! only memory line is `restart_above`, and names both keys with their places when the user
//! wrote both the wrong way round.

mod common;

use common::run_cli;

fn check(body: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clawvisor.toml");
    std::fs::write(&path, body).unwrap();
    let (code, out, err) = run_cli(&["check", "--config", &path.display().to_string()]);
    (code, out, err.replace(&path.display().to_string(), "FILE"))
}

#[test]
fn only_restart_above_is_accepted_and_warn_above_follows_it() {
    let (code, out, err) = check("[memory]\nrestart_above = \"400MiB\"\n");
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = check("[memory]\nrestart_above = \"6GiB\"\n");
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn both_written_the_wrong_way_round_names_both_places() {
    let (code, _, err) = check("[memory]\nwarn_above = \"8GiB\"\nrestart_above = \"6GiB\"\n");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "memory.warn_above at FILE:2:14: 8.0 GiB is above memory.restart_above (6.0 GiB)"
        ) && err.contains("(memory.restart_above at FILE:3:17)"),
        "{err}"
    );
}
