#![no_main]
// See src/fuzzing/schedule.rs for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| clawvisor::fuzzing::schedule::check(data));
