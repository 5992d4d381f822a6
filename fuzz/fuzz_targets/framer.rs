#![no_main]
// See src/fuzzing/framer.rs for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| clawvisor::fuzzing::framer::check(data));
