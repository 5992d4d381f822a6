#![no_main]
// See src/fuzzing/config.rs for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| clawvisor::fuzzing::config::check(data));
