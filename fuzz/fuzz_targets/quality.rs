#![no_main]
// See src/fuzzing/quality.rs for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| clawvisor::fuzzing::quality::check(data));
