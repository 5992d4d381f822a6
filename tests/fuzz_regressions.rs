//! Replays every kept fuzz input (`fuzz/seeds/` and the crashes found, `fuzz/regressions/`)
//! through the same checks the fuzz targets run, so what the fuzzer once found stays fixed
//! and the checks themselves run on every `cargo test`.

use std::path::Path;

use clawvisor::fuzzing::TARGETS;

#[test]
fn every_kept_fuzz_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, check) in TARGETS {
        let mut replayed = 0;
        for dir in ["seeds", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.file_name().is_some_and(|n| n == ".gitkeep") {
                    continue;
                }
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| check(&data));
                assert!(outcome.is_ok(), "{} fails target {name}", path.display());
                replayed += 1;
            }
        }
        assert!(replayed > 0, "no kept inputs for fuzz target {name}");
    }
}
